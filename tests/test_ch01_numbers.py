"""Every number the chapter-1 lecture prints, recomputed independently (closed forms, hand
arithmetic, NumPy's least squares) and compared with the committed outputs; and the numbers the
chapter-1 exercises expect, derived here by hand."""

import math
import re

import numpy as np
import pytest

from tests.lecture_text import printed_text

SIZES = np.array([1000.0, 1500.0, 2000.0, 2500.0, 3000.0])
PRICES = np.array([200.0, 280.0, 350.0, 400.0, 480.0])


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch01_gd_by_hand")


def shown(printed, pattern):
    found = re.findall(pattern, printed)
    assert len(found) == 1, f"expected one printed line matching {pattern!r}, found {found}"
    return tuple(map(float, found[0] if isinstance(found[0], tuple) else (found[0],)))


def quadratic_after(k, lr, x0=0.0):
    """x_k on x^2 - 4x + 5: the distance to 2 is multiplied by 1 - 2 lr each step."""
    return 2 + (x0 - 2) * (1 - 2 * lr) ** k


def test_hand_steps_on_the_quadratic(printed):
    f = lambda x: x**2 - 4 * x + 5  # noqa: E731
    for k, x_hand in [(1, 0.4), (2, 0.72)]:
        assert shown(printed, rf"step +{k}: x = ([-\d.]+), f\(x\) = ([-\d.]+)") == (
            x_hand, round(f(x_hand), 4))
    x20 = quadratic_after(20, 0.1)
    assert shown(printed, r"step 20: x = ([-\d.]+), f\(x\) = ([-\d.]+)") == (
        round(x20, 4), round(f(x20), 4))
    assert shown(printed, r"2 - 2 \* 0.8\*\*20 = ([-\d.]+)") == (1.9769,)


def test_three_steps_on_shifted_square(printed):
    # (w - 3)^2, lr 0.1: w <- 0.8 w + 0.6 by hand
    assert shown(printed, r"\[0\. +(\S+) +(\S+) +(\S+)\]") == (0.6, 1.08, 1.464)


def test_learning_rate_table(printed):
    for lr in [0.01, 0.1, 0.5, 0.9, 1.0, 1.1, 1.5]:
        x = quadratic_after(20, lr)
        assert shown(printed, rf"\n {lr:4.2f} +([-\d.]+) +([-\d.]+)") == (
            round(x, 4), round(abs(x - 2), 4)), lr
    assert 2 / 2 == 1.0  # critical lr 2 / f'' with f'' = 2 for x^2 - 4x + 5 (and for x^2)


def test_overflow_step(printed):
    # |x_k - 2| = 2 * 2**k exceeds the largest float64 (just under 2**1024) when k + 1 = 1024;
    # the next gradient is inf and inf - inf is nan
    first_inf = 1024 - 1
    assert shown(printed, r"first inf at step (\d+), first nan at step (\d+)") == (
        first_inf, first_inf + 1)


def test_revenue_optimum(printed):
    # gradient of -R: (2 x1 - 100, 2 x2 - 50) = 0 at (50, 25); each coordinate keeps 0.8 of its
    # distance per step at lr 0.1
    x = np.array([50.0, 25.0]) * (1 - 0.8**60)
    revenue = 100 * x[0] + 50 * x[1] - x[0] ** 2 - x[1] ** 2
    assert shown(printed, r"after 60 steps: x = \[(\S+) +(\S+) *\], revenue = (\S+)") == (
        round(x[0], 4), round(x[1], 4), round(revenue, 2))
    assert 100 * 50 + 50 * 25 - 50**2 - 25**2 == 3125


def test_house_price_regression(printed):
    start_loss = np.mean((0.1 * SIZES + 50 - PRICES) ** 2)
    assert start_loss == 9160.0  # errors -50, -80, -100, -100, -130 by hand
    assert shown(printed, r"start: .* loss ([\d.]+)") == (9160.0,)
    (slope, intercept), *_ = np.linalg.lstsq(np.c_[SIZES, np.ones(5)], PRICES, rcond=None)
    best_loss = np.mean((slope * SIZES + intercept - PRICES) ** 2)
    assert (round(slope, 5), round(intercept, 3)) == (0.136, 70.0)
    pattern = r"closed form\): +price = ([\d.]+) \* size \+ ([\d.]+), loss ([\d.]+)"
    assert shown(printed, pattern) == (
        round(slope, 5), round(intercept, 3), round(best_loss, 2))
    assert shown(printed, r"standardised, lr 0.1, 200 steps: price = ([\d.]+) \* size \+ ([\d.]+), "
                          r"loss ([\d.]+)") == (round(slope, 5), round(intercept, 3),
                                                round(best_loss, 2))
    # the raw run: 1000 steps of lr 1e-7 on the unscaled data, redone with exact fractions' floats
    w, b = 0.1, 50.0
    for _ in range(1000):
        e = w * SIZES + b - PRICES
        w, b = w - 1e-7 * 2 * np.mean(e * SIZES), b - 1e-7 * 2 * np.mean(e)
    loss = np.mean((w * SIZES + b - PRICES) ** 2)
    assert shown(printed, r"1000 steps: price = ([\d.]+) \* size \+ ([\d.]+), loss ([\d.]+)") == (
        round(w, 5), round(b, 3), round(loss, 2))
    assert np.mean(SIZES**2) == 4.5e6  # the curvature ratio the prose quotes


def test_gradient_check_figures(printed):
    e = 0.1 * SIZES + 50 - PRICES
    analytic = (2 * np.mean(e * SIZES), 2 * np.mean(e))
    assert analytic == (-404000.0, -184.0)
    assert shown(printed, r"autograd gradient: \[(\S+) +(\S+)\]") == analytic
    # forward difference error = h * (second derivative) / 2 / |gradient|, worst coordinate
    for h in (1e-2, 1e-4):
        forward = max(h * np.mean(SIZES**2) / abs(analytic[0]), h * 1 / abs(analytic[1]))
        _, got_forward = shown(printed, rf"h = {h:g}: relative error central (\S+), forward (\S+)")
        assert got_forward == float(f"{forward:.1e}")


def test_exercise_answers_by_hand():
    # (w - 4)^2 from 0, lr 0.2: w <- w - 0.4 (w - 4) = 0.6 w + 1.6
    w = [0.0]
    for _ in range(3):
        w.append(0.6 * w[-1] + 1.6)
    assert np.allclose(w[1:], [1.6, 2.56, 3.136], rtol=0, atol=1e-12)
    # the seed's quiz: (w - 5)^2, lr 0.3, w0 = 0: w1 = 3, w2 = 4.2 (not among the seed's options)
    w1 = 0 - 0.3 * 2 * (0 - 5)
    assert math.isclose(w1 - 0.3 * 2 * (w1 - 5), 4.2)
    # house prices at w = 0.1, b = 50: (dL/dw, dL/db) = (-404000, -184); summing gives 5x
    e = 0.1 * SIZES + 50 - PRICES
    assert (2 * np.sum(e * SIZES), 2 * np.sum(e)) == (-2020000.0, -920.0)
