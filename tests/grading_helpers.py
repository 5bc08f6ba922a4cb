"""What the class-grading tests share: small limits and how to read a run's record."""

import functools
import json
import shutil
from pathlib import Path

from autograder import cache
from autograder.jobs import Limits

REPO = Path(__file__).resolve().parents[1]

# The right answers need well under a second a cell, but on a loaded machine starting a kernel
# alone can take 20 s: the wall limit of what must finish leaves room for that. What must run
# out of time (an endless loop that ignores interrupts) gets a short one, which no load changes.
LIMITS = Limits(wall_s=60, cell_timeout_s=3, memory_mb=2048)
TIMEOUT_LIMITS = Limits(wall_s=10, cell_timeout_s=3, memory_mb=2048)


def last_run(batch) -> tuple[list[str], int]:
    """What the last grading run of ``batch`` graded (``student/assignment`` keys) and how many
    rows it reused unchanged."""
    record = json.loads((batch.work / "last_run.json").read_text())
    return record["graded"], record["reused"]


def grader_copy(folder: Path, monkeypatch) -> Path:
    """A copy of the code a grade may depend on, which the grading version is then read from
    (the grading itself still runs the repository's code): a test edits the copy, never the
    repository."""
    copy = Path(folder) / "repo"
    for part in ("autograder", "coursetools", "course"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "nbgrader_config.py", copy / "nbgrader_config.py")
    monkeypatch.setattr(cache, "GRADER", copy / "autograder")
    monkeypatch.setattr(cache, "COURSE_PACKAGE", copy / "course")
    monkeypatch.setattr(cache, "NBGRADER_CONFIG", copy / "nbgrader_config.py")
    # a version cache of the test's own, dropped with the patches when the test ends
    monkeypatch.setattr(cache, "grader_version", functools.cache(cache.grader_version.__wrapped__))
    return copy


def edit(copy: Path, part: str) -> str:
    """Append a comment to ``part`` of the copy; return the grading version after it."""
    with open(copy / part, "a") as f:
        f.write("\n# an edit\n")
    cache.grader_version.cache_clear()
    return cache.grader_version()
