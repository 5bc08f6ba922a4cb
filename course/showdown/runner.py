"""The lab as functions: the race, the LR range test on MNIST, and the whole lab that the
command line (``cli.py``) and chapter 8 run. A run goes one way: these functions build the
runs, the trainer (``fast/``) trains them, and ``report.py`` writes them up."""

import math
import time
from collections.abc import Sequence

import torch

from course.lr_range import LRSweep, lr_range_test
from course.showdown import report
from course.showdown.data import Data, epoch_order, load_data, pick_device
from course.showdown.fast import train_stacked
from course.showdown.fast.trainer import resolve_workers, torch_threads
from course.showdown.loop import check_run_length
from course.showdown.model import initial_model
from course.showdown.optimizers import DEFAULT_OPTIMIZERS, OptimizerSpec, check_lr, resolve
from course.showdown.records import RunResult, RunSpec
from course.showdown.schedules import SCHEDULES

__all__ = ["run_showdown", "compare_schedules", "mnist_lr_range", "run_lab", "seed_list"]

MODEL = "MLP 784-128-10 (ReLU)"


def seed_list(seeds: int, first_seed: int = 0) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer (how many), got {seeds!r}")
    return list(range(first_seed, first_seed + seeds))


def _specs(optimizers, lrs=None) -> list[tuple[OptimizerSpec, float]]:
    """Each optimizer's spec and rate (``lrs`` overrides rates by name)."""
    specs = [resolve(o) for o in optimizers]
    names = [s.name for s in specs]
    if not specs:
        raise ValueError("no optimizer to race")
    if len(set(names)) != len(names):
        raise ValueError(f"an optimizer is listed twice: {names}")
    lrs = dict(lrs or {})
    unknown = set(lrs) - set(names)
    if unknown:
        raise ValueError(f"a learning rate is given for {sorted(unknown)}, which is not raced")
    return [(s, check_lr(s.name, lrs.get(s.name, s.lr))) for s in specs]


def _data(data, device, subset, data_dir) -> Data:
    return data if data is not None else load_data(pick_device(device), subset, data_dir)


def _config(data: Data, seeds, epochs, batch_size, workers, **extra) -> dict:
    device = data.x_train.device
    return {"model": MODEL, "epochs": epochs, "batch_size": batch_size, "seeds": seeds,
            "device": str(device), "train_size": len(data.y_train),
            "test_size": len(data.y_test), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "workers": resolve_workers(workers, device),
            **extra}


def _train(specs, experiment, data, epochs, batch_size, progress, workers) -> list[RunResult]:
    results = train_stacked(specs, data, epochs, batch_size, progress, workers)
    for result in results:
        result.experiment = experiment
    return results


def run_showdown(optimizers=DEFAULT_OPTIMIZERS, epochs: int = 10, batch_size: int = 64,
                 lrs: dict[str, float] | None = None, seed: int = 0, seeds: int = 1,
                 device: str = "auto", subset: int | None = None, data_dir=None,
                 progress: bool = True, data: Data | None = None,
                 workers: int | str = 1) -> dict:
    """The race: one MLP per optimizer and seed on MNIST; every optimizer of a seed starts
    from the same weights and sees the same batches in the same order.

    ``optimizers`` are registered names, specs or ``(name, optimizer_class, lr)`` tuples;
    ``lrs`` overrides rates by name; ``seeds`` runs seeds ``seed, seed + 1, ...``. ``data``
    (from ``load_data``) skips loading MNIST again. Returns ``{"config": ..., "runs": [...]}``
    with one ``RunResult`` per optimizer and seed."""
    check_run_length(epochs, batch_size)
    pairs, seeds = _specs(optimizers, lrs), seed_list(seeds, seed)
    data = _data(data, device, subset, data_dir)
    start = time.perf_counter()
    runs = _train([RunSpec(s, lr, sd) for sd in seeds for s, lr in pairs], "race", data,
                  epochs, batch_size, progress, workers)
    return {"config": _config(data, seeds, epochs, batch_size, workers,
                              seconds=time.perf_counter() - start), "runs": runs}


def compare_schedules(optimizer="adam", lr: float | None = None, epochs: int = 10,
                      batch_size: int = 64, seed: int = 0, seeds: int = 1,
                      schedules: Sequence[str] = SCHEDULES, device: str = "auto",
                      subset: int | None = None, data_dir=None, progress: bool = True,
                      data: Data | None = None, workers: int | str = 1) -> dict:
    """One optimizer under each schedule (``course.showdown.schedules``), side by side: same
    start and same batches per seed."""
    check_run_length(epochs, batch_size)
    spec = resolve(optimizer)
    lr, seeds = check_lr(spec.name, spec.lr if lr is None else lr), seed_list(seeds, seed)
    data = _data(data, device, subset, data_dir)
    start = time.perf_counter()
    runs = _train([RunSpec(spec, lr, sd, name) for sd in seeds for name in schedules],
                  "schedules", data, epochs, batch_size, progress, workers)
    return {"config": _config(data, seeds, epochs, batch_size, workers,
                              seconds=time.perf_counter() - start), "runs": runs}


def mnist_lr_range(optimizer, data: Data, seed: int = 0, batch_size: int = 64,
                   num_it: int = 100, **options) -> LRSweep:
    """The LR range test (``course.lr_range.lr_range_test``) of one optimizer on MNIST: the
    race's initial weights of ``seed`` and its first batches, rates from 1e-7 to 10 over
    ``num_it`` steps (``options`` are passed on: ``start_lr``, ``end_lr``, ``stop_div``, ...).
    """
    spec = resolve(optimizer)
    x, y = data.x_train, data.y_train
    model = initial_model(seed).to(x.device, x.dtype)
    optimizer = spec.build(model.parameters(), spec.lr)
    epochs = math.ceil(num_it * batch_size / len(y))
    order = torch.cat([epoch_order(len(y), e, seed) for e in range(1, epochs + 1)])
    batches = ((x[i], y[i]) for i in order.to(x.device).split(batch_size))
    return lr_range_test(model, optimizer, batches, num_it=num_it, **options)


def _geometric_mean(values) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def run_lab(optimizers=DEFAULT_OPTIMIZERS, epochs: int = 10, seeds: int = 3, seed: int = 0,
            batch_size: int = 64, lrs: dict[str, float] | None = None, device: str = "auto",
            subset: int | None = None, data_dir=None, num_it: int = 100,
            progress: bool = True, data: Data | None = None, workers: int | str = 1,
            race_only: bool = False, out_dir=None, command: str | None = None) -> dict:
    """The whole lab, over the same seeds throughout:

    1. the race of ``optimizers`` at their default rates (or ``lrs``);
    2. the LR range test of each optimizer, for each seed;
    3. the race again, each optimizer at its suggested rate: fastai's valley, the geometric
       mean over the seeds;
    4. the optimizer and rate with the best mean final test accuracy of 1 and 3, under a
       constant rate, step decay, cosine decay and warm-up + cosine.

    ``race_only`` stops after 1. Returns ``{"config", "runs", "lr_range", "choices"}``; with
    ``out_dir``, also writes results.json, results.csv, the plots and report.md there
    (``command``, the command line that ran it, goes into the report)."""
    check_run_length(epochs, batch_size)
    pairs, seed_values = _specs(optimizers, lrs), seed_list(seeds, seed)
    data = _data(data, device, subset, data_dir)
    seconds, start = {}, time.perf_counter()
    sweeps, choices = [], {}
    race = [RunSpec(s, lr, sd) for sd in seed_values for s, lr in pairs]
    if race_only:
        runs = _train(race, "race", data, epochs, batch_size, progress, workers)
        seconds["race"] = time.perf_counter() - start
    else:
        # one model and batches of 64: more torch threads would only wait for each other
        with torch_threads(1 if data.x_train.device.type == "cpu" else torch.get_num_threads()):
            for spec, _ in pairs:
                for sd in seed_values:
                    sweep = mnist_lr_range(spec, data, sd, batch_size, num_it)
                    sweeps.append({"optimizer": spec.name, "seed": sd, **sweep.to_dict()})
        choices["tuned_lrs"] = {spec.name: _geometric_mean(
            [s["suggestions"]["valley"] for s in sweeps if s["optimizer"] == spec.name])
            for spec, _ in pairs}
        seconds["lr_range"] = time.perf_counter() - start
        # both races in one stack: they share the seeds, and bigger stacks train faster
        tuned = [RunSpec(s, choices["tuned_lrs"][s.name], sd) for sd in seed_values
                 for s, _ in pairs]
        both = _train(race + tuned, "race", data, epochs, batch_size, progress, workers)
        for result in both[len(race):]:
            result.experiment = "tuned"
        runs = both
        seconds["races"] = time.perf_counter() - start - seconds["lr_range"]
        best = report.best_group(runs)
        choices["schedule_optimizer"], choices["schedule_lr"] = best.optimizer, best.lr
        choices["schedule_from"] = best.experiment
        spec = next(s for s, _ in pairs if s.name == best.optimizer)
        schedules = [RunSpec(spec, best.lr, sd, name) for sd in seed_values
                     for name in SCHEDULES]
        runs += _train(schedules, "schedules", data, epochs, batch_size, progress, workers)
        seconds["schedules"] = (time.perf_counter() - start - seconds["lr_range"]
                                - seconds["races"])
    config = _config(data, seed_values, epochs, batch_size, workers, seconds=seconds,
                     lr_range={"start_lr": 1e-7, "end_lr": 10.0, "num_it": num_it},
                     command=command)
    lab = {"config": config, "runs": runs, "lr_range": sweeps, "choices": choices}
    if out_dir is not None:
        lab["report"] = str(report.write_report(lab, out_dir))
    return lab
