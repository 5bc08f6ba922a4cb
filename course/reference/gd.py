"""Plain gradient descent: one step and a whole trajectory."""

from collections.abc import Callable

import numpy as np


def gd_step(w, grad, lr):
    """One gradient-descent step: w - lr * grad."""
    return np.asarray(w, dtype=float) - lr * np.asarray(grad, dtype=float)


def run_gd(grad_fn: Callable, w0, lr: float, n_steps: int) -> np.ndarray:
    """Run ``n_steps`` steps from ``w0``; return the ``n_steps + 1`` points visited, w0 first."""
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    w = np.asarray(w0, dtype=float)
    path = [w]
    for _ in range(n_steps):
        w = gd_step(w, grad_fn(w), lr)
        path.append(w)
    return np.array(path)
