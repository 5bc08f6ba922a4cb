"""Every number the chapter-6 lecture prints, recomputed independently and compared with the
committed outputs: closed forms and hand computations (the lecture ran ``torch.optim``)."""

import math

import numpy as np
import pytest

from tests.lecture_text import printed_text, shown


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch06_rmsprop_adagrad")


def rmsprop_on_ravine(lr, steps, alpha=0.99, eps=1e-8):
    """RMSprop written out on w1² + 25 w2² (gradient (2 w1, 50 w2)) from (-9, 2)."""
    w, v = np.array([-9.0, 2.0]), np.zeros(2)
    for _ in range(steps):
        g = np.array([2.0, 50.0]) * w
        v = alpha * v + (1 - alpha) * g**2
        w = w - lr * g / (np.sqrt(v) + eps)
    return w, v


def test_per_parameter_step_sizes(printed):
    # at step 1 sqrt(v) = 0.1 |g|, so the ratio is |g2| / |g1| = 100 / 18
    assert shown(printed, r"step size of w1 / step size of w2 at step 1: ([\d.]+)") == (
        f"{100 / 18:.2f}")
    _, v = rmsprop_on_ravine(0.1, 60)
    sizes = 0.1 / (np.sqrt(v) + 1e-8)
    assert shown(printed, r"step size of w1 / step size of w2 at step 60: ([\d.]+)") == (
        f"{sizes[0] / sizes[1]:.2f}")


def test_ravine_losses(printed):
    gd = (-9.0 * 0.93**60) ** 2 + 25 * (2.0 * (-0.75) ** 60) ** 2  # closed form
    w, _ = rmsprop_on_ravine(0.1, 60)
    rms = w[0] ** 2 + 25 * w[1] ** 2
    assert shown(printed, r"gradient descent, lr 0.035 +loss after 60 steps: (\S+)") == f"{gd:.2e}"
    assert shown(printed, r"RMSprop, lr 0.1 +loss after 60 steps: (\S+)") == f"{rms:.2e}"
    assert gd < rms  # as the prose says


def test_hand_step(printed):
    # g1 = 12, v1 = 0.01 * 144 = 1.44, w1 = 2 - 0.01 * 12 / (1.2 + 1e-8)
    assert shown(printed, r"one RMSprop step on 3w\^2 from 2: w1 = ([\d.]+)") == (
        f"{2 - 0.01 * 12 / (1.2 + 1e-8):.6f}")
    assert f"{2 - 0.01 * 12 / (1.2 + 1e-8):.6f}" == "1.900000"


def test_eps_placement(printed):
    pattern = r"torch's first step with g = 1e-9: ([\d.]+) \(0.1/10.1 = ([\d.]+)\)"
    assert shown(printed, pattern) == (f"{0.1 * 1e-9 / (1e-10 + 1e-8):.6f}", f"{0.1 / 10.1:.6f}")
    assert shown(printed, r"with eps inside the root it would be: (\S+)") == "1e-06"


def test_adagrad_and_rmsprop_with_a_constant_gradient(printed):
    # AdaGrad: step t = lr / (sqrt(t) + eps); RMSprop: step t = lr / (sqrt(1 - 0.99^t) + eps)
    ratio = (0.1 / (math.sqrt(100) + 1e-10)) / (0.1 / (1 + 1e-10))
    assert shown(printed, r"AdaGrad step 100 / step 1: ([\d.]+)") == f"{ratio:.4f}"
    assert shown(printed, r"RMSprop step 200 / lr: ([\d.]+)") == (
        f"{1 / (math.sqrt(1 - 0.99**200) + 1e-8):.4f}")
