"""Grading on this machine: worker processes (:mod:`autograder.worker`) fed from one queue.

Each slot runs one worker at a time, in a private copy of the prepared course directory, as a
sandbox user of its own when the grader is root. A job crosses the process boundary as one JSON
line each way. A worker that overruns its job's deadline is killed (its kernels die with it:
:func:`autograder.sandbox.die_with_parent`) and replaced, and the job is reported as timed out;
one that dies gives a failed row, and its slot starts afresh. A replacement gets a course
directory of its own, never the folders of the worker it replaces, and a short folder for
its Unix sockets that the pool removes once the worker ends (a killed worker cannot).
"""

import itertools
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from autograder.course_dir import copy_course_dir
from autograder.jobs import Job, Row
from autograder.sandbox import first_sandbox_uid, launcher_env


class Pool:
    def __init__(self, template: Path, work: Path, size: int):
        self.template, self.work, self.size = Path(template), Path(work), size
        self.first_uid = first_sandbox_uid()
        self.numbers = itertools.count(1)  # of worker starts: each gets a folder of its own
        self.sockets: dict[subprocess.Popen, Path] = {}  # each running worker's

    def run(self, jobs: list[Job], on_result: Callable[[Job, Row], None]) -> None:
        """Grade ``jobs``, calling ``on_result(job, row)`` as each ends (from several threads)."""
        pending: queue.Queue = queue.Queue()
        for job in jobs:
            pending.put(job)
        threads = [threading.Thread(target=self._serve, args=(slot, pending, on_result))
                   for slot in range(min(self.size, len(jobs)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _serve(self, slot: int, pending: queue.Queue, on_result) -> None:
        process = None
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                break
            try:
                if process is None or process.poll() is not None:
                    process = self._start(slot)
                process.stdin.write(job.to_json() + "\n")
                process.stdin.flush()
                line = _read_line(process, job.deadline_s)
                row = Row.from_json(line) if line else None
            except (OSError, ValueError) as err:  # the worker died: report, start afresh
                row = Row.ungraded(job, "failed", f"grader worker failed ({err}); see "
                                   f"{self.work}/worker-{slot}.log")
                self._end(process, kill=True)
                process = None
            if row is None:  # hung or crashed: kill its whole session, start afresh
                self._end(process, kill=True)
                process = None
                row = Row.timed_out(job)
            on_result(job, row)
        if process is not None:
            process.stdin.close()
            self._end(process, kill=False)

    def _start(self, slot: int) -> subprocess.Popen:
        course_dir = copy_course_dir(self.template,
                                     self.work / f"worker-{slot}.{next(self.numbers)}")
        uid = str(self.first_uid + slot) if os.geteuid() == 0 else "-"
        sockets = Path(tempfile.mkdtemp(prefix="gd-worker-"))
        with open(self.work / f"worker-{slot}.log", "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "autograder.worker", str(course_dir), uid, str(sockets)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                start_new_session=True, cwd=course_dir, env=launcher_env(os.environ),
            )
        self.sockets[process] = sockets
        if _read_line(process, 600) is None:  # the "ready" line
            self._end(process, kill=True)
            raise OSError(f"worker {slot} did not start")
        return process

    def _end(self, process: subprocess.Popen | None, kill: bool) -> None:
        """Kill the worker's whole session (with ``kill``, or when it has not ended a minute
        after its input closed), wait for it, and remove its sockets' folder."""
        if process is None:
            return
        if not kill:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        shutil.rmtree(self.sockets.pop(process), ignore_errors=True)


def _read_line(process: subprocess.Popen, timeout: float) -> str | None:
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return None
    return process.stdout.readline() or None

