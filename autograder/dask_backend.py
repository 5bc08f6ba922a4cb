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
"""

import contextlib
import os
import socket
import threading
from pathlib import Path

try:
    import distributed
except ModuleNotFoundError:
    raise SystemExit("--dask needs Dask distributed: pip install -e '.[dask]' "
                     "(in the repository)") from None

from autograder import grade
from autograder.sandbox import check_bwrap
from autograder.worker import Worker

# This process's Worker, made for one template (path and stamp); a rebuilt template gets a new one.
_worker: tuple[tuple[str, str], Worker] | None = None
_lock = threading.Lock()


def _grade_job(template: str, work: str, job: dict) -> dict:
    """The Dask task: grade one job with this worker process's Worker."""
    with _lock:
        return _worker_for(Path(template), Path(work)).grade(job)


def _worker_for(template: Path, work: Path) -> Worker:
    global _worker
    key = (str(template), (template / "stamp").read_text())
    if _worker is None or _worker[0] != key or not _worker[1].course_dir.exists():
        check_bwrap()
        course_dir = work / f"dask-{socket.gethostname()}-{os.getpid()}"
        grade.copy_template(template, course_dir)
        os.environ["PYTHONPATH"] = grade.with_package_path(os.environ)["PYTHONPATH"]
        # grade.FIRST_UID was computed from this process's pid: a range of sandbox users of its
        # own, of which it needs one, as it runs one kernel at a time.
        uid = grade.FIRST_UID if os.geteuid() == 0 else None
        _worker = (key, Worker(course_dir, 0, uid))
    return _worker[1]


def run(address: str, template: Path, work: Path, jobs: list[dict], on_result) -> None:
    """Grade ``jobs`` on the cluster whose scheduler is at ``address``, calling
    ``on_result(job, row)`` as each ends; a task that raised or whose worker died gives a failed
    row, one that overran :func:`autograder.grade.job_deadline` a timed-out row."""
    template, work = Path(template).resolve(), Path(work).resolve()
    try:
        client = distributed.Client(address)
    except OSError as err:
        raise SystemExit(f"cannot reach the Dask scheduler at {address}: {err}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=60)
        except distributed.TimeoutError:
            raise SystemExit(f"the Dask scheduler at {address} has no workers") from None
        pending = list(reversed(jobs))
        running: dict[str, tuple[dict, threading.Timer]] = {}  # by the future's key
        expired: set[str] = set()
        finished = distributed.as_completed()

        def give_up(future: distributed.Future) -> None:
            expired.add(future.key)
            stuck = [w for w, keys in client.processing().items() if future.key in keys]
            future.cancel()
            if stuck:  # a running task cannot be stopped but by restarting its worker
                with contextlib.suppress(Exception):
                    client.restart_workers(stuck)

        def feed() -> None:
            # As many jobs in flight as worker processes: a job's clock starts when it is sent.
            while pending and len(running) < max(1, len(client.nthreads())):
                job = pending.pop()
                future = client.submit(_grade_job, str(template), str(work), job, pure=False)
                timer = threading.Timer(grade.job_deadline(job), give_up, [future])
                timer.daemon = True
                running[future.key] = (job, timer)
                finished.add(future)
                timer.start()

        feed()
        for future in finished:
            job, timer = running.pop(future.key)
            timer.cancel()
            timer.join()  # if it fired, `expired` now says so
            on_result(job, _outcome(future, job, future.key in expired))
            feed()


def _outcome(future: distributed.Future, job: dict, timed_out: bool) -> dict:
    if timed_out:
        return grade.timed_out_row(job)
    if future.status == "finished":
        return future.result()
    if future.status == "error":
        err = future.exception()
        if isinstance(err, distributed.KilledWorker):
            return grade._row(job, "failed", f"the Dask workers grading it died: {err}"[:500])
        return grade._row(job, "failed", f"grader error: {type(err).__name__}: {err}"[:500])
    return grade._row(job, "failed", f"the Dask scheduler dropped the job ({future.status})")
