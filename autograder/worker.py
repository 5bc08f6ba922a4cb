"""One grading worker: a long-lived process that autogrades submissions one after another.

It owns a private nbgrader course directory (a copy of the prepared template: source, gradebook,
config) so workers never share a gradebook, and it calls nbgrader's autograde in-process (no
interpreter start per submission). Kernels run in the ``gd-sandbox`` kernel spec
(:mod:`autograder.sandbox`), forked by the worker's kernel server. A job goes through named
stages: :meth:`Worker.precheck`, :meth:`~Worker.prepare`, :meth:`~Worker.execute`,
:meth:`~Worker.collect`, :func:`judge`, then the feedback is written.

Run as ``python -m autograder.worker COURSE_DIR UID`` (:mod:`autograder.pool` does), it reads one
job per line on stdin and writes one row per line on the original stdout; all logging goes to
stderr.
"""

import atexit
import functools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder import feedback
from autograder.assignments import grade_id, precheck
from autograder.course_dir import load_config
from autograder.inside import scan_source
from autograder.jobs import STDERR_NOTE, CellResult, GradingError, Job, Row
from autograder.sandbox import JOB_ENV, KERNEL_NAME, KernelServer, write_job

# What a process's stderr says when it ran out of memory (RLIMIT_AS makes allocations fail, and
# a thread's stack is an allocation too: ZeroMQ's own threads say so from src/thread.cpp).
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory",
                "failed to map segment", "ENOMEM", "can't start new thread",
                "Resource temporarily unavailable (src/thread.cpp")
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# What nbclient's log says when a kernel never answered, or went in the middle of a notebook.
NOT_STARTED_SIGNS = ("before replying to kernel_info", "didn't respond in")
DIED = "DeadKernelError"


@dataclass(frozen=True)
class Execution:
    """What running a job's notebooks left behind."""

    success: bool            # nbgrader's own verdict
    log: str                 # nbgrader's log of the run
    kernels: list[dict]      # the sandbox's record of each kernel, in start order
    events: list[dict]       # what the kernels' audit hooks reported
    stderr: dict[str, str]   # each kernel's stderr (its first 64 KiB), by kernel id
    seconds: float

    @classmethod
    def not_started(cls, error: str) -> "Execution":
        """The run of a job whose kernels could not be started at all."""
        record = {"kernel_id": "-", "exit_code": None, "timed_out": False, "seconds": None,
                  "notebook_dir": "", "error": error}
        return cls(False, "", [record], [], {}, 0.0)

    @property
    def errors(self) -> str:
        return " ".join(ln for ln in self.log.splitlines() if "[ERROR]" in ln)[-300:]

    @property
    def all_stderr(self) -> str:
        return "\n".join(self.stderr.values())


class Worker:
    def __init__(self, course_dir: Path, uid: int | None, sockets: Path | None = None):
        """``sockets``: a short folder for the worker's Unix sockets (made 0700 if it is not
        there), which whoever started the worker removes once it ends, killed or not. A worker
        started without one makes its own and removes it at exit."""
        _prepare_process()
        self.course_dir = Path(course_dir)
        self.uid = uid
        # a Unix socket's path holds at most 107 bytes: not a folder inside OUT, however deep
        if sockets is None:
            sockets = Path(tempfile.mkdtemp(prefix="gd-worker-"))
            atexit.register(shutil.rmtree, sockets, ignore_errors=True)
        self.sockets = Path(sockets)
        self.sockets.mkdir(mode=0o700, exist_ok=True)
        self.runtime = self.sockets / "runtime"  # nbgrader's and the kernels' sockets
        self._fresh_runtime_dir()
        self.server: KernelServer | None = None
        os.environ["JUPYTER_RUNTIME_DIR"] = str(self.runtime)
        os.environ["JUPYTER_PATH"] = str(self.course_dir / "jupyter")
        os.environ.pop("JUPYTER_CONFIG_DIR", None)
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        config = load_config(self.course_dir)
        config.KernelManager.connection_file = str(self.runtime / "kernel.json")
        config.KernelManager.ip = str(self.runtime / "kernel")
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def grade(self, job: Job) -> Row:
        """Grade one job; whatever goes wrong is said in the row, the worker goes on."""
        work = Path(job.work_dir)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        row = Row(job.student, job.assignment, 0.0, job.max_score, "graded")
        problems = self.precheck(job)
        if problems:
            row = row.with_outcome([("failed", "; ".join(problems))])
        else:
            flags = self.prepare(job)
            run = self.execute(job)
            row = judge(replace(row, cells=self.collect(job)), job, run, flags)
        feedback.write(job, row)
        self.clean(job)
        return row

    # ---- the stages ---------------------------------------------------------------------
    @staticmethod
    def precheck(job: Job) -> list[str]:
        """What keeps the submission from being graded, notebook by notebook."""
        submission = Path(job.submission_dir)
        return [f"{nb}: {' / '.join(p)}" for nb, cells in job.notebooks.items()
                if (p := precheck(submission / f"{nb}.ipynb", cells))]

    def prepare(self, job: Job) -> list[tuple[str, str]]:
        """Copy the submission into the course directory, pinned to the sandbox kernel; return
        the static flags of its student cells."""
        target = self.course_dir / "submitted" / job.student / job.assignment
        shutil.rmtree(target.parent, ignore_errors=True)
        target.mkdir(parents=True)
        flags = []
        for path in sorted(Path(job.submission_dir).iterdir()):
            if path.is_symlink() or not path.is_file():
                continue
            if path.suffix != ".ipynb":
                shutil.copyfile(path, target / path.name)
            elif path.stem in job.notebooks:  # only notebooks with points are graded
                notebook = nbformat.read(path, as_version=4)
                notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "language": "python",
                                                   "display_name": "Python 3 (grading sandbox)"}
                tests = {gid for gid, c in job.notebooks[path.stem].items() if c.kind == "test"}
                for cell in notebook.cells:
                    if cell.cell_type == "code" and grade_id(cell) not in tests:
                        flags += scan_source(cell.source)
                nbformat.write(notebook, target / path.name)
        return flags

    def execute(self, job: Job) -> Execution:
        """Run nbgrader's autograde on the submission, its kernels in the sandbox."""
        work = Path(job.work_dir)
        self._fresh_runtime_dir()
        try:
            server = self.kernel_server(job)
        except GradingError as err:
            return Execution.not_started(str(err))
        os.environ[JOB_ENV] = str(write_job(work / "job.json", job, self.runtime, self.uid,
                                            server))
        started = time.perf_counter()
        result = self.api.autograde(job.assignment, job.student, force=True, create=True)
        seconds = time.perf_counter() - started
        kernels = [json.loads(p.read_text()) for p in sorted(work.glob("kernel-*.json"))]
        stderr = {k["kernel_id"]: _text(work / f"kernel-{k['kernel_id']}.stderr") for k in kernels}
        return Execution(bool(result.get("success")), result.get("log") or "", kernels,
                         _events(work), stderr, seconds)

    def collect(self, job: Job) -> tuple[CellResult, ...]:
        """Each graded cell's points (from the gradebook) and visible message (from the
        autograded notebook)."""
        from nbgrader.api import Gradebook, MissingEntry

        results = []
        with Gradebook(self.api.coursedir.db_url) as gradebook:
            for nb, cells in job.notebooks.items():
                try:
                    submitted = gradebook.find_submission_notebook(nb, job.assignment,
                                                                   job.student)
                    scores = {g.name: g.score for g in submitted.grades}
                except MissingEntry:
                    scores = {}
                messages = self._messages(job, nb)
                for gid, cell in cells.items():
                    if cell.kind in {"test", "manual"}:
                        points = float(scores.get(gid) or 0.0)
                        message = messages.get(gid, "" if gid in scores else "not graded")
                        result = CellResult(nb, gid, points, cell.points, message)
                        results.append(replace(result, message="") if result.passed else result)
        return tuple(results)

    def clean(self, job: Job) -> None:
        """Remove what the job left in the course directory (the gradebook keeps its scores)."""
        self._fresh_runtime_dir()
        for sub in ("submitted", "autograded"):
            shutil.rmtree(self.course_dir / sub / job.student, ignore_errors=True)
        if self.server is not None:
            _empty(self.server.scratch)

    def kernel_server(self, job: Job) -> KernelServer:
        """This worker's kernel server, started (again) when it is not running or mounts other
        folders than ``job`` reads."""
        if self.server is not None and not (self.server.alive()
                                            and self.server.extra_read == list(job.extra_read)):
            self.close()
        if self.server is None:
            server = KernelServer(self.course_dir / "kernel-server", self.runtime,
                                  self.sockets / "kernel-server", job.extra_read)
            server.start()
            self.server = server
            atexit.register(server.stop)  # a Dask worker's process just ends
        return self.server

    def close(self) -> None:
        """Stop the kernel server."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    # ---- helpers ---------------------------------------------------------------------------
    def _fresh_runtime_dir(self) -> None:
        """Empty the folder the kernels share with nbgrader: whatever the last kernel left there
        (a link named like the next connection file, say) must not be written through. The
        folder itself stays: the kernel server's sandbox mounts it."""
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        _empty(self.runtime)

    def _messages(self, job: Job, nb: str) -> dict[str, str]:
        path = self.course_dir / "autograded" / job.student / job.assignment / f"{nb}.ipynb"
        if not path.exists():
            return {}
        return {grade_id(cell): cell_message(cell)
                for cell in nbformat.read(path, as_version=4).cells
                if grade_id(cell) and cell.cell_type == "code"}


@functools.cache
def _prepare_process() -> None:
    """Once per grading process, what makes nbgrader's own steps cheaper without changing them
    (a quarter to a half of a worker's time on a notebook went there):

    - a worker's gradebook is a scratch copy (the rows go to the grader's cache, nothing reads
      it after the job), so SQLite need not wait for the disk at each of nbgrader's commits
      (dozens a notebook, each an fsync);
    - nbgrader opens the gradebook a dozen times a notebook, each time with a new SQLAlchemy
      engine that compiles every query again: one engine per database keeps them compiled;
    - nbgrader checks each cell's metadata with ``jsonschema.validate``, which checks the
      schema itself and builds a validator at every call: one validator per schema checks the
      same;
    - nbgrader's warnings about its own database sessions, which say nothing about a
      submission, stay out of the logs.
    """
    import sqlite3

    import sqlalchemy
    from nbgrader import api
    from nbgrader.nbgraderformat import common
    from sqlalchemy import event
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", message="Object of type <", category=SAWarning)

    @event.listens_for(sqlalchemy.engine.Engine, "connect")
    def _pragmas(connection, record):
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA journal_mode = MEMORY")

    assert api.create_engine is sqlalchemy.create_engine and common.jsonschema  # nbgrader 0.9.6
    api.create_engine = functools.cache(sqlalchemy.create_engine)
    common.jsonschema = _OneValidatorPerSchema()


class _OneValidatorPerSchema:
    """What nbgrader's metadata check uses of jsonschema, with the validator of each schema
    made once. A schema is known by its content: nbgrader loads it anew from its file for every
    notebook it reads or writes, so a cache by object would grow with every notebook graded."""

    def __init__(self):
        import jsonschema

        self._jsonschema, self._validators = jsonschema, {}
        self.ValidationError = jsonschema.ValidationError

    def validate(self, instance, schema) -> None:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        validator.validate(instance)


def cell_message(cell) -> str:
    """What a graded cell said: each error as ``Name: message``, and what reached stderr (which
    nbgrader counts as a failure), without terminal colours."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", ""))[:2000]
            parts.append(f"{output.get('ename', 'Error')}: {value}".rstrip(": "))
        elif output.get("output_type") == "stream" and output.get("name") == "stderr":
            parts.append(f"{STDERR_NOTE}:\n{str(output.get('text', '')).strip()[:1000]}")
    return ANSI_COLOUR.sub("", "\n".join(parts))


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _events(work: Path) -> list[dict]:
    events = []
    for path in sorted(work.glob("events-*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"kind": "watch_error", "detail": "garbled report from the kernel"}
            if isinstance(event, dict) and {"kind", "detail"} <= event.keys():
                events.append(event)
    return events


# ---- judging a run ---------------------------------------------------------------------------
def judge(row: Row, job: Job, run: Execution, flags: list[tuple[str, str]]) -> Row:
    """The row's score, status and reason from what the run left: the worst problem wins, a
    flag for review is added to whatever else happened. A notebook that did not run to its end
    was not graded: it scores 0, and its cells say so."""
    problems = run_problems(job, run)
    flagged = sorted({f"{kind}: {detail}" for kind, detail in flags}
                     | {f"{e['kind']}: {e['detail']}" for e in run.events})
    if flagged:
        problems.append(("flagged", "flagged for review: " + "; ".join(flagged)))
    row = row.with_outcome(problems)
    if row.status in {"failed", "timed_out"}:
        return replace(row, cells=tuple(replace(c, points=0.0, message="not graded")
                                        for c in row.cells))
    return replace(row, score=round(sum(c.points for c in row.cells), 6))


def run_problems(job: Job, run: Execution) -> list[tuple[str, str]]:
    """``(status, reason)`` for what went wrong while the notebooks ran: the first of the
    checks below that finds something, in order of what tells most."""
    for problem in (_out_of_time, _not_started, _died):
        found = problem(job, run)
        if found:
            return [found]
    if not run.success:
        return [("failed", f"nbgrader could not grade it: {run.errors or 'see the worker log'}")]
    return []


def _out_of_time(job: Job, run: Execution) -> tuple[str, str] | None:
    if any(k["timed_out"] for k in run.kernels):
        return ("timed_out", f"ran past the {job.limits.wall_s:g} s limit per notebook and was "
                "stopped; it was not graded")
    if "Timeout waiting for execute reply" in run.log and not run.success:
        return ("timed_out", f"a cell ran past the {job.limits.cell_timeout_s:g} s limit per "
                "cell and ignored the interrupt; it was not graded")
    return None


def _not_started(job: Job, run: Execution) -> tuple[str, str] | None:
    error = next((k["error"] for k in run.kernels if k.get("error")), None)
    if error:  # the launcher failed before the sandbox
        return ("failed", f"the kernel could not start: {error}")
    if len(run.kernels) < len(job.notebooks) or any(s in run.log for s in NOT_STARTED_SIGNS):
        return ("failed", "the kernel could not start: "
                + (_memory(run.all_stderr, job) or stderr_summary(run.all_stderr) or run.errors
                   or "it said nothing; see the worker's log"))
    return None


def _died(job: Job, run: Execution) -> tuple[str, str] | None:
    if DIED not in run.log:  # nbclient saw the kernel go before the notebook's end
        return None
    said = stderr_summary(run.all_stderr)
    codes = ", ".join(_exit(k["exit_code"]) for k in run.kernels)
    why = _memory(run.all_stderr, job) or (f"{codes}; it said: {said}" if said else codes)
    return ("failed", "the kernel stopped before the end of the notebook (os._exit, a crash, "
            f"or out of memory): {why}; it was not graded")


def stderr_summary(text: str, lines: int = 3) -> str:
    """The first lines of a kernel's stderr; of a Python traceback, the exception line."""
    shown = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if any(ln.startswith("Traceback") for ln in shown):
        last = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
        return last[-1].strip()[:300]
    return " / ".join(shown[:lines])[:300]


def _memory(stderr: str, job: Job) -> str:
    line = next((ln.strip() for ln in stderr.splitlines()
                 if any(sign in ln for sign in MEMORY_SIGNS)), None)
    if line is None:
        return ""
    return (f"it ran out of memory (the limits are {job.limits.memory_mb} MiB per process and "
            f"{job.limits.processes} processes and threads): {line[:200]}")


def _exit(code) -> str:
    if code is None:
        return "no exit code"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            pass
    return f"exit code {code}"


def main() -> int:
    course_dir, uid, sockets = sys.argv[1], sys.argv[2], sys.argv[3:4]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed from here on goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    worker = Worker(Path(course_dir), None if uid == "-" else int(uid),
                    Path(sockets[0]) if sockets else None)
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        job = Job.from_json(line)
        try:
            row = worker.grade(job)
        except Exception as err:  # one broken submission never stops the worker
            import traceback

            traceback.print_exc()
            row = Row.ungraded(job, "failed", f"grader error: {type(err).__name__}: {err}"[:500])
        protocol.write(row.to_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
