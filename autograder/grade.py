"""Grade a whole class: ``python -m autograder.grade SUBMISSIONS OUT`` (``make autograde``).

SUBMISSIONS is nbgrader's layout, ``<student>/<assignment>/<notebook>.ipynb``. OUT receives

- ``grades.csv``: ``student_id,assignment,score,max_score,status,reason``, one row per
  submitted assignment; status is ``graded``, ``failed``, ``timed_out`` or ``flagged``;
- ``feedback/<student>/<assignment>/<notebook>.html``: passed/failed and the visible message per
  test cell, never a test's source;
- ``.work/``: the grader's private course directories and the record that makes a re-run grade
  only what changed (``--force`` grades everything again).

Assignments and their hidden tests come from ``--source`` (default: the repository's
``source/``), which is only read. Workers run in parallel (default: one per core), each with its
own nbgrader course directory; kernels run in the bubblewrap sandbox of
:mod:`autograder.sandbox`. With ``--dask ADDRESS`` the workers are those of a Dask cluster
(:mod:`autograder.distributed`).
"""

import argparse
import csv
import hashlib
import json
import os
import queue
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import release
from autograder.assignments import graded_notebooks, test_hashes
from autograder.sandbox import KERNEL_NAME, check_bwrap, install_kernelspec

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "reason"]
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")
# Sandbox users: one per worker slot, and a range per grading run, so that process limits of
# concurrent sandboxes never add up. No account is needed: the kernel only runs as that number.
FIRST_UID = 200_000 + (os.getpid() % 100_000) * 64
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# A change to the grader's code re-grades everything (and rebuilds the course template).
GRADER_VERSION = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()[:16]


@dataclass
class Limits:
    wall_s: float = 120.0       # per notebook, kernel start to end
    cell_timeout_s: int = 60    # nbgrader's Execute.timeout, per cell
    memory_mb: int = 2048       # address space of each process in the sandbox
    processes: int = 64         # processes and threads of the sandbox user
    file_mb: int = 64           # largest file the student's code may write

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_AS": self.memory_mb << 20, "RLIMIT_NPROC": self.processes,
                "RLIMIT_FSIZE": self.file_mb << 20, "RLIMIT_CORE": 0}


@dataclass
class Batch:
    submissions: Path
    out: Path
    source: Path = release.SOURCE
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    assignments: list[str] | None = None
    quiet: bool = False
    extra_read: list[str] = field(default_factory=list)  # more read-only folders for kernels
    scheduler: str | None = None  # a Dask scheduler's address: grade on its workers, not a Pool


def _digest(paths: list[Path], base: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        if path.is_file() and not path.is_symlink():
            h.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _tree(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if ".ipynb_checkpoints" not in p.parts]


def prepare_template(batch: Batch, names: list[str], work: Path) -> Path:
    """An nbgrader course directory with every assignment generated into its gradebook."""
    template = work / "template"
    stamp = _digest([p for n in names for p in _tree(batch.source / n)], batch.source,
                    GRADER_VERSION + str(asdict(batch.limits)))
    if (template / "stamp").exists() and (template / "stamp").read_text() == stamp:
        return template
    shutil.rmtree(template, ignore_errors=True)
    release.make_course_dir(template, [batch.source / n for n in names])
    with open(template / "nbgrader_config.py", "a") as config:
        config.write(
            "# grading: every kernel runs in the sandbox, over Unix sockets (no network)\n"
            f"c.Execute.kernel_name = {KERNEL_NAME!r}\n"
            "c.KernelManager.transport = 'ipc'\n"
            f"c.Execute.timeout = {int(batch.limits.cell_timeout_s)}\n"
            "c.Execute.interrupt_on_timeout = True\n"
            "c.Execute.startup_timeout = 60\n"
            # the kernel sees only this folder of the grader's: not /tmp, where the default is
            f"c.KernelManager.connection_file = {str(template / 'runtime' / 'kernel.json')!r}\n"
        )
    for name in names:
        release.generate_assignment(template, name)
    install_kernelspec(template / "jupyter")
    (template / "stamp").write_text(stamp)
    return template


class Pool:
    """Worker processes fed from one queue; a worker that overruns its job is killed and
    replaced, and the job is reported as timed out."""

    def __init__(self, template: Path, work: Path, size: int):
        self.template, self.work, self.size = template, work, size

    def _start(self, slot: int) -> subprocess.Popen:
        course_dir = self.work / f"worker-{slot}"
        copy_template(self.template, course_dir)
        uid = str(FIRST_UID + slot) if os.geteuid() == 0 else "-"
        log = open(self.work / f"worker-{slot}.log", "a")
        process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", str(course_dir), str(slot), uid],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            start_new_session=True, cwd=course_dir, env=with_package_path(os.environ),
        )
        if self._read(process, 600) is None:  # the "ready" line
            _kill_group(process)
            raise OSError(f"worker {slot} did not start")
        return process

    @staticmethod
    def _read(process: subprocess.Popen, timeout: float) -> dict | None:
        with selectors.DefaultSelector() as sel:
            sel.register(process.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return None
        line = process.stdout.readline()
        return json.loads(line) if line else None

    def run(self, jobs: list[dict], on_result) -> None:
        pending: queue.Queue = queue.Queue()
        for job in jobs:
            pending.put(job)

        def serve(slot: int) -> None:
            process = None
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    break
                try:
                    if process is None or process.poll() is not None:
                        process = self._start(slot)
                    process.stdin.write(json.dumps(job) + "\n")
                    process.stdin.flush()
                    row = self._read(process, job_deadline(job))
                except (OSError, ValueError) as err:  # the worker died: report, start afresh
                    row = _row(job, "failed", f"grader worker failed ({err}); see "
                               f"{self.work}/worker-{slot}.log")
                    if process is not None:
                        _kill_group(process)
                    process = None
                if row is None:  # hung or crashed: kill its whole session, start afresh
                    _kill_group(process)
                    process = None
                    row = timed_out_row(job)
                on_result(job, row)
            if process is not None:
                process.stdin.close()
                process.wait(timeout=60)

        threads = [threading.Thread(target=serve, args=(slot,))
                   for slot in range(min(self.size, len(jobs)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def copy_template(template: Path, course_dir: Path) -> None:
    """Make ``course_dir`` a worker's private copy of the template course directory."""
    shutil.rmtree(course_dir, ignore_errors=True)
    shutil.copytree(template, course_dir, symlinks=True)
    config = course_dir / "nbgrader_config.py"  # point root and gradebook at the copy
    config.write_text(config.read_text().replace(str(template), str(course_dir)))


def with_package_path(env) -> dict[str, str]:
    """``env`` with this package's root first on PYTHONPATH: the grading worker and the
    sandbox's kernel launcher import it."""
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
             if p and p != str(PACKAGE_ROOT)]
    return {**env, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), *paths])}


def job_deadline(job: dict) -> float:
    """Seconds a worker gets for a job before the grader gives up on it."""
    return job["wall_s"] * len(job["notebooks"]) + 90


def timed_out_row(job: dict) -> dict:
    return _row(job, "timed_out",
                f"the grader gave up on this submission after {job_deadline(job):g} s")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _row(job: dict, status: str, reason: str) -> dict:
    return {"student_id": job["student"], "assignment": job["assignment"], "score": 0.0,
            "max_score": job["max_score"], "status": status, "reason": reason}


def discover(batch: Batch, known: list[str]) -> tuple[list[tuple[str, str, Path]], list[dict]]:
    """``(student, assignment, folder)`` for each submission, and rows for what cannot be one."""
    found, rejected = [], []
    if not batch.submissions.is_dir():
        raise SystemExit(f"no submissions folder {batch.submissions}: expected "
                         "<dir>/<student>/<assignment>/<notebook>.ipynb")
    for student_dir in sorted(p for p in batch.submissions.iterdir() if p.is_dir()):
        student = student_dir.name
        for folder in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if folder.name not in known:
                if batch.assignments is None and not folder.name.startswith("."):
                    rejected.append({"student_id": student, "assignment": folder.name,
                                     "score": 0.0, "max_score": 0.0, "status": "failed",
                                     "reason": "no such assignment in the source: "
                                               f"{', '.join(known)}"})
                continue
            if not STUDENT_ID.fullmatch(student):
                rejected.append({"student_id": student, "assignment": folder.name,
                                 "score": 0.0, "max_score": 0.0, "status": "failed",
                                 "reason": "student id must be letters, digits and _.@+-"})
                continue
            found.append((student, folder.name, folder))
    return found, rejected


def grade(batch: Batch) -> list[dict]:
    """Grade every submission of the batch; write grades.csv and feedback; return the rows."""
    if batch.scheduler:  # the Dask workers need bubblewrap, not this machine
        from autograder import distributed  # exits naming the fix if Dask is not installed
    else:
        check_bwrap()
    batch.out.mkdir(parents=True, exist_ok=True)
    work = batch.out / ".work"
    work.mkdir(exist_ok=True)
    names = [p.name for p in release.chapters(batch.source)]
    if batch.assignments is not None:
        names = [n for n in names if n in batch.assignments]
    graded = {n: graded_notebooks(batch.source / n) for n in names}
    graded = {n: nbs for n, nbs in graded.items() if nbs}
    submissions, rows = discover(batch, list(graded))
    state_path = work / "state.json"
    state = {} if batch.force or not state_path.exists() else json.loads(state_path.read_text())
    source_digest = {n: _digest(_tree(batch.source / n), batch.source) for n in graded}
    settings = GRADER_VERSION + json.dumps(asdict(batch.limits), sort_keys=True)

    jobs, reused = [], []
    for student, assignment, folder in submissions:
        key = f"{student}/{assignment}"
        digest = _digest(_tree(folder), folder, source_digest[assignment] + settings)
        previous = state.get(key)
        if previous and previous["digest"] == digest and (
                batch.out / "feedback" / student / assignment).exists():
            reused.append(previous["row"])
            continue
        notebooks = graded[assignment]
        jobs.append({
            "student": student, "assignment": assignment, "submission_dir": str(folder.resolve()),
            "digest": digest, "key": key,
            "notebooks": {nb: {gid: asdict(c) for gid, c in cells.items()}
                          for nb, cells in notebooks.items()},
            "max_score": sum(c.points for cells in notebooks.values() for c in cells.values()),
            "test_hashes": test_hashes(notebooks),
            "job_dir": str((work / "jobs" / student / assignment).resolve()),
            "feedback_dir": str((batch.out / "feedback" / student / assignment).resolve()),
            "rlimits": batch.limits.rlimits(), "wall_s": batch.limits.wall_s,
            "cell_timeout_s": batch.limits.cell_timeout_s,
            "extra_read": [str(Path(p).resolve()) for p in batch.extra_read],
        })

    started = time.perf_counter()
    if jobs:
        template = prepare_template(batch, sorted({j["assignment"] for j in jobs}), work)
        progress = _progress(len(jobs), batch.quiet)
        lock = threading.Lock()

        def on_result(job: dict, row: dict) -> None:
            with lock:
                state[job["key"]] = {"digest": job["digest"], "row": row}
                state_path.write_text(json.dumps(state, indent=1))
                rows.append(row)
                progress.update(1)

        if batch.scheduler:
            distributed.run(batch.scheduler, template, work, jobs, on_result)
        else:
            Pool(template, work, max(1, batch.workers)).run(jobs, on_result)
        progress.close()
    rows += reused
    (work / "last_run.json").write_text(json.dumps(
        {"graded": sorted(j["key"] for j in jobs), "reused": len(reused)}, indent=1))
    rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
    write_csv(batch.out / "grades.csv", rows)
    if not batch.quiet:
        print(summary(rows, len(jobs), len(reused), time.perf_counter() - started))
    return rows


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="grading", unit="submission", disable=quiet, file=sys.stderr)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "score": f"{row['score']:g}",
                             "max_score": f"{row['max_score']:g}"})


def summary(rows: list[dict], n_graded: int, n_reused: int, seconds: float) -> str:
    counts = {s: sum(r["status"] == s for r in rows)
              for s in ("graded", "flagged", "failed", "timed_out")}
    lines = [f"{len(rows)} submissions: " + ", ".join(f"{n} {s}" for s, n in counts.items())
             + f" ({n_graded} graded now in {seconds:.1f} s, {n_reused} unchanged since the "
             "last run)"]
    for assignment in sorted({r["assignment"] for r in rows}):
        mine = [r for r in rows if r["assignment"] == assignment]
        mean = sum(r["score"] for r in mine) / len(mine)
        lines.append(f"  {assignment}: mean {mean:.2f} / {mine[0]['max_score']:g} "
                     f"over {len(mine)}")
    for row in rows:
        if row["status"] != "graded":
            lines.append(f"  {row['status']:>9}  {row['student_id']}/{row['assignment']}: "
                         f"{row['reason'][:160]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path,
                        help="folder laid out as <student>/<assignment>/<notebook>.ipynb, "
                             "or an LMS download (.zip) of one assignment")
    parser.add_argument("out", type=Path, help="where grades.csv and feedback/ go")
    parser.add_argument("--source", type=Path, default=release.SOURCE,
                        help="the assignments' source folder (default: %(default)s)")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel workers (default: all %(default)s cores; "
                             "ignored with --dask)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="grade on the workers of this Dask scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (see autograder/distributed.py)")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.wall <= 0 or args.cell_timeout <= 0 or args.memory_mb < 256:
        parser.error("--workers, --wall and --cell-timeout must be positive, "
                     "--memory-mb at least 256")
    out = args.out.resolve()
    for protected in (release.SOURCE, release.RELEASE, args.source.resolve()):
        if out == protected or protected in out.parents:
            parser.error(f"OUT must not lie inside {protected}")
        if any(protected == Path(d).resolve() or Path(d).resolve() in protected.parents
               for d in args.allow_read):
            parser.error(f"--allow-read must not open {protected} to the notebooks")
    missing = [d for d in args.allow_read if not Path(d).is_dir()]
    if missing:
        parser.error(f"--allow-read: no such folder {', '.join(missing)}")
    submissions = args.submissions.resolve()
    if submissions.suffix == ".zip":
        if not submissions.is_file():
            parser.error(f"no such file {submissions}")
        if not args.assignments or len(args.assignments) != 1:
            parser.error("an LMS .zip holds one assignment: name it with --assignment")
        from autograder import lms

        try:
            submissions = lms.collect_zip(submissions, args.assignments[0], out / ".work",
                                          args.lms_regexp or lms.DEFAULT_REGEXP)
        except release.NbgraderError as err:
            print(err, file=sys.stderr)
            return 1
    batch = Batch(submissions, out, args.source.resolve(), args.workers,
                  args.force, Limits(args.wall, args.cell_timeout, args.memory_mb),
                  args.assignments, args.quiet, args.allow_read, args.dask)
    grade(batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
