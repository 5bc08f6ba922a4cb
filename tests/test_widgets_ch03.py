"""The chapter-3 batch-size noise explorer, drawn without a browser."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course import widgets


def test_figure_has_the_path_and_the_noise_panel():
    fig = widgets.batch_noise_figure(batch_size=100, lr=0.05, epochs=2)
    ax_map, ax_noise = fig.axes[:2]
    assert "10 updates" not in ax_map.get_title() and "20 updates" in ax_map.get_title()
    assert ax_noise.get_xscale() == "log" and ax_noise.get_yscale() == "log"
    plt.close(fig)


def test_path_has_one_point_per_update_and_keeps_the_last_partial_batch():
    X, y = widgets.noise_regression_data(n_samples=10)
    path = widgets.minibatch_path(X, y, batch_size=4, lr=0.1, epochs=3)
    assert path.shape == (3 * 3 + 1, 2)  # batches of 4, 4, 2 in each of 3 epochs


def test_full_batch_path_is_plain_gradient_descent():
    X, y = widgets.noise_regression_data(n_samples=50)
    path = widgets.minibatch_path(X, y, batch_size=50, lr=0.1, epochs=3)
    w = np.array([-2.0, 2.0])
    for k in range(1, 4):
        w = w - 0.1 * 2 * X.T @ (X @ w - y) / 50
        np.testing.assert_allclose(path[k], w, rtol=1e-12)


def test_noise_follows_the_finite_population_formula():
    # Without replacement, Var(mean of B of N) = s^2 / B * (N - B) / (N - 1), summed over the
    # gradient's coordinates, s^2 the per-sample variance of the gradient (ddof=0).
    X, y = widgets.noise_regression_data(n_samples=400, seed=3)
    per_sample = 2 * X * (X @ np.zeros(2) - y)[:, None]
    s2 = per_sample.var(axis=0).sum()
    sizes = np.array([1, 4, 16, 64])
    expected = np.sqrt(s2 / sizes * (400 - sizes) / 399)
    got = widgets.measured_gradient_noise(X, y, sizes, draws=3000, seed=1)
    np.testing.assert_allclose(got, expected, rtol=0.06)


def test_noise_slope_is_minus_one_half():
    X, y = widgets.noise_regression_data()
    sizes = widgets.NOISE_BATCH_SIZES[:7]
    noise = widgets.measured_gradient_noise(X, y, sizes)
    slope = np.polyfit(np.log(sizes), np.log(noise), 1)[0]
    assert abs(slope + 0.5) < 0.05


@pytest.mark.parametrize("bad", [0, 2.5, 5000])
def test_bad_batch_size_is_a_clear_error(bad):
    X, y = widgets.noise_regression_data()
    with pytest.raises(ValueError, match="batch_size"):
        widgets.minibatch_path(X, y, bad)


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = widgets.batch_noise_widget()
    assert {c.description for c in w.children[:3]} == {"B", "η", "epochs"}
    plt.close("all")


def test_a_diverging_run_is_drawn_without_warnings(recwarn):
    fig = widgets.batch_noise_figure(batch_size=1, lr=1.0, epochs=1)
    assert "diverged after" in fig.axes[0].get_title()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    plt.close(fig)
