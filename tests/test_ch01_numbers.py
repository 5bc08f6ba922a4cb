"""Every number the chapter-1 lecture prints, recomputed independently (closed forms, hand
arithmetic with exact fractions, NumPy's least squares, torch's float16) and compared with the
committed outputs; the numbers the chapter-1 exercises expect, derived here by hand; and every
number the lecture's and the exercises' prose states (``check_prose`` at the end)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from tests.lecture_text import printed_text, shown
from tests.prose import check_prose

CHAPTER = "ch01_gd_by_hand"
SIZES = np.array([1000.0, 1500.0, 2000.0, 2500.0, 3000.0])
PRICES = np.array([200.0, 280.0, 350.0, 400.0, 480.0])
EPS = 2.0**-52  # float64's machine epsilon: 52 bits after the binary point
FLOAT16_MAX = (2 - Fraction(1, 2**10)) * 2**15  # 10 bits after the point, exponents up to 15
# a float16 result rounds to inf once it reaches the max plus half its spacing (2**5 there)
FLOAT16_OVERFLOW = FLOAT16_MAX + 2**4


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text(CHAPTER)


def numbers(text):
    return tuple(float(t) for t in (text if isinstance(text, tuple) else (text,)))


def quadratic_after(k, lr, x0=Fraction(0)):
    """x_k on x^2 - 4x + 5, exactly: the distance to 2 is multiplied by 1 - 2 lr each step."""
    return 2 + (x0 - 2) * (1 - 2 * Fraction(lr)) ** k


# --- values the tests and the prose share, each computed here ------------------------------

def steepest_descent():
    """-R at (0, 0): the gradient, its length, and the best of the 3600 directions 0.1° apart.
    The Hessian of -R is 2I, so f(w + eps u) - f(w) = eps g.u + eps²: the eps² term is the same
    for every direction and the best one is the grid angle nearest to that of -g."""
    g = (-100.0, -50.0)
    length = math.hypot(*g)
    angle = math.degrees(math.atan2(-g[1], -g[0]))
    best = round(angle * 10) / 10
    rate = g[0] * math.cos(math.radians(best)) + g[1] * math.sin(math.radians(best)) + 1e-3
    return g, length, angle, best, rate


def house_hessian_eigenvalues():
    """Eigenvalues of the MSE's Hessian 2 [[mean x², mean x], [mean x, 1]] in closed form."""
    mean_x = Fraction(sum(int(s) for s in SIZES), 5)
    mean_x2 = Fraction(sum(int(s) ** 2 for s in SIZES), 5)
    trace, det = 2 * (mean_x2 + 1), 4 * (mean_x2 - mean_x**2)
    root = math.sqrt(trace**2 - 4 * det)
    big = (float(trace) + root) / 2
    return float(det) / big, big  # the small one as det / big: no cancellation


def overflow_steps():
    """float16, lr 1.5 from 0: x_k = 2 - 2 (-2)^k exactly; the loss x² - 4x + 5 first overflows
    where x² does, x itself where |x| does."""
    x = [2 - 2 * (-2) ** k for k in range(40)]
    loss_step = next(k for k in range(1, 40) if x[k] ** 2 >= FLOAT16_OVERFLOW)
    x_step = next(k for k in range(1, 40) if abs(x[k]) >= FLOAT16_OVERFLOW)
    return loss_step, x_step


def guarded_run(steps=30, every=5):
    """The lecture's guarded float16 descent, redone with torch's float16: the run from 0 at
    lr 1.5, a checkpoint every 5 steps, back to it with half the rate at a non-finite loss."""
    x, k, lr, computed, events = torch.zeros((), dtype=torch.float16), 0, 1.5, 0, []
    checkpoint = (0, x.clone())
    while k < steps:
        x = x - torch.tensor(lr, dtype=torch.float16) * (2 * x - 4)
        k, computed = k + 1, computed + 1
        loss = x * x - 4 * x + 5
        if not torch.isfinite(loss):
            events.append((k, checkpoint[0], lr, lr / 2))
            (k, x), lr = (checkpoint[0], checkpoint[1].clone()), lr / 2
        elif k % every == 0:
            checkpoint = (k, x.clone())
    return float(x), float(loss), computed, events


def clipped_run(steps=60):
    """Gradient descent at lr 1.5 on x² - 4x + 5 with the gradient clipped to norm 1, by the
    formula of torch.nn.utils.clip_grad_norm_: g * min(1, 1 / (|g| + 1e-6))."""
    x, xs = 0.0, []
    for _ in range(steps):
        g = 2 * x - 4
        x -= 1.5 * g * min(1.0, 1.0 / (abs(g) + 1e-6))
        xs.append(x)
    return xs


def finite_difference_sweep():
    """RMS relative error of forward and central differences of exp over 201 points of
    [0.5, 1.5], for h from 1e-1 down to 1e-13 in quarter decades: the best h of each."""
    steps = 10.0 ** -np.arange(1, 13.01, 0.25)
    xs = np.linspace(0.5, 1.5, 201)[:, None]
    forward = (np.exp(xs + steps) - np.exp(xs)) / steps / np.exp(xs) - 1
    central = (np.exp(xs + steps) - np.exp(xs - steps)) / (2 * steps) / np.exp(xs) - 1
    best = {}
    for name, error in (("forward", forward), ("central", central)):
        rms = np.sqrt(np.mean(error**2, axis=0))
        best[name] = (float(rms.min()), float(steps[np.argmin(rms)]))
    return best


# --- the printed numbers -------------------------------------------------------------------

def test_steepest_descent_direction(printed):
    g, length, angle, best, rate = steepest_descent()
    assert numbers(shown(printed, r"gradient at \(0, 0\): \[(\S+) +(\S+)\], length (\S+)")) == (
        *g, round(length, 2))
    assert numbers(shown(printed, r"directions: at (\S+)°, rate (\S+)")) == (
        round(best, 1), round(rate, 2))
    assert float(shown(printed, r"-gradient points at (\S+)°")) == round(angle, 1)
    # Cauchy-Schwarz: no direction of length 1 falls faster than |g|
    assert -length <= rate - 1e-3 < -length * math.cos(math.radians(0.05))


def test_hand_steps_on_the_quadratic(printed):
    f = lambda x: x**2 - 4 * x + 5  # noqa: E731
    for k, x_hand in [(1, Fraction(2, 5)), (2, Fraction(18, 25))]:
        assert quadratic_after(k, Fraction(1, 10)) == x_hand
        assert numbers(shown(printed, rf"step +{k}: x = ([-\d.]+), f\(x\) = ([-\d.]+)")) == (
            float(x_hand), round(float(f(x_hand)), 4))
    x20 = float(quadratic_after(20, Fraction(1, 10)))
    assert numbers(shown(printed, r"step 20: x = ([-\d.]+), f\(x\) = ([-\d.]+)")) == (
        round(x20, 4), round(f(x20), 4))
    assert float(shown(printed, r"2 - 2 \* 0.8\*\*20 = ([-\d.]+)")) == round(x20, 4)


def shifted_square_run():
    """(w - 3)², lr 0.1 from 0, exactly: w <- w - 0.2 (w - 3)."""
    w = [Fraction(0)]
    for _ in range(3):
        w.append(w[-1] - Fraction(1, 5) * (w[-1] - 3))
    return w, [(v - 3) ** 2 for v in w]


def test_three_steps_on_shifted_square(printed):
    w, losses = shifted_square_run()
    assert w[1:] == [Fraction(3, 5), Fraction(27, 25), Fraction(183, 125)]
    assert numbers(shown(printed, r"w: +\[0\. +(\S+) +(\S+) +(\S+)\]")) == tuple(map(float, w[1:]))
    assert losses == [9, Fraction(144, 25), Fraction(2304, 625), Fraction(36864, 15625)]
    assert numbers(shown(printed, r"loss: +\[(\S+) +(\S+) +(\S+) +(\S+)\]")) == tuple(
        round(float(v), 4) for v in losses)
    ratios = {b / a for a, b in zip(losses, losses[1:], strict=False)}
    assert ratios == {(1 - 2 * Fraction(1, 10)) ** 2}
    assert "ratios: [0.64 0.64 0.64]" in printed


def test_learning_rate_table(printed):
    for lr in ["0.01", "0.1", "0.5", "0.9", "1.0", "1.1", "1.5"]:
        x = float(quadratic_after(20, Fraction(lr)))
        assert numbers(shown(printed, rf"\n {float(lr):4.2f} +([-\d.]+) +([-\d.]+)")) == (
            round(x, 4), round(abs(x - 2), 4)), lr
    # lr = 1 bounces between x0 and 4 - x0; it is the critical rate 2 / f'' with f'' = 2
    assert {float(quadratic_after(k, 1, x0=Fraction(7, 10))) for k in range(6)} == {0.7, 3.3}


def test_overflow_steps(printed):
    # |x_k - 2| = 2^(k+1) reaches 2^1024 > the largest float64 at k = 1023; then inf - inf
    first_inf = next(k for k in range(2000) if 2 ** (k + 1) >= 2**1024)
    assert first_inf == 1023
    assert numbers(shown(printed, r"first inf at step (\d+), first nan at step (\d+)")) == (
        first_inf, first_inf + 1)
    float64_max = (2 - Fraction(1, 2**52)) * 2**1023
    assert shown(printed, r"largest float64: (\S+) ≈ 2\*\*(\S+)") == (
        f"{float(float64_max):.4g}", f"{math.log2(float(float64_max)):.1f}")


def test_float16_overflow(printed):
    assert float(shown(printed, r"largest float16: (\d+)")) == FLOAT16_MAX == 65504
    # between 2^15 and 2^16 float16 numbers are 2^5 = 32 apart: 255² = 65025 rounds to 65024
    squares = [255**2, 256**2, 300**2]
    assert shown(printed, r"squared = \[(\S+), (\S+), (\S+)\]") == tuple(
        f"{float(round(s / 32) * 32)}" if s < FLOAT16_OVERFLOW else "inf" for s in squares)
    assert numbers(shown(printed, r"the loss is inf from step (\d+), x itself from step (\d+)")) \
        == overflow_steps() == (7, 15)


def test_checkpoints_and_clipping(printed):
    x, loss, computed, events = guarded_run()
    assert events == [(7, 5, 1.5, 0.75)] and computed == 32
    assert shown(printed, r"step (\d+): loss inf; back to the checkpoint of step (\d+), "
                          r"lr (\S+) -> (\S+)\n") == tuple(map(str, events[0]))
    assert numbers(shown(printed, r"after 30 steps \((\d+) computed\): x = (\S+), loss = (\S+)")) \
        == (computed, round(x, 4), round(loss, 4)) == (32, 2.0, 1.0)
    xs = clipped_run()
    assert numbers(shown(printed, r"last 20 points lie between (\S+) and (\S+)\n")) == (
        round(min(xs[-20:]), 2), round(max(xs[-20:]), 2)) == (1.5, 3.0)


def test_revenue_optimum(printed):
    # gradient of -R: (2 x1 - 100, 2 x2 - 50) = 0 at (50, 25); each coordinate keeps 0.8 of its
    # distance per step at lr 0.1
    x = np.array([50.0, 25.0]) * (1 - 0.8**60)
    revenue = 100 * x[0] + 50 * x[1] - x[0] ** 2 - x[1] ** 2
    assert numbers(shown(printed, r"after 60 steps: x = \[(\S+) +(\S+) *\], revenue = (\S+)")) == (
        round(x[0], 4), round(x[1], 4), round(revenue, 2))
    assert 100 * 50 + 50 * 25 - 50**2 - 25**2 == 3125


def test_house_price_curvature(printed):
    small, big = house_hessian_eigenvalues()
    assert shown(printed, r"Hessian eigenvalues (\S+) and (\S+): condition number (\S+), "
                          r"2 / lambda_max = (\S+)\n") == (
        f"{small:.4f}", f"{big:.4e}", f"{big / small:.3g}", f"{2 / big:.3g}")
    assert 1e-7 < 2 / big  # the tutorials' rate is stable
    assert "[[2. 0.]\n [0. 2.]]" in printed  # standardised: mean z = 0, mean z² = 1


def test_house_price_regression(printed):
    start_loss = np.mean((0.1 * SIZES + 50 - PRICES) ** 2)
    assert start_loss == 9160.0  # errors -50, -80, -100, -100, -130 by hand
    assert numbers(shown(printed, r"start: .* loss ([\d.]+)")) == (9160.0,)
    (slope, intercept), *_ = np.linalg.lstsq(np.c_[SIZES, np.ones(5)], PRICES, rcond=None)
    best_loss = np.mean((slope * SIZES + intercept - PRICES) ** 2)
    assert (round(slope, 5), round(intercept, 3)) == (0.136, 70.0)
    pattern = r"closed form\): +price = ([\d.]+) \* size \+ ([\d.]+), loss ([\d.]+)"
    assert numbers(shown(printed, pattern)) == (
        round(slope, 5), round(intercept, 3), round(best_loss, 2))
    assert numbers(shown(printed, r"standardised, lr 0.1, 200 steps: price = ([\d.]+) \* size \+ "
                                  r"([\d.]+), loss ([\d.]+)")) == (
        round(slope, 5), round(intercept, 3), round(best_loss, 2))
    # the raw run: 1000 steps of lr 1e-7 on the unscaled data, with the gradient by hand
    w, b = 0.1, 50.0
    for _ in range(1000):
        e = w * SIZES + b - PRICES
        w, b = w - 1e-7 * 2 * np.mean(e * SIZES), b - 1e-7 * 2 * np.mean(e)
    loss = np.mean((w * SIZES + b - PRICES) ** 2)
    assert numbers(shown(printed, r"1000 steps: price = ([\d.]+) \* size \+ ([\d.]+), "
                                  r"loss ([\d.]+)")) == (round(w, 5), round(b, 3), round(loss, 2))
    # one step from (0.1, 50), by hand: dL/dw = -404000, dL/db = -184; updating b after w sees
    # the new w = 0.1404, whose mean error is 0.1404 * 2000 + 50 - 342 = -11.2
    together = Fraction(50) + Fraction(1, 10**7) * 184
    after_w = Fraction(50) + Fraction(1, 10**7) * 2 * Fraction(112, 10)
    assert numbers(shown(printed, r"one step from \(0.1, 50\): b = (\S+) updated together with "
                                  r"w, (\S+) updated after w")) == (
        round(float(together), 8), round(float(after_w), 8))


def test_gradient_check_figures(printed):
    e = 0.1 * SIZES + 50 - PRICES
    analytic = (2 * np.mean(e * SIZES), 2 * np.mean(e))
    assert analytic == (-404000.0, -184.0)
    assert numbers(shown(printed, r"autograd gradient: \[(\S+) +(\S+)\]")) == analytic
    for h in (1e-2, 1e-4):
        central, forward = numbers(shown(
            printed, rf"h = {h:g}: relative error central (\S+), forward (\S+)"))
        # forward: truncation h * (d²L/dw²) / 2 / |dL/dw| (the b coordinate's is smaller)
        assert forward == float(f"{max(h * np.mean(SIZES**2) / 404000, h / 184):.1e}")
        # central: no truncation on a quadratic, only rounding, about eps |L| / (h |dL/db|)
        rounding = EPS * 9160 / (h * 184)
        assert rounding / 3 < central < 3 * rounding


def test_the_best_finite_difference_steps(printed):
    best = finite_difference_sweep()
    for name, root in (("forward", 2), ("central", 3)):
        error, h = best[name]
        assert shown(printed, rf"{name}: smallest error (\S+) at h = (\S+)\n") == (
            f"{error:.0e}", f"{h:.0e}")
        # truncation against rounding: the best h is about eps^(1/2) or eps^(1/3)
        assert 1 / 3 < h / EPS ** (1 / root) < 3, name


# --- the exercises' expected answers -------------------------------------------------------

def test_exercise_answers_by_hand():
    # (w - 4)^2 from 0, lr 0.2: w <- w - 0.4 (w - 4) = 0.6 w + 1.6
    assert hand_steps(Fraction(2)) == [Fraction(8, 5), Fraction(64, 25), Fraction(392, 125)]
    assert hand_steps(Fraction(1)) == [Fraction(4, 5), Fraction(36, 25), Fraction(244, 125)]
    assert hand_steps(Fraction(-2)) == [Fraction(-8, 5), Fraction(-96, 25), Fraction(-872, 125)]
    # the seed's quiz: (w - 5)^2, lr 0.3, w0 = 0: w1 = 3, w2 = 4.2 (not among the seed's options)
    w1 = 0 - Fraction(3, 10) * 2 * (0 - 5)
    assert (w1, w1 - Fraction(3, 10) * 2 * (w1 - 5)) == (3, Fraction(21, 5))
    # house prices at w = 0.1, b = 50: (dL/dw, dL/db) = (-404000, -184); summing gives 5x, the
    # product of the means 2 mean(e) mean(x) = -368000
    e = 0.1 * SIZES + 50 - PRICES
    assert (2 * np.sum(e * SIZES), 2 * np.sum(e)) == (-2020000.0, -920.0)
    assert 2 * np.mean(e) * np.mean(SIZES) == -368000.0
    # steepest descent at grad (3, 4): -grad / 5
    assert (-3 / math.hypot(3, 4), -4 / math.hypot(3, 4)) == (-0.6, -0.8)


def hand_steps(factor):
    """Three steps on (w - 4)², lr 0.2, from 0, with ``factor`` (w - 4) as the derivative: 2 is
    right, 1 forgets the factor 2, -2 adds the gradient."""
    w = [Fraction(0)]
    for _ in range(3):
        w.append(w[-1] - Fraction(1, 5) * factor * (w[-1] - 4))
    return w[1:]


def steps_to_converge(lr, tol=Fraction(1, 1000)):
    """Steps from 0 on x² - 4x + 5 until |x - 2| <= tol."""
    return next(k for k in range(10_000) if abs(quadratic_after(k, Fraction(lr)) - 2) <= tol)


# --- the prose -----------------------------------------------------------------------------

def test_every_number_in_the_prose_is_known():
    g, length, angle, best, rate = steepest_descent()
    small, big = house_hessian_eigenvalues()
    w3, losses = shifted_square_run()
    loss_step, x_step = overflow_steps()
    xs = clipped_run()
    e = 0.1 * SIZES + 50 - PRICES
    computed = [
        # steps by hand: x1, f(x1), x2, f(x2), the factor 1 - 2 lr, the minimum and its value
        *(float(quadratic_after(k, "0.1")) for k in (1, 2)), 3.56, 2.6384, 1 - 2 * 0.1, 2, 1,
        *map(float, w3), *map(float, losses), float((1 - 2 * Fraction(1, 10)) ** 2),
        # the direction of steepest descent at (0, 0) of -R
        *g,
        # overflow: 2^(k+1) reaches 2^1024 at k = 1023 (from x_1022); float16's largest number
        1023, 1024, 1022, float(FLOAT16_MAX), math.isqrt(int(FLOAT16_MAX)) + 1, loss_step,
        float((2 - Fraction(1, 2**52)) * 2**1023),
        # clipping at norm 1 with lr 1.5: steps of at most 1.5, bouncing between 1.5 and 3
        round(min(xs[-20:]), 2), round(max(xs[-20:]), 2), 1.5 * 1,
        # revenue: optimum, its value, the distance left after 60 steps
        3125, 0.8**60,
        # house prices: mean x² (Hessian's diagonal ratio), mean x, the condition number,
        # 2 / lambda_max, the fraction removed per step, 1000 steps' worth, start / final loss,
        # least squares' intercept
        float(np.mean(SIZES**2)), float(np.mean(SIZES)), big / small, 2 / big, 1e-7 * small,
        1 - (1 - 1e-7 * small) ** 1000, 9160, 92.44, 70,
        # the gradient check: dL/dw, forward errors (truncation), h relative to w and b, the
        # rounding of the central difference, machine epsilon and its roots, float64's digits
        -float(2 * np.mean(e * SIZES)), 0.01 * np.mean(SIZES**2) / 404000,
        1e-4 * np.mean(SIZES**2) / 404000, 0.01 / 0.1, 0.01 / 50, EPS,
        EPS * 9160 / (1e-2 * 184), EPS * 9160 / (1e-4 * 184), EPS ** (1 / 2), EPS ** (1 / 3),
        -math.log10(EPS), (2.0**-23) ** (1 / 3),
        # classify_run: lr 0.9 multiplies the error by 1 - 2 * 0.9 and converges after 35 steps
        1 - 2 * 0.9, steps_to_converge("0.9"),
        # the quiz: w2 = 4.2 (option b); steepest descent at grad (3, 4)
        4.2,
    ]
    assert steps_to_converge("0.9") == 35
    constants = [
        0, 1, 2, 3, 4, 5, 6, 8, 10,
        # the problems' coefficients and starts: x² - 4x + 5, (w - 3)², (w - 4)², (w - 5)², R
        100, 50, 25, -1, -10, 15, 16,
        # learning rates, step counts, the h of the finite differences, tolerances
        0.1, 0.2, 0.3, 0.5, 0.9, 1.5, 0.75, 1e-7, 20, 60, 1000, 0.01, 1e-4, 1e-3, 1e-5, 1e-6,
        1e-8, 1e-16, 0.001,
        # the direction sweep: 3600 directions, 180 degrees; the checkpoint interval; clipping
        # norm c = 1; the exp sweep's 201 points in [0.5, 1.5]; the coefficients of the error
        # terms; the measured bottoms within a factor of 3 (asserted in
        # test_the_best_finite_difference_steps)
        3600, 180, 201, 0.5,
        # the house data: five sizes in ft² (the first 1000), prices in $1000s
        1000, 2000, 0.1,
        # the tests' precision: 6 significant digits, 8 for numerical_gradient
        # the seed's quiz options (3.0, 3.42, 4.02, 2.58) and this course's (4.8, 5.0)
        3.42, 4.02, 2.58, 4.8,
        # habits for a starting learning rate (seeds 000, 002): 0.01 or 0.001, factors of 10;
        # SGD with momentum 1e-2 to 1e-1, Adam 1e-4 to 3e-4, fine-tuning 1e-5 to 5e-5
        1e-2, 1e-1, 3e-4, 5e-5, -5,
    ]
    check_prose(CHAPTER, constants=constants, computed=computed)
