"""The chapter-7 optimizer race: its paths, its static figure and its widget, without a browser."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course import landscapes, widgets


def test_paths_start_at_the_start_and_have_one_point_per_step():
    paths = widgets.race_paths("beale", start=(1.0, 1.5), steps=50)
    assert list(paths) == ["SGD", "SGD + momentum 0.9", "RMSprop", "Adam"]
    for path in paths.values():
        assert path.shape == (51, 2)
        np.testing.assert_array_equal(path[0], [1.0, 1.5])


def test_first_steps_match_their_closed_forms():
    start = np.array([-1.5, 2.0])
    racers = [("SGD", "SGD", {"lr": 1e-3}), ("Adam", "Adam", {"lr": 0.05})]
    paths = widgets.race_paths("rosenbrock", start=start, steps=1, racers=racers)
    # Rosenbrock's gradient at (-1.5, 2) by hand: y - x² = -0.25,
    # d/dx = -2(1 - x) - 400 x (y - x²) = -5 - 150 = -155, d/dy = 200 (y - x²) = -50
    grad = np.array([-155.0, -50.0])
    np.testing.assert_allclose(landscapes.rosenbrock.grad(start), grad, rtol=1e-12)
    np.testing.assert_allclose(paths["SGD"][1], start - 1e-3 * grad, rtol=1e-12)
    # Adam's first step is lr * g / (|g| + eps): lr against the sign of each component
    np.testing.assert_allclose(paths["Adam"][1], start - 0.05 * grad / (np.abs(grad) + 1e-8),
                               rtol=1e-12)


def test_adam_wins_the_default_beale_race():
    paths = widgets.race_paths("beale", steps=1000)
    loss = {label: landscapes.beale.f(path[-1]) for label, path in paths.items()}
    np.testing.assert_allclose(paths["Adam"][-1], [3.0, 0.5], atol=0.01)
    assert loss["Adam"] < 1e-5 < loss["SGD"]


def test_a_diverging_racer_ends_in_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = widgets.race_paths("rosenbrock", steps=200, racers=[("SGD", "SGD", {"lr": 0.01})])
    path = paths["SGD"]
    assert np.isnan(path[-1]).all()
    assert np.isfinite(path[:2]).all()


def test_figure_has_a_map_and_a_loss_panel_with_every_racer():
    fig = widgets.optimizer_race_figure("rosenbrock", steps=20, lr_scale=0.5)
    ax_map, ax_loss = fig.axes[:2]
    labels = ["SGD", "SGD + momentum 0.9", "RMSprop", "Adam"]
    assert [t.get_text() for t in ax_map.get_legend().get_texts()] == labels
    assert len(ax_loss.get_lines()) == 4
    assert ax_loss.get_yscale() == "log"


def test_widget_redraws_with_its_controls_and_closes_its_figures(monkeypatch):
    drawn = []

    def recording_figure(landscape, **kwargs):
        drawn.append((landscape, kwargs))
        return plt.figure()

    monkeypatch.setattr(widgets, "optimizer_race_figure", recording_figure)
    race = widgets.optimizer_race_widget()
    controls = {child.description: child for child in race.children[:-1]}
    assert set(controls) == {"landscape", "steps", "lr × "}
    controls["steps"].value = 100
    controls["landscape"].value = "beale"
    assert drawn[0] == ("rosenbrock", {"steps": 1000, "lr_scale": 1.0})
    assert drawn[-1] == ("beale", {"steps": 100, "lr_scale": 1.0})
    assert plt.get_fignums() == []


@pytest.mark.parametrize("kwargs, words", [
    ({"landscape": "ravine"}, "landscape must be one of"),
    ({"steps": 0}, "steps must be"),
    ({"start": (1.0, 2.0, 3.0)}, "start must be a point"),
    ({"lr_scale": 0.0}, "lr_scale must be > 0"),
])
def test_bad_input_is_a_clear_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        widgets.optimizer_race_figure(**kwargs)


def test_race_losses_run_the_scales_side_by_side_as_separate_runs_would():
    scales = (0.5, 1.0, 10**0.7)
    losses = widgets.race_losses("rosenbrock", lr_scales=scales, steps=60)
    assert list(losses) == ["SGD", "SGD + momentum 0.9", "RMSprop", "Adam"]
    for i, scale in enumerate(scales):
        racers = [(label, name, {**hyper, "lr": hyper["lr"] * scale})
                  for label, name, hyper in widgets.RACE_DEFAULTS["rosenbrock"]["racers"]]
        alone = widgets.race_paths("rosenbrock", steps=60, racers=racers)
        for label, path in alone.items():
            expected = landscapes.rosenbrock.f(path[-1])
            np.testing.assert_array_equal(losses[label][i], expected)  # NaN where it diverged
    assert np.isnan(losses["SGD"][2]) and np.isfinite(losses["Adam"]).all()


def test_race_rates_figure_draws_a_line_per_racer_and_marks_divergence():
    scales = (1.0, 10**0.7)
    grid = {name: widgets.race_losses(name, lr_scales=scales, steps=30)
            for name in ("rosenbrock", "beale")}
    fig = widgets.race_rates_figure(grid, scales)
    ax_rosenbrock, ax_beale = fig.axes
    assert ax_rosenbrock.get_title() == "Rosenbrock" and ax_beale.get_title() == "Beale"
    assert ax_rosenbrock.get_xscale() == ax_rosenbrock.get_yscale() == "log"
    labels = [t.get_text() for t in ax_rosenbrock.get_legend().get_texts()]
    assert labels == ["SGD", "SGD + momentum 0.9", "RMSprop", "Adam"]
    crosses = [line for line in ax_rosenbrock.get_lines()
               if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(crosses) == int(sum(np.isnan(v).sum() for v in grid["rosenbrock"].values())) > 0
    plt.close(fig)


def test_race_losses_refuse_bad_scales_and_landscapes():
    with pytest.raises(ValueError, match="every lr scale must be > 0"):
        widgets.race_losses("beale", lr_scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="landscape must be one of"):
        widgets.race_losses("ravine")
