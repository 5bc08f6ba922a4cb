"""The LR range test ("LR finder"), computed the way fastai's ``Learner.lr_find`` computes it.

Train for ``num_it`` steps, one batch each, multiplying the learning rate by the same factor at
every step. The loss stays flat while the rate is too small to matter, falls once it is large
enough to teach, and explodes when it is too large. A good rate to train at lies where the loss
still falls (Smith, 2017, "Cyclical learning rates for training neural networks"). fastai reads
three rates off the curve; this module follows its code line by line, so its numbers are the
ones a fastai user would get (up to the float32 rounding fastai computes in).

    import torch.nn.functional as F
    from course.lr_range import lr_range_test, plot_lr_range

    sweep = lr_range_test(model, optimizer, batches, loss_fn=F.mse_loss)
    sweep.suggestions.valley           # the rate fastai's lr_find() returns by default
    plot_lr_range(sweep)               # or plot_lr_range({"SGD": sweep_sgd, "Adam": sweep_adam})
    json.dumps(sweep.to_dict())        # plain lists, numbers and strings

The API:

- ``smooth(losses, beta=0.98) -> np.ndarray``: fastai's smoothed loss (``AvgSmoothLoss``).
- ``suggest(lrs, smoothed, *, num_it) -> Suggestions``: the ``valley``, ``steep`` and
  ``minimum_div_10`` rates of a recorded sweep, with the index and loss of the point each was
  read at (``valley_index``, ``valley_loss``, ...), as ``lr_find`` computes them.
- ``lr_range_test(model, optimizer, batches, loss_fn=F.cross_entropy, *, start_lr=1e-7,
  end_lr=10.0, num_it=100, beta=0.98, stop_div=4.0) -> LRSweep``: run the sweep and leave the
  model, the optimizer and the random generators exactly as they were.
- ``plot_lr_range(sweeps, ax=None) -> Axes``: the smoothed loss against the rate, suggestions
  marked, for one sweep or a dict ``{label: sweep}``.
"""

import copy
import math
import random
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import chain

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LRSweep", "Suggestions", "lr_range_test", "plot_lr_range", "smooth", "suggest"]

SKIP_END = 5  # lr_find reads recorder.losses[num_it//10:-5]
MIN_POINTS = 2  # steep needs one pair of points; fastai's lr_find fails with fewer


def smooth(losses, beta: float = 0.98) -> np.ndarray:
    """The bias-corrected moving average fastai records as the loss of each step.

    ``a_t = beta * a_(t-1) + (1 - beta) * loss_t`` from ``a_0 = 0``, reported as
    ``a_t / (1 - beta**t)`` so that the first values are not pulled towards 0 (fastai's
    ``AvgSmoothLoss``: ``val = torch.lerp(loss, val, beta)``, ``value = val / (1 - beta**count)``,
    the same average in float32). A NaN stays in the average for good, as in fastai."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    average, out = 0.0, []
    for t, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * float(loss)
        out.append(average / (1 - beta**t))
    return np.array(out, dtype=float)


@dataclass(frozen=True)
class Suggestions:
    """Three rates read off a sweep, as ``lr_find(suggest_funcs=(valley, steep, minimum))``.

    ``valley``, ``steep`` and ``minimum_div_10`` are the rates to train at. ``*_index`` is the
    position in the sweep (``lrs[i]``, ``smoothed[i]``) of the point each was read at and
    ``*_loss`` its smoothed loss, the points fastai's plot marks. For the minimum that point is
    the lowest loss itself: the suggested rate is a tenth of ``lrs[minimum_index]``."""

    valley: float
    steep: float
    minimum_div_10: float
    valley_index: int
    steep_index: int
    minimum_index: int
    valley_loss: float
    steep_loss: float
    minimum_loss: float


def _valley(losses) -> int:
    """fastai's ``valley``: the longest strictly decreasing subsequence, read about halfway.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence ending at ``i`` (not
    a run of consecutive decreases: single upticks inside a falling stretch are skipped over).
    ``max_end`` is the first index where the longest one ends."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:  # inside the j loop, as in fastai
                max_end = i
                max_start = max_end - lds[max_end]
    # fastai: `sections = (max_end - max_start) / 3; idx = max_start + int(sections) +
    # int(sections/2)`. max_start is max_end minus the subsequence's length (one before where
    # it would start if it had no gaps), so idx lands about half that length before max_end.
    # Two odd cases, matched: if the loss never falls, max_start = max_end = 0 and idx = 0; if
    # the longest subsequence is the first two points, max_start = -1 and idx = -1 + 0 + 0,
    # which fastai's `lrs[idx]` reads as the last point.
    sections = (max_end - max_start) / 3
    return (max_start + int(sections) + int(sections / 2)) % n


def _steep(lrs, losses) -> int:
    """fastai's ``steep``: the most negative slope of the loss against log(lr).

    ``grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())``, and fastai reports
    ``lrs[grads.argmin()]``, the left end of the steepest segment (the first one on ties)."""
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return int(np.argmin(grads))


def suggest(lrs, smoothed, *, num_it: int) -> Suggestions:
    """The valley, steep and minimum ÷ 10 rates of a sweep, exactly as fastai's ``lr_find``.

    ``lrs`` and ``smoothed`` are the sweep as recorded (``smooth`` of the raw losses) and
    ``num_it`` the number of steps it was asked for (it may have stopped earlier). Like fastai,
    drop the first ``num_it // 10`` points (the loss has not moved yet and the average is still
    settling) and the last 5 (the explosion), then everything from the first NaN on, and read the
    rest. Indices in the result count from the start of the whole sweep."""
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    if lrs.shape != smoothed.shape or lrs.ndim != 1:
        raise ValueError(f"lrs and smoothed must be 1-D and alike, got {lrs.shape} and "
                         f"{smoothed.shape}")
    skip = num_it // 10
    lrs, losses = lrs[skip:-SKIP_END], smoothed[skip:-SKIP_END]
    nan = np.flatnonzero(np.isnan(losses))
    if len(nan):
        lrs, losses = lrs[:nan[0]], losses[:nan[0]]
    if len(losses) < MIN_POINTS:
        raise ValueError(
            f"too few points to read: {len(losses)}, where fastai's rules need {MIN_POINTS} "
            f"(lr_find drops the first num_it // 10 = {skip}, the last {SKIP_END} and all from "
            "the first NaN on). Sweep more steps (num_it), or over a narrower range (a smaller "
            "end_lr) so that more steps come before the loss explodes, or stop later (a larger "
            "stop_div), or give the sweep more batches.")
    valley, steep, minimum = _valley(losses.tolist()), _steep(lrs, losses), int(np.argmin(losses))
    return Suggestions(
        valley=float(lrs[valley]), steep=float(lrs[steep]),
        minimum_div_10=float(lrs[minimum]) / 10,
        valley_index=skip + valley, steep_index=skip + steep, minimum_index=skip + minimum,
        valley_loss=float(losses[valley]), steep_loss=float(losses[steep]),
        minimum_loss=float(losses[minimum]))


@dataclass(frozen=True)
class LRSweep:
    """One LR range test: the rate, the raw loss and the smoothed loss of every step taken.

    ``stopped`` says why it ended: ``"finished"`` (all ``num_it`` steps), ``"diverged"`` (the
    smoothed loss passed ``stop_div`` times its best), ``"not finite"`` (the smoothed loss
    turned NaN or infinite) or ``"out of batches"``."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str
    num_it: int
    suggestions: Suggestions

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings, for ``json.dumps`` (a NaN loss is written NaN)."""
        return asdict(self)


@contextmanager
def _restored(model, optimizer):
    """Put the model (parameters, gradients, buffers, train/eval modes), the optimizer (state and
    param groups) and the global random generators back as they were, however the block ends."""
    tensors = dict(chain(model.named_parameters(), model.named_buffers()))
    values = {name: t.detach().clone() for name, t in tensors.items()}
    grads = {name: None if p.grad is None else p.grad.clone()
             for name, p in model.named_parameters()}
    modes = {module: module.training for module in model.modules()}
    optimizer_state = copy.deepcopy(optimizer.state_dict())  # state_dict() holds references
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda = sorted({t.device.index for t in tensors.values() if t.is_cuda})
    try:
        with torch.random.fork_rng(devices=cuda, device_type="cuda"):  # torch CPU and CUDA
            yield
    finally:
        with torch.no_grad():
            for name, t in tensors.items():
                t.copy_(values[name])
        for name, p in model.named_parameters():
            p.grad = grads[name]
        for module, training in modes.items():
            module.training = training
        optimizer.load_state_dict(optimizer_state)
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def lr_range_test(model, optimizer, batches, loss_fn=F.cross_entropy, *, start_lr: float = 1e-7,
                  end_lr: float = 10.0, num_it: int = 100, beta: float = 0.98,
                  stop_div: float | None = 4.0) -> LRSweep:
    """Sweep the learning rate from ``start_lr`` towards ``end_lr`` over ``num_it`` steps.

    ``batches`` yields ``(inputs, targets)`` on the model's device; step ``k`` (from 0) trains on
    one batch at ``lr_k = start_lr * (end_lr / start_lr) ** (k / num_it)`` (fastai's
    ``SchedExp`` at ``train_iter / num_it``: the last rate stays one step short of ``end_lr``),
    set on every param group, with ``loss_fn(model(inputs), targets)``, one ``backward`` and one
    ``optimizer.step()``. After each step, in the order of fastai's ``LRFinder.after_batch``:
    the best smoothed loss is updated, then the sweep stops if the smoothed loss is above
    ``stop_div`` times the best (``None``: never). It also stops when the smoothed loss is NaN or
    infinite, or when ``batches`` runs out. The model is put in training mode for the sweep.

    Afterwards the model, the optimizer and the random generators (torch's, on the CPU and the
    model's CUDA devices, Python's and NumPy's) are exactly as before: the sweep changes nothing
    but what it returns. A sweep too short to read raises ``ValueError`` (see ``suggest``)."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if isinstance(stop_div, bool) or (stop_div is not None and not stop_div > 1):
        raise ValueError(f"stop_div is a factor above 1 or None (fastai's stop_div=True is 4.0), "
                         f"got {stop_div!r}")
    if num_it - num_it // 10 - SKIP_END < MIN_POINTS:
        raise ValueError(f"num_it={num_it} is too few: after dropping the first num_it // 10 "
                         f"and the last {SKIP_END} points, fewer than {MIN_POINTS} are left to "
                         "read; raise num_it")
    rates = [start_lr * (end_lr / start_lr) ** (k / num_it) for k in range(num_it)]
    losses, best, stopped = [], math.inf, None
    with _restored(model, optimizer):
        model.train()
        for lr, (inputs, targets) in zip(rates, batches, strict=False):
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            current = smooth(losses, beta)[-1]  # one formula; num_it**2 / 2 additions at most
            if current < best:
                best = current
            if stop_div is not None and current > stop_div * best:
                stopped = "diverged"
                break
            if not math.isfinite(current):
                stopped = "not finite"
                break
    if stopped is None:
        stopped = "finished" if len(losses) == num_it else "out of batches"
    lrs, smoothed = rates[:len(losses)], smooth(losses, beta).tolist()
    # fastai never stops on NaN (`NaN > 4*best` is False) and a NaN never leaves the average:
    # its record runs on to num_it NaN points and lr_find's "drop the last 5" falls on those.
    # We stop at once; reading the record padded with NaN gives fastai's suggestions.
    tail = num_it - len(losses) if smoothed and math.isnan(smoothed[-1]) else 0
    try:
        suggestions = suggest(rates[:len(losses) + tail], smoothed + [math.nan] * tail,
                              num_it=num_it)
    except ValueError as error:
        raise ValueError(f"the sweep stopped after {len(losses)} of {num_it} steps ({stopped}"
                         f"{f', at lr = {lrs[-1]:.3g}' if lrs else ''}): {error}") from None
    return LRSweep(lrs=lrs, losses=losses, smoothed=smoothed, stopped=stopped, num_it=num_it,
                   suggestions=suggestions)


def plot_lr_range(sweeps, ax=None):
    """Smoothed loss against the learning rate (log axis), each suggestion marked.

    ``sweeps`` is one ``LRSweep`` or a dict ``{label: LRSweep}``. The loss axis shows the useful
    range, from a little under the lowest loss to a little above the first one, so that neither
    the flat start nor the explosion squeezes the part where the loss falls. Markers: ``o`` the
    valley, ``^`` steep, ``v`` the minimum (the suggestion is a tenth of its rate)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    labelled = {"": sweeps} if isinstance(sweeps, LRSweep) else dict(sweeps)
    marks = {"valley": ("o", "valley"), "steep": ("^", "steep"),
             "minimum": ("v", "minimum (a tenth of its rate is suggested)")}
    lowest, highest = math.inf, -math.inf
    for label, sweep in labelled.items():
        s = sweep.suggestions
        text = f"valley {s.valley:.2g}, steep {s.steep:.2g}, minimum ÷ 10 {s.minimum_div_10:.2g}"
        line, = ax.plot(sweep.lrs, sweep.smoothed, label=f"{label}: {text}" if label else text)
        for name, (marker, _) in marks.items():
            i = getattr(s, f"{name}_index")
            ax.plot(sweep.lrs[i], sweep.smoothed[i], marker, color=line.get_color(), ms=8,
                    mec="black")
        lowest = min(lowest, np.nanmin(sweep.smoothed))
        highest = max(highest, sweep.smoothed[0], s.valley_loss, s.steep_loss)
    if highest > lowest:
        span = highest - lowest
        ax.set_ylim(lowest - 0.1 * span, highest + 0.3 * span)
    key = [Line2D([], [], ls="", marker=marker, color="0.6", mec="black", label=name)
           for marker, name in marks.values()]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + key, fontsize=8, loc="best")
    ax.set(xscale="log", xlabel="learning rate", ylabel="smoothed training loss")
    ax.grid(alpha=0.3)
    return ax
