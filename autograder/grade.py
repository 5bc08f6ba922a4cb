"""Grade a whole class: ``python -m autograder.grade SUBMISSIONS OUT`` (``make autograde``).

SUBMISSIONS is nbgrader's layout, ``<student>/<assignment>/<notebook>.ipynb``. OUT receives

- ``grades.csv``: ``student_id,assignment,score,max_score,status,reason``, one row per
  submitted assignment; status is ``graded``, ``failed``, ``timed_out`` or ``flagged``;
- ``report.html`` and ``report.md``: the class report (:mod:`autograder.report`);
- ``canvas_gradebook_import.csv``: the graded scores, for Canvas's gradebook import;
- ``feedback/<student>/<assignment>/<notebook>.html``: passed/failed and the visible message per
  test cell, never a test's source;
- ``.work/``: the grader's private course directories and the record that makes a re-run grade
  only what changed (``--force`` grades everything again).

Assignments and their hidden tests come from ``--source`` (default: the repository's
``source/``), which is only read. A run goes through :func:`check`, :func:`load_assignments`,
:func:`discover`, :func:`plan`, :func:`run_jobs` and :func:`write_outputs`. Workers run in
parallel (default: one per core), each with its own nbgrader course directory; kernels run in
the bubblewrap sandbox of :mod:`autograder.sandbox`. With ``--dask ADDRESS`` the workers are
those of a Dask cluster (:mod:`autograder.dask_backend`).
"""

import argparse
import csv
import json
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import dask_backend, lms, report
from autograder.assignments import chapters, graded_notebooks
from autograder.cache import Cache, digest, files_of, settings_key
from autograder.course_dir import generate_assignment, make_course_dir
from autograder.jobs import COLUMNS, GradeCell, GradingError, Job, Limits, Row
from autograder.paths import RELEASE, SOURCE
from autograder.pool import Pool
from autograder.sandbox import KERNEL_NAME, check_sandbox, install_kernelspec

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")
Assignments = dict[str, dict[str, dict[str, GradeCell]]]  # name -> notebook -> grade_id -> cell


def default_workers() -> int:
    """One worker per core, and one more: a worker waits while its kernel starts and while
    nbgrader saves the notebook, and the extra one works in those gaps (on 2 cores, 3 workers
    graded a class in about a quarter less time than 2)."""
    return (os.cpu_count() or 1) + 1


@dataclass
class Batch:
    submissions: Path
    out: Path
    source: Path = SOURCE
    workers: int = field(default_factory=default_workers)
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    assignments: list[str] | None = None
    quiet: bool = False
    extra_read: list[str] = field(default_factory=list)  # more read-only folders for kernels
    scheduler: str | None = None  # a Dask scheduler's address: grade on its workers, not a Pool
    canvas_roster: Path | None = None  # a Canvas gradebook export, to name the students

    def __post_init__(self):  # workers and kernels run elsewhere: every path absolute
        self.submissions, self.out = Path(self.submissions).resolve(), Path(self.out).resolve()
        self.source = Path(self.source).resolve()

    @property
    def work(self) -> Path:
        return self.out / ".work"


def grade(batch: Batch) -> list[Row]:
    """Grade every submission of the batch; write the outputs; return the rows. Raises
    ``GradingError`` when the batch cannot be graded at all."""
    check(batch)
    batch.work.mkdir(parents=True, exist_ok=True)
    assignments = load_assignments(batch)
    submissions, rejected = discover(batch, list(assignments))
    cache = Cache(batch.work, batch.force)
    jobs, reused = plan(batch, assignments, submissions, cache)
    started = time.perf_counter()
    graded = run_jobs(batch, jobs, cache)
    rows = sorted(rejected + reused + graded, key=lambda r: (r.student_id, r.assignment))
    write_outputs(batch, rows, assignments)
    (batch.work / "last_run.json").write_text(json.dumps(
        {"graded": sorted(j.key for j in jobs), "reused": len(reused)}, indent=1))
    if not batch.quiet:
        print(summary(rows, len(jobs), len(reused), time.perf_counter() - started))
    return rows


# ---- the stages ---------------------------------------------------------------------------
def check(batch: Batch) -> None:
    """Refuse, before any grading, what cannot work: no submissions folder, or a sandbox that
    cannot start a kernel here (the Dask workers check their own)."""
    if not batch.submissions.is_dir():
        raise GradingError(f"no submissions folder {batch.submissions}: expected "
                           "<dir>/<student>/<assignment>/<notebook>.ipynb")
    if not batch.scheduler:
        check_sandbox(batch.extra_read)


def load_assignments(batch: Batch) -> Assignments:
    """The assignments of ``batch.source`` that carry points (only those asked for)."""
    names = [p.name for p in chapters(batch.source)
             if batch.assignments is None or p.name in batch.assignments]
    found = {name: graded_notebooks(batch.source / name) for name in names}
    return {name: notebooks for name, notebooks in found.items() if notebooks}


def discover(batch: Batch, known: list[str]) -> tuple[list[tuple[str, str, Path]], list[Row]]:
    """``(student, assignment, folder)`` for each submission, and rows for what cannot be one."""
    found, rejected = [], []
    for student_dir in sorted(p for p in batch.submissions.iterdir() if p.is_dir()):
        student = student_dir.name
        for folder in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if folder.name not in known:
                if batch.assignments is None and not folder.name.startswith("."):
                    rejected.append(Row.rejected(student, folder.name, "no such assignment in "
                                                 f"the source: {', '.join(known)}"))
            elif not STUDENT_ID.fullmatch(student):
                rejected.append(Row.rejected(student, folder.name,
                                             "student id must be letters, digits and _.@+-"))
            else:
                found.append((student, folder.name, folder))
    return found, rejected


def plan(batch: Batch, assignments: Assignments, submissions: list[tuple[str, str, Path]],
         cache: Cache) -> tuple[list[Job], list[Row]]:
    """A job for each submission that changed since the last run; the rows of those that did
    not (their feedback still there)."""
    settings = settings_key(batch.limits, batch.extra_read)
    sources = {name: digest(files_of(batch.source / name), batch.source, settings)
               for name in assignments}
    jobs, reused = [], []
    for student, assignment, folder in submissions:
        job = Job(student, assignment, str(folder.resolve()), assignments[assignment],
                  str((batch.work / "jobs" / student / assignment).resolve()),
                  str((batch.out / "feedback" / student / assignment).resolve()),
                  batch.limits, digest(files_of(folder), folder, sources[assignment]),
                  tuple(str(Path(p).resolve()) for p in batch.extra_read))
        row = cache.get(job.key, job.digest)
        if row is not None and Path(job.feedback_dir).exists():
            reused.append(row)
        else:
            jobs.append(job)
    return jobs, reused


def run_jobs(batch: Batch, jobs: list[Job], cache: Cache) -> list[Row]:
    """Grade the jobs on the pool of this machine or on the Dask cluster; record each row in
    the cache as it comes."""
    if not jobs:
        return []
    template = prepare_template(batch, sorted({j.assignment for j in jobs}))
    rows, lock = [], threading.Lock()
    progress = _progress(len(jobs), batch.quiet)

    def on_result(job: Job, row: Row) -> None:
        with lock:
            cache.put(job.key, job.digest, row)
            rows.append(row)
            progress.update(1)

    if batch.scheduler:
        dask_backend.run(batch.scheduler, template, batch.work, jobs, on_result)
    else:
        Pool(template, batch.work, max(1, batch.workers)).run(jobs, on_result)
    progress.close()
    return rows


def write_outputs(batch: Batch, rows: list[Row], assignments: Assignments) -> None:
    """``grades.csv``, the class report and the Canvas import, beside each other in OUT."""
    with open(batch.out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(row.csv_fields() for row in rows)
    report.write(batch.out, rows, assignments)
    roster = lms.read_canvas_roster(batch.canvas_roster) if batch.canvas_roster else None
    lms.write_canvas_import(batch.out / lms.CANVAS_FILE, rows, roster)


# ---- the template course directory ----------------------------------------------------------
def grading_settings(limits: Limits) -> dict[str, object]:
    """nbgrader's settings for grading: every kernel in the sandbox, over Unix sockets (no
    network; each worker names them inside the folder its sandbox shares with nbgrader), and
    killed as soon as its notebook is done: a kernel's own shutdown (seconds, for one that
    imported torch) changes nothing of the grade, and a kernel that goes early is seen by
    nbclient either way."""
    return {
        "Execute.kernel_name": KERNEL_NAME,
        "Execute.timeout": int(limits.cell_timeout_s),
        "Execute.interrupt_on_timeout": True,
        "Execute.startup_timeout": 60,
        "Execute.shutdown_kernel": "immediate",
        "KernelManager.transport": "ipc",
    }


def prepare_template(batch: Batch, names: list[str]) -> Path:
    """An nbgrader course directory with every assignment generated into its gradebook, kept
    while neither the assignments nor what grades them change."""
    template = batch.work / "template"
    stamp = digest([p for n in names for p in files_of(batch.source / n)], batch.source,
                   settings_key(batch.limits, batch.extra_read))
    if (template / "stamp").exists() and (template / "stamp").read_text() == stamp:
        return template
    shutil.rmtree(template, ignore_errors=True)
    make_course_dir(template, [batch.source / n for n in names], grading_settings(batch.limits))
    for name in names:
        generate_assignment(template, name)
    install_kernelspec(template / "jupyter")
    (template / "stamp").write_text(stamp)
    return template


# ---- the command line -----------------------------------------------------------------------
def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="grading", unit="submission", disable=quiet, file=sys.stderr)


def summary(rows: list[Row], n_graded: int, n_reused: int, seconds: float) -> str:
    counts = {s: sum(r.status == s for r in rows)
              for s in ("graded", "flagged", "failed", "timed_out")}
    lines = [f"{len(rows)} submissions: " + ", ".join(f"{n} {s}" for s, n in counts.items())
             + f" ({n_graded} graded now in {seconds:.1f} s, {n_reused} unchanged since the "
             "last run)"]
    for assignment in sorted({r.assignment for r in rows}):
        mine = [r for r in rows if r.assignment == assignment]
        mean = sum(r.score for r in mine) / len(mine)
        lines.append(f"  {assignment}: mean {mean:.2f} / {mine[0].max_score:g} "
                     f"over {len(mine)}")
    lines += [f"  {r.status:>9}  {r.student_id}/{r.assignment}: {r.reason[:160]}"
              for r in rows if r.status != "graded"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path,
                        help="folder laid out as <student>/<assignment>/<notebook>.ipynb, "
                             "or an LMS download (.zip) of one assignment")
    parser.add_argument("out", type=Path, help="where grades.csv, the report and feedback/ go")
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="the assignments' source folder (default: %(default)s)")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="parallel workers (default: %(default)s, one per core and one "
                             "more; ignored with --dask)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="grade on the workers of this Dask scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (see autograder/dask_backend.py)")
    parser.add_argument("--force", action="store_true",
                        help="grade everything again, even what has not changed")
    defaults = Limits()
    parser.add_argument("--wall", type=float, default=defaults.wall_s,
                        help="seconds per notebook (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout_s,
                        help="seconds per cell (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                        help="memory per process in MiB (default: %(default)s)")
    parser.add_argument("--allow-read", action="append", default=[], metavar="DIR",
                        help="a folder the notebooks may read, e.g. a data set (repeatable)")
    parser.add_argument("--lms-regexp", default=None, metavar="REGEXP",
                        help="for a .zip: which part of a file's path is the student id and "
                             "which the notebook (groups student_id, file_id; default: "
                             "files named <student>_<notebook>.ipynb)")
    parser.add_argument("--canvas-roster", type=Path, metavar="CSV",
                        help="a Canvas gradebook export: the import file then names each "
                             "student as Canvas does (matched on SIS User ID, SIS Login ID or ID)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.workers < 1 or args.wall <= 0 or args.cell_timeout <= 0 or args.memory_mb < 256:
        parser.error("--workers, --wall and --cell-timeout must be positive, "
                     "--memory-mb at least 256")
    _check_folders(parser, args)
    if args.canvas_roster and not args.canvas_roster.is_file():
        parser.error(f"--canvas-roster: no such file {args.canvas_roster}")
    if args.submissions.suffix == ".zip":
        if not args.submissions.is_file():
            parser.error(f"no such file {args.submissions}")
        if not args.assignments or len(args.assignments) != 1:
            parser.error("an LMS .zip holds one assignment: name it with --assignment")


def _check_folders(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """OUT must not be written into the assignments, nor the notebooks let read them."""
    out, readable = args.out.resolve(), [Path(d).resolve() for d in args.allow_read]
    for protected in (SOURCE, RELEASE, args.source.resolve()):
        if out == protected or protected in out.parents:
            parser.error(f"OUT must not lie inside {protected}")
        if any(protected == d or d in protected.parents for d in readable):
            parser.error(f"--allow-read must not open {protected} to the notebooks")
    missing = [d for d in args.allow_read if not Path(d).is_dir()]
    if missing:
        parser.error(f"--allow-read: no such folder {', '.join(missing)}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    out = args.out.resolve()
    try:
        submissions = args.submissions.resolve()
        if submissions.suffix == ".zip":
            submissions = lms.collect_zip(submissions, args.assignments[0], out / ".work",
                                          args.lms_regexp or lms.DEFAULT_REGEXP)
        grade(Batch(submissions, out, args.source.resolve(), args.workers, args.force,
                    Limits(args.wall, args.cell_timeout, args.memory_mb), args.assignments,
                    args.quiet, args.allow_read, args.dask, args.canvas_roster))
    except GradingError as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
