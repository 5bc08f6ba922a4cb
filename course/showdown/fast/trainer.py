"""``train_stacked``: the runs of a race in one stack (``stacked.py``), or split among a few
worker threads of one CPU core each, with a progress bar.

On a CPU this network's products are small: two cores that each keep their own models in their
own cache do better than two cores sharing every product, and far better when other programs
compete for the cores (torch's threads then wait for each other at every product). Each worker
trains its share in a stack of its own on one torch thread; torch releases the GIL inside its
kernels, so the threads run side by side.
"""

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

from course.showdown.data import Data, batches_per_epoch
from course.showdown.fast.stacked import train_group
from course.showdown.loop import check_run_length
from course.showdown.model import initial_model
from course.showdown.records import EpochRecord, RunResult, RunSpec

__all__ = ["train_stacked", "split", "resolve_workers", "torch_threads"]


def resolve_workers(workers: int | str, device: torch.device) -> int:
    """``"auto"``: one per CPU thread torch would use; 1 on a GPU (one stack keeps it busy)."""
    if workers == "auto":
        workers = torch.get_num_threads()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    return 1 if device.type != "cpu" else workers


def split(specs: Sequence[RunSpec], workers: int) -> list[list[int]]:
    """The specs' indices per worker. Each seed's runs are dealt out in turn, so every worker
    gets the same optimizers of every seed: (sgd, rmsprop) and (momentum, adam) of each seed
    for four optimizers on two workers."""
    position: dict[int, int] = {}
    shares: list[list[int]] = [[] for _ in range(workers)]
    for i, spec in enumerate(specs):
        column = position.get(spec.seed, 0)
        position[spec.seed] = column + 1
        shares[column % workers].append(i)
    return [share for share in shares if share]


@contextmanager
def torch_threads(n: int):
    """torch's CPU threads set to ``n`` inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Stopped(Exception):
    """Raised inside a worker when another worker failed or the user pressed Ctrl-C."""


def train_stacked(specs: Sequence[RunSpec], data: Data, epochs: int = 10, batch_size: int = 64,
                  progress: bool = True, workers: int | str = 1) -> list[RunResult]:
    """Train one model per spec; return one result per spec, in order. ``workers`` > 1 (or
    ``"auto"``) splits the runs among that many threads of one torch thread each, on a CPU.

    ``seconds`` of an epoch is the wall time of that epoch for the stack the run is in. A run
    whose loss turns NaN or infinite is marked diverged at that epoch; the others go on."""
    check_run_length(epochs, batch_size)
    if not specs:
        raise ValueError("no run to train")
    shares = split(specs, min(resolve_workers(workers, data.x_train.device), len(specs)))
    results = [RunResult.start(spec) for spec in specs]
    n_batches = batches_per_epoch(len(data.y_train), batch_size)
    bar = tqdm(total=epochs * n_batches, unit="batch", disable=not progress, mininterval=0.5,
               desc=f"{len(specs)} models")
    done, lock, stop = [0] * len(shares), threading.Lock(), threading.Event()

    def on_batches(worker, count):
        if stop.is_set():
            raise _Stopped
        with lock:
            done[worker] += count
            bar.update(min(done) - bar.n)  # the bar follows the slowest worker

    def on_epoch(worker, epoch, rows):
        with lock:
            for i, row in zip(shares[worker], rows, strict=True):
                results[i].add(EpochRecord(epoch, *row))
            bar.set_postfix_str(" ".join(
                f"{r.optimizer}={r.final.test_accuracy:.3f}" for r in results
                if r.ok and r.epochs and r.seed == specs[0].seed))

    # built here, in one thread: torch's global random generator is not thread-safe
    initial = {seed: initial_model(seed) for seed in {s.seed for s in specs}}

    def work(worker):
        train_group([specs[i] for i in shares[worker]], data, epochs, batch_size,
                    lambda count: on_batches(worker, count),
                    lambda epoch, rows: on_epoch(worker, epoch, rows), initial)

    try:
        if len(shares) == 1:
            work(0)
        else:
            with torch_threads(1), ThreadPoolExecutor(len(shares)) as pool:
                futures = [pool.submit(work, w) for w in range(len(shares))]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    stop.set()  # the other workers stop at their next progress report
                    raise
    finally:
        bar.close()
    return results
