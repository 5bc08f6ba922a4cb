"""Per-student feedback that says, for each test cell, passed or failed and the visible message,
and never shows a test cell's source (nbgrader's own feedback shows hidden tests)."""

import html
import shutil
from pathlib import Path

from autograder.jobs import CellResult, Job, Row

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left;
         vertical-align: top; }
td.msg { font-family: ui-monospace, monospace; white-space: pre-wrap; }
.passed { color: #1a7f37; } .failed { color: #cf222e; }
"""


def render(row: Row, notebook: str, cells: list[CellResult]) -> str:
    """The feedback page of one notebook of ``row``'s submission."""
    esc = html.escape
    score, max_score = sum(c.points for c in cells), sum(c.max_points for c in cells)
    rows = "\n".join(
        f"<tr><td>{esc(c.grade_id)}</td><td>{c.points:g} / {c.max_points:g}</td>"
        f"<td class=\"{'passed' if c.passed else 'failed'}\">"
        f"{'passed' if c.passed else 'failed'}</td>"
        f"<td class=\"msg\">{esc(c.message)}</td></tr>"
        for c in cells
    )
    note = f"<p><strong>{esc(row.status)}</strong>: {esc(row.reason)}</p>" if row.reason else ""
    title = f"{esc(row.assignment)} / {esc(notebook)}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}: {esc(row.student_id)}</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        f"<h1>{title}</h1>\n"
        f"<p>Student <code>{esc(row.student_id)}</code>: <strong>{score:g} / {max_score:g}"
        f"</strong> points ({esc(row.status)}).</p>\n{note}\n"
        "<table><thead><tr><th>test</th><th>points</th><th>result</th><th>message</th></tr>"
        f"</thead><tbody>\n{rows}\n</tbody></table>\n"
        "<p>Hidden tests are not shown; a failed test's message says what was expected.</p>\n"
        "</body></html>\n"
    )


def write(job: Job, row: Row) -> Path:
    """Write the feedback pages of ``row`` (one per graded notebook) into the job's feedback
    folder, replacing what an earlier run wrote there; return the folder. A notebook that was
    not graded lists its test cells at 0, with the row's reason above them."""
    folder = Path(job.feedback_dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for notebook, expected in job.notebooks.items():
        cells = [c for c in row.cells if c.notebook == notebook] or [
            CellResult(notebook, gid, 0.0, c.points, "not graded")
            for gid, c in expected.items() if c.kind in {"test", "manual"}]
        (folder / f"{notebook}.html").write_text(render(row, notebook, cells), encoding="utf-8")
    return folder
