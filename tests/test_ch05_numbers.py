"""Every number the chapter-5 lecture prints, recomputed independently and compared with the
committed outputs: closed forms and hand computations (the lecture ran ``torch.optim.SGD``)."""

import numpy as np
import pytest

from tests.lecture_text import printed_text, shown


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch05_momentum")


def heavy_ball(lr, beta, steps, start=(-9.0, 2.0), nesterov=False):
    """Momentum in torch's form on w1² + 25 w2², written out with its gradient (2 w1, 50 w2)."""
    w, buf = np.array(start), None
    for _ in range(steps):
        g = np.array([2.0, 50.0]) * w
        buf = g if buf is None else beta * buf + g
        w = w - lr * (g + beta * buf if nesterov else buf)
    return w[0] ** 2 + 25 * w[1] ** 2


def test_ravine_losses(printed):
    # gradient descent in closed form: w1 * (1 - 2 lr)^k, w2 * (1 - 50 lr)^k
    gd = (-9.0 * 0.93**60) ** 2 + 25 * (2.0 * (-0.75) ** 60) ** 2
    assert shown(printed, r"gradient descent, lr 0.035 +loss after 60 steps: (\S+)") == f"{gd:.2e}"
    momentum = heavy_ball(0.05, 0.5, 60)
    assert shown(printed, r"momentum 0.5, lr 0.05 +loss after 60 steps: (\S+)") == (
        f"{momentum:.2e}")
    assert momentum < 1e-10 * gd  # "many orders of magnitude lower"
    assert shown(printed, r"heavy ball loss after 60 steps: (\S+)") == (
        f"{heavy_ball(0.01, 0.9, 60):.2e}")
    nesterov = heavy_ball(0.01, 0.9, 60, nesterov=True)
    assert shown(printed, r"Nesterov +loss after 60 steps: (\S+)") == f"{nesterov:.2e}"
    assert nesterov < heavy_ball(0.01, 0.9, 60)  # Nesterov damps the oscillation


def test_windows(printed):
    for beta, window in [(0.5, 2), (0.9, 10), (0.99, 100)]:
        assert shown(printed, rf"window of beta = {beta}: (\d+) steps") == str(window)


def test_constant_gradient_steps_grow_to_one_over_one_minus_beta(printed):
    # step t / (lr g) = 1 + 0.9 + ... + 0.9^(t-1) = (1 - 0.9^t) / (1 - 0.9)
    assert shown(printed, r"step 1 / \(lr g\) = ([\d.]+), step 60 / \(lr g\) = ([\d.]+)") == (
        "1.0000", f"{(1 - 0.9**60) / 0.1:.4f}")


def test_two_steps_by_hand(printed):
    # the prose: b1 = 20, w1 = 8; b2 = 0.9 * 20 + 16 = 34, w2 = 4.6; plain GD 10 * 0.8^2 = 6.4
    assert shown(printed, r"momentum: w0 = ([\d.]+), w1 = ([\d.]+), w2 = ([\d.]+)") == (
        "10.0000", "8.0000", "4.6000")
    assert shown(printed, r"plain GD: w0 = ([\d.]+), w1 = ([\d.]+), w2 = ([\d.]+)") == (
        "10.0000", "8.0000", "6.4000")


def test_learning_rate_drop(printed):
    # torch: b = 1, 1.9, 2.71 -> w3 = -(0.1 + 0.19 + 0.0271); lr inside: v = 0.1, 0.19, 0.181
    assert shown(printed, r"after the drop: torch w3 = ([-\d.]+), lr inside the buffer w3 = "
                          r"([-\d.]+)") == ("-0.3171", "-0.4710")


def test_rolling_through_the_shallow_minimum(printed):
    """Where each β comes to rest on x⁴ − 8x² + x, recomputed with the gradient written out."""
    for x0 in (3.0, 2.5):
        for beta in (0.0, 0.5, 0.8, 0.9):
            x, buf = x0, None
            for _ in range(300):
                g = 4 * x**3 - 16 * x + 1
                buf = g if buf is None else beta * buf + g
                x -= 0.01 * buf
            line = shown(printed, rf"from x0 = {x0}, beta = {beta}: (rests at .*)")
            assert line == f"rests at x = {x:+.3f}, L = {x**4 - 8 * x**2 + x:.2f}"
    # what the prose says: only β = 0.9 from x0 = 3 reaches the deeper valley
    assert "from x0 = 3.0, beta = 0.9: rests at x = -2.031, L = -18.02" in printed
    assert printed.count("rests at x = +1.968, L = -14.02") == 7
