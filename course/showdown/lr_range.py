"""The LR range test on MNIST: raise the learning rate exponentially, one batch per step, and
read a good rate off the smoothed loss curve."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from course.showdown.registry import resolve
from course.showdown.train import epoch_order, initial_model, load_data, pick_device

__all__ = ["lr_range_test", "smooth", "suggestions", "plot_lr_range"]


def smooth(losses, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average: s_t = a_t / (1 − β^t),
    a_t = β·a_{t−1} + (1 − β)·loss_t, a_0 = 0."""
    average, out = 0.0, []
    for t, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**t))
    return np.array(out)


def suggestions(lrs, smoothed, skip_start: float = 0.1, skip_end: int = 5) -> dict[str, float]:
    """Three readings of a sweep, ignoring its first 10 % and last few points:
    ``steepest`` (most negative slope of loss vs log lr), ``valley`` (middle of the longest
    stretch where the loss keeps falling) and ``min_div_10`` (the lr of the lowest loss ÷ 10)."""
    lrs, smoothed = np.asarray(lrs, float), np.asarray(smoothed, float)
    lo, hi = int(len(lrs) * skip_start), len(lrs) - skip_end
    if hi - lo < 3:
        raise ValueError(f"a sweep of {len(lrs)} points is too short to read")
    lrs, smoothed = lrs[lo:hi], smoothed[lo:hi]
    slope = np.gradient(smoothed, np.log(lrs))
    best_start, best_len, start = 0, 1, 0
    for i in range(1, len(smoothed)):
        if smoothed[i] >= smoothed[i - 1]:
            start = i
        elif i - start + 1 > best_len:
            best_start, best_len = start, i - start + 1
    return {"steepest": float(lrs[np.argmin(slope)]),
            "valley": float(lrs[best_start + best_len // 2]),
            "min_div_10": float(lrs[np.argmin(smoothed)] / 10)}


def lr_range_test(optimizer="momentum", start_lr: float = 1e-7, end_lr: float = 10.0,
                  steps: int = 100, batch_size: int = 64, seed: int = 0, device: str = "auto",
                  data=None, data_dir=None, stop_factor: float = 4.0) -> dict:
    """Sweep ``lr_k = start·(end/start)^(k/(steps−1))``, one training step per rate, from the
    showdown's initial weights; stop once the smoothed loss exceeds ``stop_factor`` × its best
    (or turns NaN). Returns the rates, raw and smoothed losses and the suggestions."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if steps < 20:
        raise ValueError(f"a sweep needs at least 20 steps, got {steps}")
    spec = resolve(optimizer)
    data = data if data is not None else load_data(pick_device(device), data_dir=data_dir)
    model = initial_model(seed).to(data.x_train.device, data.x_train.dtype)
    opt = spec.factory(model.parameters(), lr=start_lr)
    n = len(data.y_train)
    order = torch.cat([epoch_order(n, e, seed) for e in range(math.ceil(steps * batch_size / n))])
    lrs, losses, best, average, beta = [], [], math.inf, 0.0, 0.98
    for k in range(steps):
        lr = start_lr * (end_lr / start_lr) ** (k / (steps - 1))
        for group in opt.param_groups:
            group["lr"] = lr
        index = order[k * batch_size:(k + 1) * batch_size].to(data.x_train.device)
        opt.zero_grad()
        loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index])
        loss.backward()
        opt.step()
        lrs.append(lr)
        losses.append(loss.item())
        average = beta * average + (1 - beta) * losses[-1]
        current = average / (1 - beta ** (k + 1))  # the last value of smooth(losses)
        if not math.isfinite(current) or current > stop_factor * best:
            break
        best = min(best, current)
    smoothed = smooth(losses, beta)
    return {"optimizer": spec.name, "lrs": lrs, "losses": losses,
            "smoothed": smoothed.tolist(), "suggestions": suggestions(lrs, smoothed)}


def plot_lr_range(sweeps, ax=None):
    """Smoothed loss against lr (log axis) for one sweep or a list, with the valley marked."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for sweep in [sweeps] if isinstance(sweeps, dict) else sweeps:
        line, = ax.plot(sweep["lrs"], sweep["smoothed"], label=sweep["optimizer"])
        valley = sweep["suggestions"]["valley"]
        y = np.interp(np.log(valley), np.log(sweep["lrs"]), sweep["smoothed"])
        ax.plot([valley], [y], "o", color=line.get_color(),
                label=f"{sweep['optimizer']} valley: lr = {valley:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
