"""Interactive explorers for the lecture notebooks.

Each widget comes in two parts: a plain function that draws one static figure (it runs and is
tested without a browser) and a ``*_widget`` function that wraps it in ipywidgets controls.
Chapters add their widgets below, each in its own block.
"""

import matplotlib.pyplot as plt
import numpy as np

from course import landscapes

# --- Chapter 1: the learning-rate slider on a 1-D valley --------------------------------------


def lr_valley_figure(lr=0.1, steps=10, w0=0.0, landscape=landscapes.quadratic):
    """Gradient descent on a 1-D valley with step size ``lr``: the steps drawn on the curve, and
    the distance to the minimum per step on a log scale. Returns the figure."""
    from course.plotting import descent_1d

    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    path = [float(w0)]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            path.append(path[-1] - lr * float(landscape.grad(path[-1])))
    path = np.array(path)
    fig, (ax_curve, ax_dist) = plt.subplots(1, 2, figsize=(10, 3.8))
    descent_1d(landscape, path, ax=ax_curve)
    ax_curve.set_title(f"${landscape.formula}$, $\\eta = {lr:g}$")
    distance = np.abs(path - landscape.minima[0])
    with np.errstate(all="ignore"):
        ax_dist.semilogy(np.where(distance > 0, distance, np.nan), "o-", ms=4)
    ax_dist.set(xlabel="step", ylabel=r"$|w_k - w^*|$", title="distance to the minimum")
    fig.tight_layout()
    return fig


def lr_valley_widget(landscape=landscapes.quadratic):
    """``lr_valley_figure`` with a learning-rate slider (log scale) and a steps slider."""
    import ipywidgets as widgets
    from IPython.display import display

    def draw(lr, steps):
        fig = lr_valley_figure(lr, steps, landscape=landscape)
        display(fig)
        plt.close(fig)

    return widgets.interactive(
        draw,
        lr=widgets.FloatLogSlider(value=0.1, base=10, min=-2, max=0.2, step=0.02,
                                  description="η"),
        steps=widgets.IntSlider(value=10, min=1, max=40, description="steps"),
    )


# --- Chapter 7: an optimizer race on Rosenbrock / Beale ---------------------------------------

RACE_LANDSCAPES = {"rosenbrock": landscapes.rosenbrock, "beale": landscapes.beale}

# Each racer: (label, torch.optim class name, hyper-parameters). Learning rates are chosen per
# landscape so that every racer makes visible progress from the default start without diverging
# or turning chaotic (RMSprop at lr 1e-2 on Rosenbrock spikes, and rounding then decides its path).
RACE_DEFAULTS = {
    "rosenbrock": {
        "start": (-1.5, 2.0),
        "racers": [("SGD", "SGD", {"lr": 5e-4}),
                   ("SGD + momentum 0.9", "SGD", {"lr": 5e-4, "momentum": 0.9}),
                   ("RMSprop", "RMSprop", {"lr": 5e-3}),
                   ("Adam", "Adam", {"lr": 5e-2})],
    },
    "beale": {
        "start": (1.0, 1.5),
        "racers": [("SGD", "SGD", {"lr": 1e-3}),
                   ("SGD + momentum 0.9", "SGD", {"lr": 1e-3, "momentum": 0.9}),
                   ("RMSprop", "RMSprop", {"lr": 1e-2}),
                   ("Adam", "Adam", {"lr": 5e-2})],
    },
}


def _race_landscape(name):
    if name not in RACE_LANDSCAPES:
        raise ValueError(f"landscape must be one of {sorted(RACE_LANDSCAPES)}, got {name!r}")
    return RACE_LANDSCAPES[name]


def race_paths(landscape="rosenbrock", start=None, steps=1000, racers=None):
    """Run each racer (``torch.optim`` class name and hyper-parameters) from ``start`` on the
    landscape for ``steps`` steps, in float64. Returns ``{label: path}``, each path of shape
    ``(steps + 1, 2)``; once a racer's point stops being finite (it diverged) the rest of its
    path is NaN."""
    import torch

    surface = _race_landscape(landscape)
    defaults = RACE_DEFAULTS[landscape]
    start = np.asarray(defaults["start"] if start is None else start, dtype=float)
    if start.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {start.shape}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    paths = {}
    for label, class_name, hyper in defaults["racers"] if racers is None else racers:
        w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        optimizer = getattr(torch.optim, class_name)([w], **hyper)
        path = np.full((steps + 1, 2), np.nan)
        path[0] = start
        with np.errstate(all="ignore"):
            for k in range(1, steps + 1):
                w.grad = torch.from_numpy(surface.grad(w.detach().numpy()))
                optimizer.step()
                point = w.detach().numpy()
                if not np.all(np.isfinite(point)) or np.abs(point).max() > 1e6:
                    break  # diverged: leave the rest NaN
                path[k] = point
        paths[label] = path
    return paths


def _scaled(racers, lr_scale):
    return [(label, name, {**hyper, "lr": hyper["lr"] * lr_scale}) for label, name, hyper in racers]


def optimizer_race_figure(landscape="rosenbrock", start=None, steps=1000, racers=None,
                          lr_scale=1.0):
    """The race as one static figure: paths over the contours, and loss against step.
    ``lr_scale`` multiplies every racer's learning rate."""
    surface = _race_landscape(landscape)
    if not lr_scale > 0:
        raise ValueError(f"lr_scale must be > 0, got {lr_scale!r}")
    racers = _scaled(RACE_DEFAULTS[landscape]["racers"] if racers is None else racers, lr_scale)
    paths = race_paths(landscape, start, steps, racers)
    first = next(iter(paths.values()))[0]
    (x_lo, x_hi), (y_lo, y_hi) = surface.bounds
    grid = np.stack(np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 300)), -1)
    fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax_map.contour(grid[..., 0], grid[..., 1], np.log10(surface.f(grid) + 1e-3), levels=25,
                   cmap="Greys", linewidths=0.7)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, path), colour in zip(paths.items(), colours, strict=False):
        ax_map.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, color=colour, label=label)
        with np.errstate(all="ignore"):
            ax_loss.semilogy(surface.f(path), color=colour, label=label)
    for minimum in surface.minima:
        ax_map.plot(*minimum, "*", color="gold", ms=14, mec="k")
    ax_map.plot(*first, "ko", ms=5)
    ax_map.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="$x$", ylabel="$y$",
               title=f"{surface.name}: {steps} steps from ({first[0]:g}, {first[1]:g})")
    ax_map.legend(fontsize=8, loc="lower left")
    ax_loss.set(xlabel="step", ylabel="loss", title="loss along the way")
    fig.tight_layout()
    return fig


def optimizer_race_widget():
    """The race with controls: landscape, number of steps, and a factor on every learning rate."""
    import ipywidgets as widgets
    from IPython.display import display

    def draw(landscape, steps, lr_scale):
        fig = optimizer_race_figure(landscape, steps=steps, lr_scale=lr_scale)
        display(fig)
        plt.close(fig)  # shown once, in the widget's output, and not kept open

    return widgets.interactive(
        draw,
        landscape=widgets.Dropdown(options=sorted(RACE_LANDSCAPES), value="rosenbrock"),
        steps=widgets.IntSlider(value=1000, min=100, max=3000, step=100),
        lr_scale=widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.1,
                                        description="lr × "),
    )
