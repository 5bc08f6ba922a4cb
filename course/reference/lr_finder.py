"""The LR range test of the chapter-4 exercise, in its ``train_step`` form: one training step per
learning rate, the rates growing geometrically from ``lr_min`` to ``lr_max``, the loss smoothed
with a bias-corrected moving average, and the sweep stopped once the smoothed loss passes
``stop_factor`` times its best. (Smith, 2017, raised the rate linearly; this exponential, smoothed
form is fastai's ``lr_find``, which ``course.lr_range`` follows line by line with fastai's own
spacing ``k / steps``.)"""

import math


def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, steps=100, beta=0.98, stop_factor=4.0):
    """``train_step(lr)`` takes one training step at ``lr`` and returns its loss.

    Returns ``(lrs, smoothed)``: the rates tried and the smoothed losses, up to and including the
    step at which the sweep stopped (the smoothed loss above ``stop_factor`` x its best, or not
    finite)."""
    if not 0 < lr_min < lr_max:
        raise ValueError(f"need 0 < lr_min < lr_max, got {lr_min} and {lr_max}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    ratio = (lr_max / lr_min) ** (1 / (steps - 1))
    lrs, smoothed, average, best = [], [], 0.0, math.inf
    for k in range(steps):
        lr = lr_min * ratio**k
        average = beta * average + (1 - beta) * train_step(lr)
        lrs.append(lr)
        smoothed.append(average / (1 - beta ** (k + 1)))
        if not math.isfinite(smoothed[-1]) or smoothed[-1] > stop_factor * best:
            break
        best = min(best, smoothed[-1])
    return lrs, smoothed
