"""What the parts of the grader hand each other: the limits a notebook runs under, a job (one
student's submission of one assignment), the row it gives in ``grades.csv`` with each test
cell's result, and the one error the grader raises.

The pool (:mod:`autograder.pool`), the Dask backend (:mod:`autograder.dask_backend`), the
worker, the feedback and the class report all speak these types; a job and a row cross a process
boundary as JSON (``to_json``/``from_json``), nothing else does.
"""

import json
from dataclasses import asdict, dataclass, field, replace

from autograder.inside import cell_hash

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "reason"]
# A submission's status is the worst of what happened to it, in this order.
STATUS_ORDER = ("failed", "timed_out", "flagged", "graded")
# How a cell's message says what it wrote to stderr, after its errors (autograder.worker).
STDERR_NOTE = "the cell wrote to stderr, which nbgrader counts as a failure"


class GradingError(RuntimeError):
    """The batch cannot be graded as asked (no submissions folder, no working sandbox, nbgrader
    refused); the message says why and what to do. Only the command line turns it into an exit
    status."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 120.0       # per notebook, kernel start to end
    cell_timeout_s: int = 60    # nbgrader's Execute.timeout, per cell
    memory_mb: int = 2048       # address space of each process in the sandbox
    processes: int = 64         # processes and threads of the sandbox user
    file_mb: int = 64           # largest file the student's code may write

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_AS": self.memory_mb << 20, "RLIMIT_NPROC": self.processes,
                "RLIMIT_FSIZE": self.file_mb << 20, "RLIMIT_CORE": 0}


@dataclass(frozen=True)
class GradeCell:
    """A cell of an assignment's source notebook that nbgrader tracks."""

    grade_id: str
    kind: str      # "test" (graded, locked), "solution", "manual" (graded solution), "locked"
    points: float
    source: str


@dataclass(frozen=True)
class CellResult:
    """What one graded cell of a submission earned, and what it said when it failed (never its
    source: the feedback and the report show this to people who must not see hidden tests)."""

    notebook: str
    grade_id: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.max_points > 0 and self.points >= self.max_points


@dataclass(frozen=True)
class Job:
    """One student's submission of one assignment, with everything a worker needs to grade it."""

    student: str
    assignment: str
    submission_dir: str
    notebooks: dict[str, dict[str, GradeCell]]   # notebook stem -> grade_id -> cell
    work_dir: str        # private to this job: the sandbox's settings and records
    feedback_dir: str
    limits: Limits = field(default_factory=Limits)
    digest: str = ""     # of everything the grade depends on (see autograder.cache)
    extra_read: tuple[str, ...] = ()   # more read-only folders for the kernels

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"

    @property
    def max_score(self) -> float:
        return sum(c.points for cells in self.notebooks.values() for c in cells.values())

    @property
    def test_hashes(self) -> list[str]:
        """The identities of the test cells, which the sandbox treats as trusted code."""
        return sorted({cell_hash(c.source) for cells in self.notebooks.values()
                       for c in cells.values() if c.kind == "test"})

    @property
    def deadline_s(self) -> float:
        """Seconds a worker gets for this job before the grader gives up on it: each
        notebook's wall limit, and a margin for starting and saving."""
        return self.limits.wall_s * len(self.notebooks) + 90

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        data["notebooks"] = {nb: {gid: GradeCell(**c) for gid, c in cells.items()}
                             for nb, cells in data["notebooks"].items()}
        data["limits"] = Limits(**data["limits"])
        data["extra_read"] = tuple(data["extra_read"])
        return cls(**data)


@dataclass(frozen=True)
class Row:
    """One line of ``grades.csv``, with each graded cell's result for the feedback and the
    report."""

    student_id: str
    assignment: str
    score: float
    max_score: float
    status: str          # one of STATUS_ORDER
    reason: str = ""     # why it is not simply graded, in words a person can act on
    cells: tuple[CellResult, ...] = ()

    @classmethod
    def ungraded(cls, job: Job, status: str, reason: str) -> "Row":
        """A row for a job that earned nothing: it failed, or it timed out."""
        return cls(job.student, job.assignment, 0.0, job.max_score, status, reason)

    @classmethod
    def timed_out(cls, job: Job) -> "Row":
        return cls.ungraded(job, "timed_out", "the grader gave up on this submission after "
                            f"{job.deadline_s:g} s")

    @classmethod
    def rejected(cls, student: str, assignment: str, reason: str) -> "Row":
        """A row for a folder that is not a submission the grader can take."""
        return cls(student, assignment, 0.0, 0.0, "failed", reason)

    def with_outcome(self, problems: list[tuple[str, str]]) -> "Row":
        """This row with the worst of ``problems`` (``(status, reason)`` pairs) as its status
        and all their reasons, most telling first; unchanged when there are none."""
        if not problems:
            return self
        status = min((s for s, _ in problems), key=STATUS_ORDER.index)
        return replace(self, status=status, reason=" | ".join(r for _, r in problems))

    def csv_fields(self) -> dict[str, str]:
        return {"student_id": self.student_id, "assignment": self.assignment,
                "score": f"{self.score:g}", "max_score": f"{self.max_score:g}",
                "status": self.status, "reason": self.reason}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Row":
        data = json.loads(text)
        return cls(**{**data, "cells": tuple(CellResult(**c) for c in data["cells"])})
