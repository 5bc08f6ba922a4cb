"""Every number the chapter-2 lecture prints, recomputed here independently (closed forms, exact
fractions, bisection, plain-Python loops) and compared with the committed outputs; the reference
curvature helpers the exercises' hidden tests use; and every number the lecture's and the
exercises' prose states (``check_prose`` at the end)."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from course.reference import curvature
from tests.lecture_text import printed_text, shown
from tests.prose import check_prose

CHAPTER = "ch02_loss_landscapes"
NUMBER = r"([-+]?\d+\.\d+)"
BEALE_C = (Fraction(3, 2), Fraction(9, 4), Fraction(21, 8))
SIZES = [1000, 1500, 2000, 2500, 3000]


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text(CHAPTER)


def bisect(g, lo, hi, tol=1e-13):
    """A root of g in [lo, hi], where g changes sign."""
    assert g(lo) * g(hi) < 0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(lo) * g(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def tilted_critical_points():
    fp = lambda x: 4 * x**3 - 16 * x + 1  # noqa: E731
    return bisect(fp, -3, -1), bisect(fp, -1, 1), bisect(fp, 1, 3)


def symmetric_eigenvalues(a, b, c):
    """Eigenvalues (small, large) of [[a, b], [b, c]], in closed form."""
    mean, radius = (a + c) / 2, math.hypot((a - c) / 2, b)
    return mean - radius, mean + radius


# --- the tanh unit, by hand: outputs tanh(w x + b) at x = -1 and 1, targets -0.5 and 0.5 -------

def unit_loss(w, b):
    return 0.5 * ((math.tanh(-w + b) + 0.5) ** 2 + (math.tanh(w + b) - 0.5) ** 2)


def unit_grad(w, b):
    d1 = (math.tanh(-w + b) + 0.5) * (1 - math.tanh(-w + b) ** 2)
    d2 = (math.tanh(w + b) - 0.5) * (1 - math.tanh(w + b) ** 2)
    return -d1 + d2, d1 + d2


def unit_run(w=-5.0, b=0.0, lr=1.0, steps=1200):
    losses, point = [unit_loss(w, b)], (w, b)
    for _ in range(steps):
        gw, gb = unit_grad(*point)
        point = (point[0] - lr * gw, point[1] - lr * gb)
        losses.append(unit_loss(*point))
    flat = next(k for k, v in enumerate(losses) if abs(v - losses[0]) > 0.01 * losses[0])
    down = next(k for k, v in enumerate(losses) if v < 1e-3)
    return flat, down, point


def unit_start():
    """At (-5, 0): the loss, the gradient's norm and the (double) Hessian eigenvalue. By symmetry
    the two points have the same second derivative s in w x + b, and the Hessian is 2s I."""
    t = math.tanh(5.0)  # the output at x = -1; the one at x = 1 is -t
    s = (1 - t**2) * (1 - t**2 - 2 * t * (t + 0.5))
    return unit_loss(-5.0, 0.0), math.hypot(*unit_grad(-5.0, 0.0)), 2 * s


def log_cosh_run(lr, w=-3.0, steps=200):
    """Gradient descent on log cosh(w - 1): whether the loss never rose, and the largest
    |w - 1| over the last 100 steps."""
    path = [w]
    for _ in range(steps):
        w -= lr * math.tanh(w - 1)
        path.append(w)
    losses = [math.log(math.cosh(v - 1)) for v in path]
    never_rose = all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    return never_rose, max(abs(v - 1) for v in path[-100:])


def log_cosh_cycle(lr):
    """Above lr = 2 the run ends on the 2-cycle 1 ± a with 2a = lr tanh(a)."""
    return bisect(lambda a: 2 * a - lr * math.tanh(a), 0.1, 1.0)


def house_hessian_condition(sizes):
    """Condition number of the MSE's Hessian 2 [[mean x², mean x], [mean x, 1]]."""
    n = len(sizes)
    mean_x, mean_x2 = Fraction(sum(sizes), n), Fraction(sum(s * s for s in sizes), n)
    small, big = symmetric_eigenvalues(2 * float(mean_x2), 2 * float(mean_x), 2.0)
    det = 4 * (mean_x2 - mean_x**2)
    return big / (float(det) / big)  # the small one as det / big: no cancellation


# --- the printed numbers -------------------------------------------------------------------

def test_critical_points_of_the_double_well(printed):
    # L' = 4w(w - 1)(w + 1); L'' = 12 w^2 - 4; L(±1) = -1
    for w, value, curvature_, kind in [(-1, -1, 8, "minimum"), (0, 0, -4, "maximum"),
                                       (1, -1, 8, "minimum")]:
        at = re.escape(f"{w:+.4f}")
        line = shown(printed, rf"critical point w = {at}: L = {NUMBER}, L'' = {NUMBER} -> (\w+)")
        assert (float(line[0]), float(line[1]), line[2]) == (value, curvature_, kind)


def test_two_hand_steps_and_a_step_too_long(printed):
    w1 = 2 - Fraction(1, 100) * (4 * 8 - 8)                  # 1.76
    w2 = w1 - Fraction(1, 100) * (4 * w1**3 - 4 * w1)        # 1.76 - 0.14767104
    assert (w1, w2) == (Fraction(176, 100), Fraction(629816, 390625))
    assert float(shown(printed, rf"step 1: w = {NUMBER}")) == 1.76
    assert float(shown(printed, rf"step 2: w = {NUMBER}")) == 1.61232896
    # lr 0.1 from 2: 2 - 0.1 * 24 = -0.4, left of the maximum; then on to the left minimum
    big = 2 - Fraction(1, 10) * 24
    w = float(big)
    for _ in range(199):
        w -= 0.1 * (4 * w**3 - 4 * w)
    assert shown(printed, rf"with lr 0.1: w1 = {NUMBER}, and after 200 steps w = {NUMBER}") == (
        f"{float(big):.4f}", f"{w:.4f}") == ("-0.4000", "-1.0000")


def test_a_zero_gradient_on_a_maximum(printed):
    # L = w^4 - 3w^2 + 2 from 2 with lr 0.1: L'(2) = 32 - 12 = 20, so w1 = 0 exactly
    w1 = 2 - Fraction(1, 10) * (4 * 2**3 - 6 * 2)
    assert w1 == 0
    assert shown(printed, r"w1 = (\S+), L\(w1\) = (\S+), L'\(w1\) = (\S+), L''\(w1\) = (\S+)\n") \
        == ("0.0", "2.0", "0.0", "-6.0")
    assert shown(printed, r"after 1000 more steps: w = (\S+)\n") == "0.0"
    # the minima: L' = 2w (2w² - 3) = 0 at w = ±sqrt(3/2), where L = 9/4 - 9/2 + 2 = -1/4
    assert shown(printed, rf"then 200 steps: w = {NUMBER}, L = {NUMBER}") == (
        f"{math.sqrt(1.5):.4f}", "-0.2500")


def test_tilted_double_well_critical_points_and_basins(printed):
    f = lambda x: x**4 - 8 * x**2 + x  # noqa: E731
    left, ridge, right = tilted_critical_points()
    assert f(left) < f(right)  # the left valley is the global one (a seed says otherwise)
    for x, kind in [(left, "minimum"), (ridge, "maximum"), (right, "minimum")]:
        got = shown(printed, rf"critical point x = {re.escape(f'{x:+.4f}')}: f = {NUMBER} -> (\w+)")
        assert (float(got[0]), got[1]) == (round(f(x), 4), kind)
    assert shown(printed, rf"global minimum at x = {NUMBER}, local minimum at x = {NUMBER}") == (
        f"{left:.4f}", f"{right:.4f}")
    # with a small step every start left of the ridge ends left: the grid step is 0.05
    grid = np.linspace(-3, 3, 121)
    assert shown(printed, rf"starts reaching the global minimum: {NUMBER} to {NUMBER}") == (
        "-3.00", f"{grid[grid < ridge].max():.2f}")
    assert shown(printed, rf"starts reaching the local minimum: +{NUMBER} to {NUMBER}") == (
        f"{grid[grid > ridge].min():.2f}", "3.00")
    for x0 in (-3.0, -1.0, 0.0, 1.0, 3.0):
        end = left if x0 < ridge else right
        start = re.escape(f"{x0:+.1f}")
        assert float(shown(printed, rf"start {start} -> ends at {NUMBER}")) == round(end, 4)


def test_saddle_ravine_floor_and_flat_lines(printed):
    assert "Hessian eigenvalues [-2.  2.]" in printed  # x² - y²: diag(2, -2)
    # Rosenbrock's Hessian at (1, 1): [[2 + 800, -400], [-400, 200]]
    small, big = symmetric_eigenvalues(802.0, -400.0, 200.0)
    assert shown(printed, rf"at \(1, 1\): eigenvalues {NUMBER} and {NUMBER}") == (
        f"{small:.4f}", f"{big:.4f}")
    # Beale on x = 0 and y = 1: every term is c_i, so the loss is the sum of c_i²
    line_value = sum(c * c for c in BEALE_C)
    assert line_value == Fraction(14203125, 10**6)
    assert shown(printed, r"Beale on x = 0 and on y = 1: \[(.*)\]").split() == [
        f"{float(line_value):.4f}"] * 5
    # at (0, 1): d²f/dx² = sum 2 (y^i - 1)² = 0, d²f/dy² = 0, d²f/dxdy = 2 sum i c_i
    cross = float(2 * sum(i * c for i, c in enumerate(BEALE_C, start=1)))
    assert shown(printed, r"Hessian eigenvalues at \(0, 1\): \[(\S+) +(\S+)\]") == (
        f"{-cross:g}", f"{cross:g}")


def test_the_plateau_of_a_saturated_unit(printed):
    loss, grad_norm, eigenvalue = unit_start()
    assert shown(printed, r"at \(-5, 0\): loss (\S+), gradient norm (\S+), Hessian eigenvalues "
                          r"\[(\S+) +(\S+)\]") == (
        f"{loss:.4f}", f"{grad_norm:.1e}", f"{eigenvalue:.4f}", f"{eigenvalue:.4f}")
    flat, down, (w, b) = unit_run()
    assert shown(printed, r"within 1 % of its start for (\d+) steps, below 1e-3 from step (\d+); "
                          r"ends at \((\S+), (\S+)\)") == (
        str(flat), str(down), f"{math.atanh(0.5):.4f}", f"{abs(b):.4f}")
    assert abs(w - math.atanh(0.5)) < 1e-9


def test_ravine_curvature(printed):
    # L = w1^2 + 25 w2^2: gradient (2 w1, 50 w2), Hessian diag(2, 50)
    assert "gradient at (1, 1): [ 2. 50.]" in printed
    assert "Hessian eigenvalues: [ 2. 50.]" in printed
    assert float(shown(printed, rf"condition number = {NUMBER}")) == 50 / 2
    assert float(shown(printed, rf"largest stable learning rate 2 / lambda_max = {NUMBER}")) \
        == 2 / 50


def test_ravine_runs_converge_below_the_limit_and_diverge_above(printed):
    # along w2 the factor per step is 1 - 50 lr, along w1 1 - 2 lr, from (-9, 2)
    for lr in (0.01, 0.035, 0.041):
        w1, w2 = -9 * (1 - 2 * lr) ** 40, 2 * (1 - 50 * lr) ** 40
        got = float(shown(printed, rf"lr = {lr}: loss after 40 steps = ([\d.e+]+)"))
        assert got == pytest.approx(w1**2 + 25 * w2**2, rel=5e-4)


def test_steps_to_cut_the_loss_by_a_million(printed):
    # eigenvalues 1 and 100: best lr 2/101, rho = 99/101, loss factor rho^2 per step
    for lr, rho in [(2 / 101, 99 / 101), (1 / 100, 0.99)]:
        k = next(k for k in range(1, 10_000) if rho ** (2 * k) <= 1e-6)
        assert shown(printed, rf"lr = {lr:.6f} \(.*\): rho = {NUMBER}, steps to cut the loss by "
                              rf"1e6 = (\d+)") == (f"{rho:.6f}", str(k))
        assert shown(printed, rf"lr = {lr:.6f}: loss below 1e-6 of its start after (\d+) steps") \
            == str(k)
    assert (346, 688) == (curvature.iterations_to_reduce([1, 100], 1e6),
                          curvature.iterations_to_reduce([1, 100], 1e6, lr=0.01))
    rate = shown(printed, rf"\(kappa - 1\) / \(kappa \+ 1\) = {NUMBER}")
    assert float(rate) == round(99 / 101, 6)


def test_convexity(printed):
    assert shown(printed, r"house-price MSE: chords below the graph in (\d+) of 10000") == "0"
    # the double well's chords, sampled as the lecture samples them (seed 1, after the MSE's)
    rng = np.random.default_rng(1)
    rng.uniform(size=(10_000, 1)), rng.uniform(-400, 400, size=(2, 10_000, 2))
    t, a, c = rng.uniform(size=10_000), *rng.uniform(-1.5, 1.5, size=(2, 10_000))
    well = lambda w: w**4 - 2 * w**2  # noqa: E731
    below = int(np.sum(well(t * a + (1 - t) * c) - (t * well(a) + (1 - t) * well(c)) > 1e-9))
    assert 0 < below < 10_000
    assert shown(printed, r"double well: chords below the graph in (\d+) of 10000") == str(below)
    # sizes in ft² and in m²: X^T X / n has rank 2; its other two eigenvalues, in closed form
    m2 = Fraction(sum(s * s for s in SIZES), 5)
    m1, r = Fraction(sum(SIZES), 5), 1 + Fraction(929, 10_000) ** 2
    small, big = symmetric_eigenvalues(float(m2 * r), float(m1) * math.sqrt(r), 1.0)
    small = float(r * (m2 - m1 * m1)) / big
    assert shown(printed, r"repeated feature: \[ *(\S+) +(\S+) +(\S+)\]") == (
        "0.", f"{small:.4f}", f"{big:.4f}")
    # log cosh(w - 1) is 1-smooth: below 2 / L = 2 the loss falls at every step
    for lr, converges in ((1.9, True), (2.1, False)):
        never_rose, spread = log_cosh_run(lr)
        assert never_rose is converges
        assert shown(printed, rf"lr = {lr}: the loss never rose: (\w+); \|w - 1\| over the last "
                              rf"100 steps at most (\S+)\n") == (str(never_rose), f"{spread:.2g}")
    assert log_cosh_run(1.9)[1] < 1e-5
    assert log_cosh_run(2.1)[1] == pytest.approx(log_cosh_cycle(2.1), abs=1e-9)


def test_newton_and_preconditioning(printed):
    assert "one Newton step on the ravine from (-9, 2): [0. 0.]" in printed  # (-9, 2) - (-9, 2)
    # on the double well Newton's step is w - (4w³ - 4w) / (12w² - 4) = 2w³ / (3w² - 1)
    exact = [Fraction(3, 10)]
    for _ in range(3):
        exact.append(2 * exact[-1] ** 3 / (3 * exact[-1] ** 2 - 1))
    w = float(exact[-1])
    w = w - (4 * w**3 - 4 * w) / (12 * w**2 - 4)  # in floats the w³ terms vanish: exactly 0
    assert w == 0
    assert shown(printed, r"Newton on the double well from 0.3: (.*) \(L''") == ", ".join(
        f"{float(v):.3g}" for v in [*exact, w])
    assert "(L'' = -4 there: a maximum)" in printed
    assert "ravine: condition number 25.0, preconditioned 1.0" in printed
    assert shown(printed, r"house prices: condition number (\S+) with the raw sizes, (\S+) "
                          r"standardised") == (f"{house_hessian_condition(SIZES):.3g}", "1.0000")


def test_random_hessians_are_rarely_positive_definite(printed):
    found = re.findall(r"all eigenvalues > 0 = (\S+) \((\d+) of (\d+)\)", printed)
    assert len(found) == 5
    shares = [int(hits) / int(n) for _, hits, n in found]
    assert [shown_ for shown_, _, _ in found] == [f"{s:.2g}" for s in shares]
    assert shares[0] == pytest.approx(0.5, abs=0.01)           # a 1x1 Gaussian is positive half
    assert all(b < a for a, b in zip(shares, shares[1:], strict=False))
    assert all(s <= 0.5**n for n, s in enumerate(shares, start=1))
    # n = 2: with u = (a + c)/sqrt 2, v = (a - c)/sqrt 2, s = sqrt 2 b, all N(0, 1), both
    # eigenvalues are positive iff u > 0 and u² > v² + s²; P(chi²_1 > chi²_2) = 1 - E[e^(-u²/2)]
    # = 1 - 1/sqrt 2, so the chance is (1 - 1/sqrt 2) / 2
    exact = (1 - 1 / math.sqrt(2)) / 2
    assert exact == pytest.approx((2 - math.sqrt(2)) / 4, rel=1e-15)
    assert abs(shares[1] - exact) < 4 * math.sqrt(exact * (1 - exact) / int(found[1][2]))
    assert shown(printed, r"\(2 - sqrt 2\) / 4 = (\S+)\n") == f"{exact:.4f}"


# --- the reference helpers of the exercises ------------------------------------------------

def test_condition_number_and_stability_limit_of_a_rotated_matrix():
    c, s = math.cos(0.3), math.sin(0.3)
    q = np.array([[c, -s], [s, c]])
    H = q @ np.diag([2.0, 50.0]) @ q.T
    assert curvature.condition_number(H) == pytest.approx(25.0, rel=1e-12)
    assert curvature.max_stable_lr(H) == pytest.approx(0.04, rel=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        curvature.condition_number(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        curvature.max_stable_lr(np.array([[1.0, 2.0], [0.0, 1.0]]))


def test_newton_step_solves_the_quadratic_model():
    # H = [[3, 1], [1, 2]]: H^{-1} = [[2, -1], [-1, 3]] / 5, so H^{-1} (1, 0) = (0.4, -0.2)
    step = curvature.newton_step([1.0, 1.0], [1.0, 0.0], [[3.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(step, [0.6, 1.2], rtol=1e-14)
    with pytest.raises(ValueError, match="positive definite"):
        curvature.newton_step([0.0, 0.0], [1.0, 1.0], np.diag([1.0, -1.0]))


def test_iterations_match_a_direct_run():
    rng = np.random.default_rng(0)
    for _ in range(5):
        lam = rng.uniform(0.5, 30, size=3)
        lam[0], lam[1] = lam.min() - 0.1, lam.max() + 0.1  # distinct extremes
        k = curvature.iterations_to_reduce(lam, 1e4)
        theta = np.zeros(3)
        theta[0] = 1.0  # the flat direction: at the best lr every start is a worst case
        losses = [0.5 * np.sum(lam * theta**2)]
        lr = curvature.best_fixed_lr(lam)
        while losses[-1] > losses[0] / 1e4:
            theta = theta - lr * lam * theta
            losses.append(0.5 * np.sum(lam * theta**2))
        assert len(losses) - 1 == k
    assert curvature.iterations_to_reduce([4.0, 4.0], 10) == 1
    with pytest.raises(ValueError, match="does not converge"):
        curvature.iterations_to_reduce([1.0, 100.0], 10, lr=0.03)


def test_classify_and_restarts():
    assert [curvature.classify_critical_point(v) for v in (8, -4, 0)] == [
        "minimum", "maximum", "undetermined"]
    f = lambda x: x**4 - 8 * x**2 + x  # noqa: E731
    grad = lambda x: 4 * x**3 - 16 * x + 1  # noqa: E731
    best, ends = curvature.random_restarts(f, grad, [10.0, 1.0, -1.0], 0.01, 300)
    assert not np.isfinite(ends[0])
    assert best == pytest.approx(bisect(grad, -3, -1), abs=1e-9)


# --- the exercises' expected answers -------------------------------------------------------

def test_exercise_answers_by_hand():
    # the two hand steps' known mistakes: the gradient added, L' without -4w, 2w for (2w²)'
    def two_steps(derivative, sign=-1):
        w = Fraction(2)
        for _ in range(2):
            w = w + sign * Fraction(1, 100) * derivative(w)
        return w

    assert two_steps(lambda w: 4 * w**3 - 4 * w, +1) == Fraction(259997696, 10**8)
    assert two_steps(lambda w: 4 * w**3) == Fraction(149033472, 10**8)
    assert two_steps(lambda w: 4 * w**3 - 2 * w) == Fraction(155086208, 10**8)
    # iterations: 1/lambda_max gives 688, rho instead of rho² 691, floor 345; unrounded 345.38
    assert math.ceil(math.log(1e6) / -math.log(99 / 101)) == 691
    assert math.floor(math.log(1e6) / (-2 * math.log(99 / 101))) == 345
    # the ravine's Newton mistakes from (-9, 2): w - H g, w + H^{-1} g, w - g
    assert (-9 - 2 * -18, 2 - 50 * 100) == (27, -4998)
    assert (-9 + 9, 2 + 2) == (0, 4) and (-9 - -18, 2 - 100) == (9, -98)
    # random restarts: x = 10 diverges at lr 0.01, x⁴ - 8x² - x has its deeper valley at +2.03
    assert 10 - 0.01 * (4 * 1000 - 160 + 1) == pytest.approx(-28.41)
    left, _, right = tilted_critical_points()
    assert left**4 - 8 * left**2 + left < right**4 - 8 * right**2 + right


# --- the prose -----------------------------------------------------------------------------

def test_every_number_in_the_prose_is_known():
    left, ridge, right = tilted_critical_points()
    small, big = symmetric_eigenvalues(802.0, -400.0, 200.0)
    loss, grad_norm, eigenvalue = unit_start()
    flat, _, _ = unit_run()
    computed = [
        # the double well: L'(2) = 24, the long first step lands at -0.4
        4 * 2**3 - 4 * 2, float(2 - Fraction(1, 10) * 24),
        # the exam problem w^4 - 3w^2 + 2 from 2: L'(2) = 32 - 12 = 20, L(2) = 6, L''(0) = -6,
        # minima at ±sqrt(3/2) with L = -1/4
        4 * 2**3, 6 * 2, 20, 2**4 - 3 * 2**2 + 2, -6, math.sqrt(1.5), -0.25,
        # the tilted double well: the ridge and the two minima
        ridge, left, right,
        # the saddle's y grows by 1 + 2 * 0.1 per step; Rosenbrock's curvatures at (1, 1)
        1 + 2 * 0.1, small, big,
        # Beale on its flat lines
        float(sum(c * c for c in BEALE_C)),
        # the tanh unit: its minimum, the plateau's level and curvature, the steps spent there
        math.atanh(0.5), 1 + 0.5, 0.5 * (1.5**2 + 1.5**2), grad_norm, eigenvalue, flat,
        # log cosh above 2 / L: the 2-cycle 1 ± a
        1 - log_cosh_cycle(2.1), 1 + log_cosh_cycle(2.1), 1.9, 2.1,
        # the ravine at lr 0.035: w2 multiplied by 1 - 50 * 0.035; the limit 2 / 50
        1 - 50 * 0.035, 2 / 50,
        # the house prices' condition number, raw sizes
        house_hessian_condition(SIZES),
        # n = 2 random Hessians: both eigenvalues positive with probability (2 - sqrt 2) / 4
        (2 - math.sqrt(2)) / 4,
    ]
    constants = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16,
        # the landscapes' coefficients: 25 and 50 of the ravine, 100 of Rosenbrock, Beale's c
        # and minimum, the tanh unit's data and start, eigenvalues 1 and 100
        25, 50, 100, 1.5, 2.25, 2.625, 0.5, -0.5, -5,
        # learning rates, starts, step counts, sample sizes
        0.01, 0.1, 0.3, 0.035, 0.039, 1e-3, 200, 121, 200_000, -3,  # starts from -3 to 3
        # the stopping rules: 1 % of the loss, a factor 10^6
        0.01, 1e6,
    ]
    check_prose(CHAPTER, constants=constants, computed=computed)
