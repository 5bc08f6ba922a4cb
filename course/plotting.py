"""Plots shared by the lecture notebooks: a 1-D loss curve with the steps taken on it, a 2-D
contour map with trajectories, and loss curves on a log scale. Each function draws on the axes it
is given (or new ones) and returns them, so notebooks can combine panels freely."""

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax, figsize=(6, 4)):
    return plt.subplots(figsize=figsize)[1] if ax is None else ax


def descent_1d(landscape, path, ax=None, label=None, color="C1"):
    """The curve of a 1-D landscape with the points of ``path`` drawn on it, joined in order."""
    ax = _axes(ax)
    lo, hi = landscape.bounds
    w = np.linspace(lo, hi, 400)
    ax.plot(w, landscape.f(w), color="0.3", lw=1.5)
    path = np.asarray(path, dtype=float)
    shown = path[np.isfinite(path) & (path >= lo) & (path <= hi)]
    ax.plot(shown, landscape.f(shown), "o-", color=color, ms=4, lw=1, label=label)
    if len(shown):
        ax.plot(shown[0], landscape.f(shown[0]), "ko", ms=6)
    ax.set(xlabel="$w$", ylabel="loss", title=f"${landscape.formula}$")
    return ax


def contour_2d(landscape, paths=None, ax=None, levels=30, log_levels=True, resolution=300):
    """Contours of a 2-D landscape (log-spaced when ``log_levels``) with ``paths``, a dict
    ``{label: array of shape (steps + 1, 2)}``, drawn on top; known minima as gold stars."""
    ax = _axes(ax, figsize=(6, 5))
    (x_lo, x_hi), (y_lo, y_hi) = landscape.bounds
    grid = np.stack(np.meshgrid(np.linspace(x_lo, x_hi, resolution),
                                np.linspace(y_lo, y_hi, resolution)), axis=-1)
    z = landscape.f(grid)
    if log_levels:
        z = np.log10(z - z.min() + 1e-3)
    ax.contour(grid[..., 0], grid[..., 1], z, levels=levels, cmap="Greys", linewidths=0.7)
    for i, (label, path) in enumerate((paths or {}).items()):
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, color=f"C{i}", label=label)
        ax.plot(*path[0], "ko", ms=5)
    for minimum in landscape.minima:
        ax.plot(*minimum, "*", color="gold", ms=14, mec="k")
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="$w_1$", ylabel="$w_2$",
           title=f"${landscape.formula}$")
    if paths:
        ax.legend(fontsize=8)
    return ax


def loss_curves(curves, ax=None, xlabel="step", ylabel="loss", title=None):
    """Several loss curves ``{label: values}`` on a log scale."""
    ax = _axes(ax)
    with np.errstate(all="ignore"):
        for label, values in curves.items():
            ax.semilogy(np.asarray(values, dtype=float), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return ax
