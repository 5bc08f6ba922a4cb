"""Kept only for the chapter 4 lecture until it reads ``course.lr_range`` (the course's one LR
range test, which the showdown uses); nothing else imports this module."""

import numpy as np

__all__ = ["smooth", "suggestions"]


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
