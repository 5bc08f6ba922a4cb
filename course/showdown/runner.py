"""The showdown and the cosine-vs-step comparison as functions (the CLI and chapter 8 call them)."""

import math
import time

import torch

from course.showdown.registry import DEFAULT_OPTIMIZERS, resolve
from course.showdown.report import write_results
from course.showdown.train import Run, load_data, pick_device, process_groups, train_stacked

__all__ = ["run_showdown", "compare_schedules", "step_decay", "cosine_decay"]


def _config(data, device, runs, processes, epochs, batch_size, seed, **extra):
    return {"model": "MLP 784-128-10 (ReLU)", "epochs": epochs, "batch_size": batch_size,
            "seed": seed, "device": str(device), "train_size": len(data.y_train),
            "test_size": len(data.y_test), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processes": len(process_groups(len(runs), processes, device)), **extra}


def _runs(optimizers, lrs):
    lrs = dict(lrs or {})
    specs = [resolve(o) for o in optimizers]
    names = [s.name for s in specs]
    if not specs:
        raise ValueError("no optimizer to race")
    if len(set(names)) != len(names):
        raise ValueError(f"an optimizer is listed twice: {names}")
    unknown = set(lrs) - set(names)
    if unknown:
        raise ValueError(f"a learning rate is given for {sorted(unknown)}, which is not raced")
    for name, lr in lrs.items():
        if not isinstance(lr, int | float) or not 0 < lr < math.inf:
            raise ValueError(f"the learning rate of {name} must be a positive number, got {lr!r}")
    return [Run(s.name, s, float(lrs.get(s.name, s.lr))) for s in specs]


def run_showdown(optimizers=DEFAULT_OPTIMIZERS, epochs: int = 10, batch_size: int = 64,
                 lrs: dict[str, float] | None = None, seed: int = 0, device: str = "auto",
                 subset: int | None = None, data_dir=None, out_dir=None,
                 progress: bool = True, data=None, processes: int | str = 1) -> dict:
    """Train one MLP per optimizer on MNIST (same initial weights, same batches) and return
    ``{"config": {...}, "runs": [...]}``; with ``out_dir``, also write the files and report.

    ``optimizers`` are registered names, specs or ``(name, factory, lr)`` tuples; ``lrs``
    overrides learning rates by name. ``data`` (from ``load_data``) skips loading MNIST again.
    ``processes`` splits the models among forked processes on a CPU (see ``train_stacked``;
    the command line's default is ``"auto"``, one per core).
    """
    runs = _runs(optimizers, lrs)
    torch_device = pick_device(device) if data is None else data.x_train.device
    data = data if data is not None else load_data(torch_device, subset, data_dir)
    start = time.perf_counter()
    results = train_stacked(runs, data, epochs, batch_size, seed, progress, processes)
    config = _config(data, torch_device, runs, processes, epochs, batch_size, seed,
                     wall_seconds=time.perf_counter() - start)
    showdown = {"config": config, "runs": results}
    if out_dir is not None:
        showdown["report"] = str(write_results(showdown, out_dir))
    return showdown


def step_decay(lr: float, epochs: int, gamma: float = 0.1):
    """StepLR stepped once per epoch: ×``gamma`` after half of the epochs (torch's closed form
    ``lr · gamma^(epoch // step_size)``)."""
    step_size = max(1, epochs // 2)
    return lambda epoch: lr * gamma ** (epoch // step_size)


def cosine_decay(lr: float, epochs: int, eta_min: float = 0.0):
    """CosineAnnealingLR with T_max = epochs, stepped once per epoch."""
    return lambda epoch: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * epoch / epochs)) / 2


def compare_schedules(optimizer="adam", lr: float | None = None, epochs: int = 10,
                      batch_size: int = 64, seed: int = 0, device: str = "auto",
                      subset: int | None = None, data_dir=None, out_dir=None,
                      progress: bool = True, data=None, processes: int | str = 1) -> dict:
    """One optimizer three times, side by side: constant lr, step decay, cosine decay."""
    spec = resolve(optimizer)
    lr = spec.lr if lr is None else lr
    _runs([spec], {spec.name: lr})
    runs = [Run(f"{spec.name} constant", spec, lr),
            Run(f"{spec.name} step", spec, lr, step_decay(lr, epochs)),
            Run(f"{spec.name} cosine", spec, lr, cosine_decay(lr, epochs))]
    torch_device = pick_device(device) if data is None else data.x_train.device
    data = data if data is not None else load_data(torch_device, subset, data_dir)
    start = time.perf_counter()
    results = train_stacked(runs, data, epochs, batch_size, seed, progress, processes)
    for run, result in zip(runs, results, strict=True):
        result["lr_per_epoch"] = [run.schedule(e) if run.schedule else lr for e in range(epochs)]
    config = _config(data, torch_device, runs, processes, epochs, batch_size, seed,
                     schedules_of=spec.name, wall_seconds=time.perf_counter() - start)
    comparison = {"config": config, "runs": results}
    if out_dir is not None:
        comparison["report"] = str(write_results(comparison, out_dir))
    return comparison
