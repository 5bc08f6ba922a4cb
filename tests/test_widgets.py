"""The chapter-1 widget and the shared plots, without a browser."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course import landscapes, plotting, widgets


def plotted_points(fig):
    line = fig.axes[0].lines[1]  # the curve first, then the steps
    return np.asarray(line.get_xdata())


def test_lr_valley_figure_draws_the_steps_it_takes():
    fig = widgets.lr_valley_figure(lr=0.1, steps=3)
    # x^2 - 4x + 5 from 0 with lr 0.1: 0, 0.4, 0.72, 0.976 (distance to 2 times 0.8 per step)
    np.testing.assert_allclose(plotted_points(fig), [0.0, 0.4, 0.72, 0.976])
    distance = fig.axes[1].lines[0].get_ydata()
    np.testing.assert_allclose(distance, 2 * 0.8 ** np.arange(4))
    plt.close(fig)


def test_lr_valley_figure_survives_divergence_without_warnings(recwarn):
    fig = widgets.lr_valley_figure(lr=1.5, steps=40)
    assert "1.5" in fig.axes[0].get_title()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    plt.close(fig)


@pytest.mark.parametrize("kwargs", [dict(lr=0), dict(lr=-1), dict(steps=0), dict(steps=2.5)])
def test_lr_valley_figure_refuses_bad_input(kwargs):
    with pytest.raises(ValueError, match=f"^{next(iter(kwargs))} must be "):
        widgets.lr_valley_figure(**kwargs)


def test_lr_valley_widget_has_its_sliders():
    w = widgets.lr_valley_widget()
    assert isinstance(w, ipywidgets.interactive)
    labels = {c.description for c in w.children if hasattr(c, "description")}
    assert {"η", "steps"} <= labels
    plt.close("all")


def test_shared_plots():
    ax = plotting.contour_2d(landscapes.ravine, {"path": np.array([[5.0, 2.0], [0.0, 0.0]])})
    assert ax.get_legend() is not None and ax.get_xlim() == (-10.0, 10.0)
    ax = plotting.loss_curves({"a": [1.0, 0.1], "b": [1.0, np.nan]})
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    ax = plotting.descent_1d(landscapes.quadratic, [0.0, np.inf, 100.0])
    assert list(ax.lines[1].get_xdata()) == [0.0]  # off-screen and infinite points left out
    plt.close("all")
