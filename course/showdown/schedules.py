"""Learning-rate schedules of the showdown, from ``torch.optim.lr_scheduler``, stepped after
every batch over the ``total_steps`` of a run.

- ``constant``: the rate stays η;
- ``step``: ``StepLR``, η × 0.1 after half of the steps;
- ``cosine``: ``CosineAnnealingLR`` from η down to 0 over the run;
- ``warmup_cosine``: ``LinearLR`` from η/100 up to η over the first tenth of the steps, then
  ``CosineAnnealingLR`` down to 0 over the rest (``SequentialLR`` chains the two).
"""

import torch
from torch.optim import lr_scheduler

__all__ = ["SCHEDULES", "make_scheduler", "check_schedule"]

SCHEDULES = ("constant", "step", "cosine", "warmup_cosine")
WARMUP_FRACTION, WARMUP_START = 0.1, 0.01


def check_schedule(name: str) -> str:
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    return name


def make_scheduler(optimizer: torch.optim.Optimizer, name: str,
                   total_steps: int) -> lr_scheduler.LRScheduler | None:
    """The scheduler of schedule ``name`` for ``optimizer`` (``None`` for ``constant``); call
    its ``step()`` after each ``optimizer.step()``."""
    check_schedule(name)
    if name == "constant":
        return None
    if name == "step":
        # one drop, after the first ceil(T / 2) steps (T // 2 would drop again at the last
        # step of an odd T)
        return lr_scheduler.StepLR(optimizer, step_size=max(1, -(-total_steps // 2)), gamma=0.1)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    return lr_scheduler.SequentialLR(optimizer, [
        lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0,
                              total_iters=warmup),
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup)),
    ], milestones=[warmup])
