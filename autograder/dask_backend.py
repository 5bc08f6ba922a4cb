"""Grade a class on the workers of an existing Dask distributed cluster, for when one machine is
not enough: ``python -m autograder.grade SUBMISSIONS OUT --dask tcp://10.0.0.5:8786``.

Each job of :func:`autograder.grade.grade` becomes one Dask task. On its first job a Dask worker
process copies the prepared template into a private course directory,
``OUT/.work/dask-<host>-<pid>``, and makes an :class:`autograder.worker.Worker` of it, which then
grades every job that process gets. This assumes that every Dask worker

- sees the same file system paths as the machine running the command (shared storage): this
  repository and its Python environment, the submissions, ``--source`` and OUT;
- has bubblewrap and this package installed (``pip install -e '.[dask]'``);
- runs under a nanny with one thread, ``dask worker ADDRESS --nworkers N --nthreads 1``: a
  process grades one job at a time (the sandbox's settings travel in its environment), and a job
  that overruns its deadline is stopped by restarting its worker process (a kernel it left
  running still ends at the sandbox's wall-clock limit).

Start the workers with Dask's statistical profiler off,
``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False dask worker ...``: a grading job's stack is
deep, and a worker keeps its last 1000 one-second profiles, so with the profiler on (Dask's
default) each worker's memory grew by about 0.3 MiB a second for its first 17 minutes
(``make bench-dask``: 380, 474 then 573 MiB early, middle and late in a 500-notebook run; with it
off, flat).
"""

import contextlib
import contextvars
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from autograder.course_dir import copy_course_dir
from autograder.jobs import GradingError, Job, Row
from autograder.sandbox import check_sandbox, first_sandbox_uid, launcher_env
from autograder.worker import Worker

# This process's Worker, made for one template (path and stamp); a rebuilt template gets a new one.
_worker: tuple[tuple[str, str], Worker] | None = None
_lock = threading.Lock()
# Dask runs each task in a fresh copy of a context, and jupyter_core keeps the event loop that
# nbclient runs kernels on in a context variable: every job would start a new loop and drop the
# last one unclosed. The jobs of this process run in this one context instead, on one loop.
_context = contextvars.Context()


def _import_distributed():
    try:
        import distributed
    except ModuleNotFoundError:
        raise GradingError("--dask needs Dask distributed: pip install -e '.[dask]' "
                           "(in the repository)") from None
    return distributed


def grade_job(template: str, work: str, job: Job) -> Row:
    """The Dask task: grade one job with this worker process's Worker."""
    with _lock:
        return _context.run(_worker_for(Path(template), Path(work)).grade, job)


def _worker_for(template: Path, work: Path) -> Worker:
    global _worker
    key = (str(template), (template / "stamp").read_text())
    if _worker is None or _worker[0] != key or not _worker[1].course_dir.exists():
        check_sandbox()
        course_dir = copy_course_dir(template, work / f"dask-{socket.gethostname()}-"
                                                      f"{os.getpid()}")
        os.environ["PYTHONPATH"] = launcher_env(os.environ)["PYTHONPATH"]
        # One sandbox user of this process's own range: it runs one kernel at a time.
        uid = first_sandbox_uid() if os.geteuid() == 0 else None
        if _worker is not None:
            _worker[1].close()
        _worker = (key, Worker(course_dir, uid, _sockets_folder()))
    return _worker[1]


def _sockets_folder() -> Path | None:
    """The Worker's sockets' folder inside this Dask worker's own directory, which Dask removes
    when the worker ends, or purges when the worker was killed; None (the Worker makes its own)
    where that directory is too deep: a socket's path holds 107 bytes, the longest name put
    in the folder about 22."""
    folder = Path(_import_distributed().get_worker().local_directory) / "gd-sockets"
    return folder if len(str(folder)) <= 80 else None


def run(address: str, template: Path, work: Path, jobs: list[Job],
        on_result: Callable[[Job, Row], None]) -> None:
    """Grade ``jobs`` on the cluster whose scheduler is at ``address``, calling
    ``on_result(job, row)`` as each ends; a task that raised or whose worker died gives a failed
    row, one that overran its deadline (:attr:`Job.deadline_s`) a timed-out row."""
    distributed = _import_distributed()
    template, work = Path(template).resolve(), Path(work).resolve()
    try:
        client = distributed.Client(address)
    except OSError as err:
        raise GradingError(f"cannot reach the Dask scheduler at {address}: {err}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=60)
        except distributed.TimeoutError:
            raise GradingError(f"the Dask scheduler at {address} has no workers") from None
        _Feeder(client, distributed, str(template), str(work), jobs, on_result).run()


class _Feeder:
    """Keeps as many jobs in flight as the cluster has worker processes; a job's clock starts
    when it is sent."""

    def __init__(self, client, distributed, template: str, work: str, jobs: list[Job],
                 on_result):
        self.client, self.distributed = client, distributed
        self.template, self.work, self.on_result = template, work, on_result
        self.pending = list(reversed(jobs))
        self.running: dict[str, tuple[Job, threading.Timer]] = {}  # by the future's key
        self.expired: set[str] = set()
        self.finished = distributed.as_completed()

    def run(self) -> None:
        self.feed()
        for future in self.finished:
            job, timer = self.running.pop(future.key)
            timer.cancel()
            timer.join()  # if it fired, `expired` now says so
            self.on_result(job, self.outcome(future, job))
            self.feed()

    def feed(self) -> None:
        while self.pending and len(self.running) < max(1, len(self.client.nthreads())):
            job = self.pending.pop()
            future = self.client.submit(grade_job, self.template, self.work, job, pure=False)
            timer = threading.Timer(job.deadline_s, self.give_up, [future])
            timer.daemon = True
            self.running[future.key] = (job, timer)
            self.finished.add(future)
            timer.start()

    def give_up(self, future) -> None:
        self.expired.add(future.key)
        stuck = [w for w, keys in self.client.processing().items() if future.key in keys]
        future.cancel()
        if stuck:  # a running task cannot be stopped but by restarting its worker
            with contextlib.suppress(Exception):
                self.client.restart_workers(stuck)

    def outcome(self, future, job: Job) -> Row:
        if future.key in self.expired:
            return Row.timed_out(job)
        if future.status == "finished":
            return future.result()
        if future.status == "error":
            err = future.exception()
            if isinstance(err, self.distributed.KilledWorker):
                return Row.ungraded(job, "failed",
                                    f"the Dask workers grading it died: {err}"[:500])
            return Row.ungraded(job, "failed", f"grader error: {type(err).__name__}: {err}"[:500])
        return Row.ungraded(job, "failed",
                            f"the Dask scheduler dropped the job ({future.status})")
