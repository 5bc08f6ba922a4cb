"""Scale, simulated: ``python -m coursetools.bench_dask`` (``make bench-dask``).

Grades a class of ``--students`` submissions of one chapter (half the right answers, half the
untouched release) through the Dask path, on a ``LocalCluster`` of ``--workers`` worker
processes of one thread on this machine, as ``--dask`` does on a real cluster. While it runs it
samples the memory of the whole process tree every second: this process (client and
scheduler), the Dask nannies and workers, their kernel servers and the kernels these fork. A
process's memory is its proportional set size: a page that several processes share (a forked
kernel shares the server's torch) counts once, split among them. It prints seconds per
notebook, the peak memory, and the workers' memory over the run (early, middle, late), and
fails when a row is missing or wrong, or when the workers' memory grows through the run.
The samples go to ``OUT/memory.csv``. The workers run with Dask's statistical profiler off, as
:mod:`autograder.dask_backend` asks of a real cluster's (``--dask-profiler`` leaves it on, to
see its history of profiles grow).
"""

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

from autograder import grade
from autograder.assignments import chapters, graded_notebooks
from autograder.paths import RELEASE, SOURCE
from coursetools.build_submission import build_submission

# The workers' memory late in the run may exceed its early level by this much (allocator noise).
GROWTH_ALLOWED = 1.25
# What the kernels run as: each one's launcher, and the kernel server's bwrap and processes (the
# server, and each kernel with its supervisor).
KERNEL_PROCESS = {"autograder.sandbox", "/usr/bin/bwrap", "/opt/gd-sandbox/zygote.py"}


def make_class(folder: Path, chapter: Path, students: int) -> dict[str, float]:
    """Write the submissions; return each student's expected score."""
    expected = {}
    for nb, cells in graded_notebooks(chapter).items():
        release = RELEASE / chapter.name / f"{nb}.ipynb"
        right = build_submission(release, chapter / f"{nb}.ipynb")
        untouched = nbformat.read(release, as_version=4)
        for i in range(students):
            target = folder / f"student{i:04d}" / chapter.name
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(right if i % 2 == 0 else untouched, target / f"{nb}.ipynb")
            points = sum(c.points for c in cells.values()) if i % 2 == 0 else 0.0
            expected[f"student{i:04d}"] = expected.get(f"student{i:04d}", 0.0) + points
    return expected


class MemorySampler(threading.Thread):
    """The memory (proportional set size) of this process and its descendants, once a second,
    and of the descendants that are not a notebook's kernel."""

    def __init__(self, done_counter):
        super().__init__(daemon=True)
        self.done_counter, self.samples, self.stopped = done_counter, [], threading.Event()
        self.me = psutil.Process()

    def run(self):
        started = time.monotonic()
        while not self.stopped.wait(1.0):
            workers = total = 0
            for process in self.me.children(recursive=True):
                try:
                    pss = process.memory_full_info().pss
                    total += pss
                    if not KERNEL_PROCESS.intersection(" ".join(process.cmdline()).split()):
                        workers += pss  # a nanny or a worker, not a notebook's kernel
                except psutil.Error:
                    continue
            total += self.me.memory_full_info().pss
            self.samples.append((round(time.monotonic() - started, 1), self.done_counter(),
                                 total >> 20, workers >> 20))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools.bench_dask",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--chapter", default="ch01_gd_by_hand")
    parser.add_argument("--out", type=Path, help="keep the grades and memory.csv here")
    parser.add_argument("--dask-profiler", action="store_true",
                        help="leave Dask's statistical profiler on (its default; the workers' "
                             "memory then grows with its history of profiles)")
    args = parser.parse_args(argv)
    chapter = next((c for c in chapters(SOURCE) if c.name == args.chapter), None)
    if chapter is None or not (RELEASE / args.chapter).is_dir():
        parser.error(f"no released chapter {args.chapter}")
    import dask
    import distributed

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        out = args.out or Path(tmp) / "out"
        shutil.rmtree(out, ignore_errors=True)
        expected = make_class(Path(tmp) / "subs", chapter, args.students)
        state = out / ".work" / "state.jsonl"
        sampler = MemorySampler(lambda: sum(1 for _ in open(state)) if state.exists() else 0)
        # the profiler off unless asked for, as autograder.dask_backend asks of a grading cluster
        with dask.config.set({"distributed.worker.profile.enabled": args.dask_profiler}), \
                distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address=None) as cluster:
            batch = grade.Batch(Path(tmp) / "subs", out, SOURCE, force=True, quiet=True,
                                scheduler=cluster.scheduler_address)
            sampler.start()
            started = time.perf_counter()
            rows = grade.grade(batch)
            seconds = time.perf_counter() - started
            sampler.stopped.set()
            sampler.join()
        with open(out / "memory.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["seconds", "graded", "total_mib", "dask_workers_mib"])
            writer.writerows(sampler.samples)
        return report(rows, expected, seconds, sampler.samples, args)


def report(rows, expected: dict[str, float], seconds: float, samples, args) -> int:
    wrong = [r for r in rows if (r.status, r.score) != ("graded", expected.get(r.student_id))]
    missing = sorted(set(expected) - {r.student_id for r in rows})
    print(f"{len(rows)} of {len(expected)} rows ({args.chapter}, {args.workers} Dask workers): "
          f"{seconds:.0f} s, {seconds / len(expected):.2f} s per notebook")
    print(f"peak memory of the whole tree: {max(s[2] for s in samples)} MiB; "
          f"of the Dask nannies and workers (kernels left out): {max(s[3] for s in samples)} MiB")
    thirds = [samples[i * len(samples) // 3:(i + 1) * len(samples) // 3] for i in range(3)]
    levels = [statistics.median(s[3] for s in third) for third in thirds if third]
    print("the Dask workers' median memory, early / middle / late in the run: "
          + " / ".join(f"{level:.0f} MiB" for level in levels))
    problems = []
    if missing or wrong:
        problems.append(f"{len(missing)} rows missing, {len(wrong)} wrong, e.g. "
                        f"{(missing or wrong)[:1]}")
    if len(levels) == 3 and levels[2] > GROWTH_ALLOWED * levels[0]:
        problems.append("the workers' memory grew through the run")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
