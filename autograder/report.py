"""The class report: what the class got right and wrong, per assignment, beside ``grades.csv``.

``report.md`` and ``report.html`` hold, per assignment: a histogram of the scores
(``report-<assignment>.png``), their mean and median, each test cell's pass rate, the named
mistakes found most often, and the notebooks that need a person (flagged, failed, timed out)
with their reasons. Scores, means and pass rates count the submissions that were scored
(``graded`` and ``flagged``); a failed or timed-out notebook was not, and is listed instead.

A named mistake comes from the message a failing test cell gave. ``course.checks`` writes
"expected <what> = <value>, got <value>: <hint>", and the hint is the mistake's name ("did you
put eps inside the square root?"), the same whatever numbers the student's answer had; a wrong
value with no hint is "a wrong value, no known mistake"; a letter answer's explanation, or the
wrong letter; an error that is not a failed check is named by its type and first line
("raised NotImplementedError", for an answer left out). Mistakes are counted per test cell;
answers left out (the stub's ``NotImplementedError``, an answer that is None) have their own
table, so that they do not crowd out the mistakes.
"""

import functools
import html
import re
import statistics
from collections import Counter
from pathlib import Path

from autograder.jobs import STDERR_NOTE, GradeCell, Row

SCORED = ("graded", "flagged")
NEEDS_A_LOOK = ("flagged", "failed", "timed_out")
NO_HINT = "a wrong value, no known mistake"
TOP_MISTAKES = 12

_EXPECTED_GOT = re.compile(r"expected .*?, got (?:.*?)(?: \(largest difference [^)]*\))?"
                           r"(?:: (?P<hint>.+))?\Z", re.DOTALL)
_NOT_RIGHT = re.compile(r"(?P<letter>'[^']*') is not right(?:: (?P<hint>.+))?\Z", re.DOTALL)
_VALUES = re.compile(r"\[[^\]]*\]|-?\b\d+\.\d+(?:e[-+]?\d+)?\b|\bnan\b|\binf\b")


def named_mistake(message: str) -> str:
    """The name of the mistake a failing test cell's message reports (see the module's
    docstring)."""
    error = message.strip().split(STDERR_NOTE)[0].strip()
    if not error:
        return "wrote to stderr (nbgrader counts a warning as a failure)"
    name, _, text = error.partition(":")
    text = text.strip()
    if name != "AssertionError":
        first = text.splitlines()[0] if text else ""
        return f"raised {name}" + (f": {first[:120]}" if first else "")
    for pattern in (_EXPECTED_GOT, _NOT_RIGHT):
        match = pattern.search(text)
        if match and match.group("hint"):
            return " ".join(match.group("hint").split())
        if match:
            return f"answered {match.group('letter')}" if pattern is _NOT_RIGHT else NO_HINT
    return " ".join(_VALUES.sub("…", text).split())[:200]


def is_left_out(mistake: str) -> bool:
    """Whether a named mistake is an answer not given: the stub's ``NotImplementedError``, or a
    check's "is None" (these are kept apart from the mistakes, which they would crowd out)."""
    return (mistake.startswith("raised NotImplementedError")
            or "is None: did you forget to `return` it" in mistake)


def write(out: Path, rows: list[Row], assignments: dict[str, dict[str, dict[str, GradeCell]]],
          ) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and a histogram per assignment into ``out``."""
    sections = [_Section(name, notebooks, [r for r in rows if r.assignment == name])
                for name, notebooks in assignments.items()
                if any(r.assignment == name for r in rows)]
    for section in sections:
        section.draw(Path(out) / section.image)
    md, page = Path(out) / "report.md", Path(out) / "report.html"
    md.write_text("# Class report\n\n" + "\n".join(s.markdown() for s in sections)
                  + ("" if sections else "No submissions.\n"))
    page.write_text(_HTML_HEAD + "<h1>Class report</h1>\n" + "\n".join(s.html() for s in sections)
                    + ("" if sections else "<p>No submissions.</p>") + "</body></html>\n")
    return md, page


class _Section:
    """One assignment's part of the report."""

    def __init__(self, name: str, notebooks: dict[str, dict[str, GradeCell]], rows: list[Row]):
        self.name, self.rows = name, rows
        self.tests = [(nb, c) for nb, cells in notebooks.items() for c in cells.values()
                      if c.kind in {"test", "manual"}]
        self.max_score = sum(c.points for _, c in self.tests)
        self.scored = [r for r in rows if r.status in SCORED]
        self.image = f"report-{name}.png"

    def counts(self) -> str:
        by_status = Counter(r.status for r in self.rows)
        parts = [f"{by_status[s]} {s.replace('_', ' ')}" for s in
                 ("graded", "flagged", "failed", "timed_out") if by_status[s]]
        return f"{len(self.rows)} submissions: {', '.join(parts)}."

    def averages(self) -> str:
        if not self.scored:
            return "No submission was scored."
        scores = [r.score for r in self.scored]
        return (f"Mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g} of "
                f"{self.max_score:g} points, over the {len(scores)} scored submissions.")

    def pass_rates(self) -> list[list[str]]:
        table = []
        for nb, cell in self.tests:
            passed = sum(any(c.notebook == nb and c.grade_id == cell.grade_id and c.passed
                             for c in r.cells) for r in self.scored)
            table.append([cell.grade_id, f"{cell.points:g}", _share(passed, len(self.scored))])
        return table

    @functools.cached_property
    def _failures(self) -> Counter:
        found = Counter()
        for row in self.scored:
            found.update({(c.grade_id, named_mistake(c.message)) for c in row.cells
                          if not c.passed and c.message})
        return found

    def mistakes(self) -> list[list[str]]:
        # the most frequent first; among equals, a named mistake before a wrong value without one
        found = sorted(((n, gid, m) for (gid, m), n in self._failures.items()
                        if not is_left_out(m)), key=lambda f: (-f[0], f[2] == NO_HINT))
        return [[_share(n, len(self.scored)), gid, m] for n, gid, m in found[:TOP_MISTAKES]]

    def left_out(self) -> list[list[str]]:
        found = Counter()
        for (gid, mistake), n in self._failures.items():
            if is_left_out(mistake):
                found[gid] += n
        return [[gid, _share(n, len(self.scored))] for gid, n in found.most_common()]

    def needing_a_look(self) -> list[list[str]]:
        return [[r.student_id, r.status.replace("_", " "), f"{r.score:g}", r.reason]
                for r in self.rows if r.status in NEEDS_A_LOOK]

    def tables(self):
        return [("Test cells", ["test cell", "points", "passed"], self.pass_rates()),
                ("Mistakes found most often", ["submissions", "test cell", "mistake"],
                 self.mistakes()),
                ("Answers left out", ["test cell", "submissions"], self.left_out()),
                ("Notebooks that need a look", ["student", "status", "score", "reason"],
                 self.needing_a_look())]

    def markdown(self) -> str:
        lines = [f"## {self.name} ({self.max_score:g} points)", "",
                 f"![score histogram]({self.image})", "", self.counts() + " " + self.averages(),
                 ""]
        for title, headers, table in self.tables():
            lines += [f"### {title}", ""]
            if not table:
                lines += ["None.", ""]
                continue
            lines += ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
            lines += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in table] + [""]
        return "\n".join(lines)

    def html(self) -> str:
        esc = html.escape
        parts = [f"<h2>{esc(self.name)} ({self.max_score:g} points)</h2>",
                 f"<img src=\"{esc(self.image)}\" alt=\"score histogram of {esc(self.name)}\">",
                 f"<p>{esc(self.counts())} {esc(self.averages())}</p>"]
        for title, headers, table in self.tables():
            parts.append(f"<h3>{esc(title)}</h3>")
            if not table:
                parts.append("<p>None.</p>")
                continue
            head = "".join(f"<th>{esc(h)}</th>" for h in headers)
            body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>"
                           for r in table)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return "\n".join(parts) + "\n"

    def draw(self, path: Path) -> None:
        from matplotlib.figure import Figure  # no pyplot: no global figure state

        figure = Figure(figsize=(6, 3), layout="constrained")
        ax = figure.add_subplot()
        edges = [x - 0.5 for x in range(int(self.max_score) + 2)]
        ax.hist([r.score for r in self.scored], bins=edges, color="#4878a8", edgecolor="white")
        ax.set(xlabel=f"score (of {self.max_score:g})", ylabel="submissions",
               title=f"{self.name}: {len(self.scored)} scored submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
        figure.savefig(path, dpi=100)


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.0f} % ({n} of {total})" if total else "-"


def _md_cell(value: str) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Class report</title><style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
</style></head><body>
"""
