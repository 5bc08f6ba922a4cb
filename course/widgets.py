"""Interactive explorers for the lecture notebooks.

Each widget comes in two parts: a plain function that draws one static figure (it runs and is
tested without a browser) and a ``*_widget`` function that wraps it in ipywidgets controls.
Chapters add their widgets below, each in its own block.
"""

import matplotlib.pyplot as plt
import numpy as np

from course import landscapes


def _paths_on(surface, start, steps, racers):
    """Run each racer ``(label, torch.optim class name, hyper-parameters)`` from ``start`` on a
    2-D landscape for ``steps`` steps in float64; ``{label: path of shape (steps + 1, 2)}``, the
    rest of a path NaN once it diverges."""
    import torch

    start = np.asarray(start, dtype=float)
    if start.shape != (2,):
        raise ValueError(f"start must be a point (w1, w2), got shape {start.shape}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    paths = {}
    for label, class_name, hyper in racers:
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
    surface = _race_landscape(landscape)
    defaults = RACE_DEFAULTS[landscape]
    start = defaults["start"] if start is None else start
    return _paths_on(surface, start, steps, defaults["racers"] if racers is None else racers)


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


def race_losses(landscape="rosenbrock", lr_scales=(1 / 3, 1.0, 3.0), start=None, steps=1000,
                racers=None):
    """The race again with every racer's learning rate times each of ``lr_scales``:
    ``{label: array of final losses, one per scale}``, NaN where a run diverged (as in
    ``race_paths``). The scales of one racer run side by side, one parameter group each of a
    single ``torch.optim`` optimizer: the same arithmetic as separate runs, in fewer calls."""
    import torch

    surface = _race_landscape(landscape)
    defaults = RACE_DEFAULTS[landscape]
    start = np.asarray(defaults["start"] if start is None else start, dtype=float)
    if not all(scale > 0 for scale in lr_scales):
        raise ValueError(f"every lr scale must be > 0, got {tuple(lr_scales)!r}")
    losses = {}
    for label, class_name, hyper in defaults["racers"] if racers is None else racers:
        points = [torch.tensor(start, dtype=torch.float64, requires_grad=True) for _ in lr_scales]
        others = {key: value for key, value in hyper.items() if key != "lr"}
        optimizer = getattr(torch.optim, class_name)(
            [{"params": [point], "lr": hyper["lr"] * scale}
             for point, scale in zip(points, lr_scales, strict=True)], **others)
        alive = np.ones(len(points), dtype=bool)
        w = np.stack([start] * len(points))
        with np.errstate(all="ignore"):
            for _ in range(steps):
                for point, g, running in zip(points, surface.grad(w), alive, strict=True):
                    point.grad = torch.from_numpy(g if running else np.zeros_like(g))
                optimizer.step()
                w = np.stack([point.detach().numpy() for point in points])
                alive &= np.all(np.isfinite(w), axis=1) & (np.abs(w).max(axis=1) <= 1e6)
            losses[label] = np.where(alive, surface.f(w), np.nan)
    return losses


def race_rates_figure(losses_by_landscape, lr_scales=(1 / 3, 1.0, 3.0)):
    """Final loss against the factor on each racer's learning rate, one panel per landscape
    (``{landscape: race_losses(landscape, lr_scales)}``); a diverged run is drawn as an × at
    the top of its panel, one height per racer."""
    fig, axes = plt.subplots(1, len(losses_by_landscape), figsize=(11, 4), squeeze=False)
    for ax, (landscape, losses) in zip(axes[0], losses_by_landscape.items(), strict=True):
        top = max(np.nanmax(values) for values in losses.values()) * 10
        for i, (label, values) in enumerate(losses.items()):
            ax.loglog(lr_scales, values, "o-", color=f"C{i}", label=label)
            diverged = np.isnan(values)
            ax.loglog(np.asarray(lr_scales)[diverged], np.full(diverged.sum(), top * 3.0**i), "x",
                      color=f"C{i}", ms=9, mew=2)
        ax.set_xticks(lr_scales, [f"{scale:.3g}" for scale in lr_scales], rotation=45, fontsize=8)
        ax.minorticks_off()
        ax.set(xlabel="factor on the racer's learning rate", ylabel="loss after the race",
               title=_race_landscape(landscape).name)
        ax.legend(fontsize=8)
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


# --- Chapter 3: the batch-size noise explorer -------------------------------------------------
# A two-feature least-squares problem, so the loss has contours to draw on. Batches are drawn
# with torch (a seeded randperm cut into pieces), the way a DataLoader with shuffle=True does.

NOISE_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def noise_regression_data(n_samples=1000, seed=0):
    """``X`` (n_samples x 2, standard normal) and ``y = X @ (2, -1) + 0.5 * noise``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 2))
    return X, X @ np.array([2.0, -1.0]) + 0.5 * rng.normal(size=n_samples)


def _check_batch_size(batch_size, n_samples):
    if not (isinstance(batch_size, int | np.integer) and 1 <= batch_size <= n_samples):
        raise ValueError(f"batch_size must be a whole number from 1 to {n_samples}, "
                         f"got {batch_size!r}")


def minibatch_path(X, y, batch_size, lr=0.05, epochs=1, w0=(-2.0, 2.0), seed=0):
    """The points mini-batch gradient descent on mean((X w - y)^2) visits, one per update. A run
    that diverges stops at its last finite point (so the path is shorter)."""
    import torch

    _check_batch_size(batch_size, len(y))
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    generator = torch.Generator().manual_seed(seed)
    w = np.asarray(w0, dtype=float)
    path = [w]
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator).numpy()
            for start in range(0, len(y), batch_size):
                batch = order[start:start + batch_size]
                w = w - lr * 2 * X[batch].T @ (X[batch] @ w - y[batch]) / len(batch)
                if not np.all(np.abs(w) < 1e6):
                    return np.array(path)  # diverged
                path.append(w)
    return np.array(path)


def measured_gradient_noise(X, y, batch_sizes=NOISE_BATCH_SIZES, w=(0.0, 0.0), draws=500,
                            seed=0):
    """For each batch size, the root-mean-square distance between ``draws`` mini-batch
    gradients at ``w`` and the full-data gradient."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    w = np.asarray(w, dtype=float)
    residual = X @ w - y
    full = 2 * X.T @ residual / len(y)
    noise = []
    for batch_size in batch_sizes:
        _check_batch_size(batch_size, len(y))
        picks = np.stack([torch.randperm(len(y), generator=generator)[:batch_size].numpy()
                          for _ in range(draws)])
        grads = 2 * np.einsum("dbk,db->dk", X[picks], residual[picks]) / batch_size
        noise.append(np.sqrt(np.mean(np.sum((grads - full) ** 2, axis=1))))
    return np.array(noise)


def batch_noise_figure(batch_size=32, lr=0.05, epochs=1, seed=0):
    """Left: the path of mini-batch gradient descent with this batch size over the loss
    contours. Right: measured gradient noise against batch size (log-log) with the slope -1/2
    drawn through B = 1, and this batch size marked. Returns the figure."""
    X, y = noise_regression_data()
    path = minibatch_path(X, y, batch_size, lr, epochs, seed=seed)
    w_best = np.linalg.lstsq(X, y, rcond=None)[0]
    grid = np.stack(np.meshgrid(np.linspace(-3, 4, 200), np.linspace(-3, 3, 200)), axis=-1)
    loss = np.mean((grid @ X.T - y) ** 2, axis=-1)
    sizes = np.array(NOISE_BATCH_SIZES)
    noise = measured_gradient_noise(X, y, sizes, seed=seed)
    mine = measured_gradient_noise(X, y, [batch_size], seed=seed)[0]

    fig, (ax_map, ax_noise) = plt.subplots(1, 2, figsize=(11, 4.3))
    ax_map.contour(grid[..., 0], grid[..., 1], np.log10(loss), levels=20, cmap="Greys",
                   linewidths=0.7)
    ax_map.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.8, color="C0")
    ax_map.plot(*path[0], "ko", ms=5)
    ax_map.plot(*w_best, "*", color="gold", ms=14, mec="k")
    updates = epochs * -(-len(y) // batch_size)
    done = f"{updates} updates" if len(path) == updates + 1 else \
        f"diverged after {len(path)} of {updates} updates"
    ax_map.set(xlabel="$w_1$", ylabel="$w_2$", aspect="equal", xlim=(-3, 4), ylim=(-3, 3),
               title=f"B = {batch_size}: {done} in {epochs} epoch(s), $\\eta$ = {lr:g}")
    ax_noise.loglog(sizes, noise, "o-", label="measured")
    ax_noise.loglog(sizes, noise[0] / np.sqrt(sizes), "k--", lw=1, label=r"$\propto 1/\sqrt{B}$")
    ax_noise.plot(batch_size, mine, "o", color="C3", ms=10, mfc="none", mew=2,
                  label=f"B = {batch_size}")
    ax_noise.set(xlabel="batch size B", ylabel="gradient noise (RMS)",
                 title="noise of a mini-batch gradient")
    ax_noise.legend(fontsize=8)
    fig.tight_layout()
    return fig


def batch_noise_widget():
    """``batch_noise_figure`` with sliders for the batch size (powers of 2), lr and epochs."""
    import ipywidgets as widgets
    from IPython.display import display

    def draw(batch_size, lr, epochs):
        fig = batch_noise_figure(batch_size, lr, epochs)
        display(fig)
        plt.close(fig)

    return widgets.interactive(
        draw,
        batch_size=widgets.SelectionSlider(options=list(NOISE_BATCH_SIZES), value=32,
                                           description="B"),
        lr=widgets.FloatLogSlider(value=0.05, base=10, min=-3, max=0, step=0.1,
                                  description="η"),
        epochs=widgets.IntSlider(value=1, min=1, max=5, description="epochs"),
    )


# --- Chapter 4: the schedule planner ------------------------------------------------------------

SCHEDULES = ("step", "multi-step", "exponential", "cosine", "warmup + cosine",
             "warmup + linear decay", "SGDR", "one-cycle")


def schedule_lrs(kind, base_lr=0.1, total_steps=100, warmup_steps=10):
    """The learning rate ``torch.optim.lr_scheduler`` sets at each of ``total_steps`` steps for a
    schedule ``kind`` (one of ``SCHEDULES``), with hyper-parameters scaled to the run's length:
    step decay by 10 every third of the run, multi-step decay by 10 at half and three quarters,
    exponential decay to a hundredth, a warm-up from a hundredth over ``warmup_steps``."""
    import warnings

    import torch

    if kind not in SCHEDULES:
        raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}")
    if not (isinstance(total_steps, int) and total_steps >= 2) or not base_lr > 0:
        raise ValueError("need total_steps >= 2 and base_lr > 0")
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}), got {warmup_steps!r}")
    sched = torch.optim.lr_scheduler
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    warmup = max(1, warmup_steps)

    def after_warmup(second):
        return sched.SequentialLR(
            opt, [sched.LinearLR(opt, start_factor=0.01, total_iters=warmup), second],
            milestones=[warmup])

    make = {
        "step": lambda: sched.StepLR(opt, step_size=max(1, total_steps // 3), gamma=0.1),
        "multi-step": lambda: sched.MultiStepLR(
            opt, milestones=[total_steps // 2, 3 * total_steps // 4], gamma=0.1),
        "exponential": lambda: sched.ExponentialLR(opt, gamma=0.01 ** (1 / total_steps)),
        "cosine": lambda: sched.CosineAnnealingLR(opt, T_max=total_steps),
        "warmup + cosine": lambda: after_warmup(
            sched.CosineAnnealingLR(opt, T_max=total_steps - warmup_steps)),
        "warmup + linear decay": lambda: after_warmup(
            sched.LinearLR(opt, start_factor=1.0, end_factor=0.0,
                           total_iters=total_steps - warmup)),
        "SGDR": lambda: sched.CosineAnnealingWarmRestarts(opt, T_0=max(1, total_steps // 7),
                                                          T_mult=2),
        "one-cycle": lambda: sched.OneCycleLR(opt, max_lr=base_lr, total_steps=total_steps,
                                              cycle_momentum=False),
    }[kind]
    lrs = []
    # torch < 2.9's SequentialLR warns at its milestone (a deprecated call inside torch itself)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The epoch parameter", category=UserWarning)
        scheduler = make()
        for _ in range(total_steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
    return np.array(lrs)


def schedule_figure(kinds=SCHEDULES, base_lr=0.1, total_steps=100, warmup_steps=10):
    """The schedules ``kinds`` drawn side by side on one axis (linear) and one (log)."""
    fig, (ax_lin, ax_log) = plt.subplots(1, 2, figsize=(11, 3.8))
    for kind in kinds:
        lrs = schedule_lrs(kind, base_lr, total_steps, warmup_steps)
        ax_lin.plot(lrs, label=kind)
        ax_log.semilogy(lrs, label=kind)
    ax_lin.set(xlabel="step", ylabel="learning rate",
               title=f"{total_steps} steps, base lr {base_lr:g}")
    ax_log.set(xlabel="step", ylabel="learning rate (log)", title="the same, log scale")
    ax_lin.legend(fontsize=8)
    fig.tight_layout()
    return fig


def schedule_planner_widget():
    """``schedule_figure`` with controls: which schedules, base lr, run length, warmup."""
    import ipywidgets as widgets
    from IPython.display import display

    def draw(kinds, base_lr, total_steps, warmup_steps):
        fig = schedule_figure(kinds or ("cosine",), base_lr, total_steps,
                              min(warmup_steps, total_steps - 1))
        display(fig)
        plt.close(fig)

    return widgets.interactive(
        draw,
        kinds=widgets.SelectMultiple(options=SCHEDULES,
                                     value=("cosine", "warmup + cosine", "SGDR"),
                                     description="schedules"),
        base_lr=widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0, description="base lr"),
        total_steps=widgets.IntSlider(value=100, min=20, max=1000, step=10, description="steps"),
        warmup_steps=widgets.IntSlider(value=10, min=0, max=100, description="warmup"),
    )


# --- Chapter 5: the momentum β explorer on the ravine w1² + 25 w2² ----------------------------

RAVINE_START = (-9.0, 2.0)


def momentum_ravine_paths(momentum=0.9, lr=0.01, steps=60, nesterov=False, start=RAVINE_START):
    """Plain gradient descent and SGD with ``momentum`` (``torch.optim.SGD``, float64), both with
    step size ``lr``, from ``start`` on the ravine. Returns ``{label: path}``, each of shape
    ``(steps + 1, 2)``; once a run stops being finite (it diverged) the rest of its path is NaN."""
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    label = f"{'Nesterov' if nesterov else 'momentum'} β = {momentum:g}"
    racers = [("gradient descent", "SGD", {"lr": lr}),
              (label, "SGD", {"lr": lr, "momentum": momentum, "nesterov": nesterov})]
    if momentum == 0:
        racers = racers[:1]
    return _paths_on(landscapes.ravine, start, steps, racers)


def momentum_ravine_figure(momentum=0.9, lr=0.01, steps=60, nesterov=False):
    """The paths over the ravine's contours, and the loss against step on a log scale."""
    from course.plotting import contour_2d, loss_curves

    paths = momentum_ravine_paths(momentum, lr, steps, nesterov)
    fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    contour_2d(landscapes.ravine, paths, ax=ax_map)
    with np.errstate(all="ignore"):
        loss_curves({label: landscapes.ravine.f(path) for label, path in paths.items()},
                    ax=ax_loss, title=f"η = {lr:g}, {steps} steps")
    ax_loss.set_yscale("log")
    fig.tight_layout()
    return fig


def momentum_ravine_widget():
    """``momentum_ravine_figure`` with sliders for β and η and a Nesterov switch."""
    import ipywidgets as widgets
    from IPython.display import display

    def draw(momentum, lr, steps, nesterov):
        fig = momentum_ravine_figure(momentum, lr, steps, nesterov)
        display(fig)
        plt.close(fig)

    return widgets.interactive(
        draw,
        momentum=widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β"),
        lr=widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=np.log10(0.05), step=0.05,
                                  description="η"),
        steps=widgets.IntSlider(value=60, min=10, max=300, step=10, description="steps"),
        nesterov=widgets.Checkbox(value=False, description="Nesterov"),
    )
