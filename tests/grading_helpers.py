"""What the class-grading tests share: small limits and how to read a run's record."""

import json

from autograder.jobs import Limits

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
