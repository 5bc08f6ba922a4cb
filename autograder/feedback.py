"""Per-student feedback that says, for each test cell, passed or failed and the visible message,
and never shows a test cell's source (nbgrader's own feedback shows hidden tests)."""

import html
from pathlib import Path

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left;
         vertical-align: top; }
td.msg { font-family: ui-monospace, monospace; white-space: pre-wrap; }
.passed { color: #1a7f37; } .failed { color: #cf222e; }
"""


def render(student: str, assignment: str, notebook: str, status: str, reason: str,
           score: float, max_score: float, cells: list[dict]) -> str:
    """The feedback page; ``cells`` holds ``{grade_id, points, max_points, passed, message}``."""
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{esc(c['grade_id'])}</td><td>{c['points']:g} / {c['max_points']:g}</td>"
        f"<td class=\"{'passed' if c['passed'] else 'failed'}\">"
        f"{'passed' if c['passed'] else 'failed'}</td>"
        f"<td class=\"msg\">{esc(c['message'])}</td></tr>"
        for c in cells
    )
    note = f"<p><strong>{esc(status)}</strong>: {esc(reason)}</p>" if reason else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(assignment)} / {esc(notebook)}: {esc(student)}</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        f"<h1>{esc(assignment)} / {esc(notebook)}</h1>\n"
        f"<p>Student <code>{esc(student)}</code>: <strong>{score:g} / {max_score:g}</strong> "
        f"points ({esc(status)}).</p>\n{note}\n"
        "<table><thead><tr><th>test</th><th>points</th><th>result</th><th>message</th></tr>"
        f"</thead><tbody>\n{rows}\n</tbody></table>\n"
        "<p>Hidden tests are not shown; a failed test's message says what was expected.</p>\n"
        "</body></html>\n"
    )


def write(folder: Path, notebook: str, page: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.html"
    path.write_text(page, encoding="utf-8")
    return path
