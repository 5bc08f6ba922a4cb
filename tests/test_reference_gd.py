import numpy as np
import pytest

from course.reference.gd import gd_step, run_gd


def test_three_hand_steps_on_shifted_square():
    """(w - 3)^2 from w0 = 0 with lr = 0.1: w <- w - 0.1 * 2 (w - 3) = 0.8 w + 0.6."""
    path = run_gd(lambda w: 2 * (w - 3), 0.0, 0.1, 3)
    np.testing.assert_allclose(path, [0.0, 0.6, 1.08, 1.464], rtol=1e-15)


def test_step_and_trajectory_shapes():
    w = np.array([1.0, -2.0])
    np.testing.assert_array_equal(gd_step(w, np.array([0.5, 0.5]), 2.0), [0.0, -3.0])
    path = run_gd(lambda w: 2 * w, w, 0.25, 4)
    assert path.shape == (5, 2)
    np.testing.assert_allclose(path[-1], w * 0.5**4)
    assert run_gd(lambda w: w, 1.0, 0.1, 0).tolist() == [1.0]
    with pytest.raises(ValueError, match="n_steps must be >= 0, got -1"):
        run_gd(lambda w: w, 1.0, 0.1, -1)
