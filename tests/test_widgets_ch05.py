"""The chapter-5 momentum explorer on the ravine: its paths, its static figure and its widget,
without a browser."""

import numpy as np
import pytest

from course import widgets


def test_two_steps_match_the_hand_computation():
    paths = widgets.momentum_ravine_paths(momentum=0.9, lr=0.01, steps=2)
    assert list(paths) == ["gradient descent", "momentum β = 0.9"]
    # gradient of w1² + 25 w2² at (-9, 2) by hand: (2 * -9, 50 * 2) = (-18, 100)
    w1 = np.array([-9.0, 2.0]) - 0.01 * np.array([-18.0, 100.0])  # (-8.82, 1.0)
    g2 = np.array([2 * w1[0], 50 * w1[1]])
    np.testing.assert_allclose(paths["gradient descent"][1], w1, rtol=1e-12)
    np.testing.assert_allclose(paths["momentum β = 0.9"][1], w1, rtol=1e-12)  # buffer = g1
    np.testing.assert_allclose(paths["gradient descent"][2], w1 - 0.01 * g2, rtol=1e-12)
    np.testing.assert_allclose(paths["momentum β = 0.9"][2],
                               w1 - 0.01 * (0.9 * np.array([-18.0, 100.0]) + g2), rtol=1e-12)


def test_gradient_descent_is_the_closed_form():
    # each step multiplies w1 by 1 - 2 lr and w2 by 1 - 50 lr
    path = widgets.momentum_ravine_paths(momentum=0.0, lr=0.03, steps=40)["gradient descent"]
    k = np.arange(41)
    np.testing.assert_allclose(path, np.stack([-9.0 * 0.94**k, 2.0 * (-0.5) ** k], axis=1),
                               rtol=1e-10, atol=1e-300)


def test_tuned_momentum_beats_the_best_gradient_descent_on_the_ravine():
    lr_gd = 2 / 52  # the best fixed step of gradient descent: 2 / (smallest + largest curvature)
    gd = widgets.momentum_ravine_paths(momentum=0.0, lr=lr_gd, steps=60)["gradient descent"]
    heavy = widgets.momentum_ravine_paths(momentum=4 / 9, lr=4 / (np.sqrt(2) + np.sqrt(50)) ** 2,
                                          steps=60)
    f = lambda w: w[..., 0] ** 2 + 25 * w[..., 1] ** 2  # noqa: E731
    assert f(heavy["momentum β = 0.444444"][-1]) < 1e-6 * f(gd[-1])


def test_divergence_leaves_nan():
    path = widgets.momentum_ravine_paths(momentum=0.0, lr=0.05, steps=300)["gradient descent"]
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()


@pytest.mark.parametrize("kwargs", [{"momentum": 1.0}, {"momentum": -0.1}, {"lr": 0.0},
                                    {"steps": 0}])
def test_bad_input_is_refused(kwargs):
    with pytest.raises(ValueError, match=f"^{next(iter(kwargs))} must be "):
        widgets.momentum_ravine_paths(**kwargs)


def test_figure_and_widget():
    fig = widgets.momentum_ravine_figure(momentum=0.9, lr=0.01, steps=30, nesterov=True)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "gradient descent", "Nesterov β = 0.9"]
    widget = widgets.momentum_ravine_widget()
    assert {c.description for c in widget.children[:4]} == {"β", "η", "steps", "Nesterov"}


def test_automatic_runs_of_the_lecture_skip_its_widget_cell():
    """nbclient sometimes waits out its whole timeout after a widget cell (jupyter/nbclient#312):
    the lecture's widget cell is tagged so that nbclient and nbval skip it."""
    import nbformat
    from nbclient import NotebookClient

    from tests.lecture_text import SOURCE

    lecture = nbformat.read(SOURCE / "ch05_momentum" / "lecture.ipynb", as_version=4)
    widget_cells = [c for c in lecture.cells if c.cell_type == "code" and "_widget(" in c.source]
    assert widget_cells
    skip = NotebookClient(lecture).skip_cells_with_tag
    for cell in widget_cells:
        assert {skip, "nbval-skip"} <= set(cell.metadata.get("tags", [])), cell.source
