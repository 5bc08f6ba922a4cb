"""Every number the chapter-2 lecture prints, recomputed here independently (closed forms, hand
arithmetic, bisection, a direct count) and compared with the committed outputs; and the
reference curvature helpers the exercises' hidden tests use."""

import math
import re

import numpy as np
import pytest

from course.reference import curvature
from tests.lecture_text import printed_text, shown

NUMBER = r"([-+]?\d+\.\d+)"


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch02_loss_landscapes")


def bisect(g, lo, hi, tol=1e-13):
    """A root of g in [lo, hi], where g changes sign."""
    assert g(lo) * g(hi) < 0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(lo) * g(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def test_critical_points_of_the_double_well(printed):
    # L' = 4w(w - 1)(w + 1); L'' = 12 w^2 - 4; L(±1) = -1
    for w, value, curvature_, kind in [(-1, -1, 8, "minimum"), (0, 0, -4, "maximum"),
                                       (1, -1, 8, "minimum")]:
        at = re.escape(f"{w:+.4f}")
        line = shown(printed, rf"critical point w = {at}: L = {NUMBER}, L'' = {NUMBER} -> (\w+)")
        assert (float(line[0]), float(line[1]), line[2]) == (value, curvature_, kind)


def test_two_hand_steps(printed):
    w1 = 2 - 0.01 * (4 * 8 - 8)                   # 1.76
    w2 = w1 - 0.01 * (4 * w1**3 - 4 * w1)         # 1.76 - 0.14767104
    assert w1 == pytest.approx(1.76) and w2 == pytest.approx(1.61232896, abs=1e-12)
    assert float(shown(printed, rf"step 1: w = {NUMBER}")) == 1.76
    assert float(shown(printed, rf"step 2: w = {NUMBER}")) == 1.61232896


def test_tilted_double_well_critical_points_and_basins(printed):
    fp = lambda x: 4 * x**3 - 16 * x + 1  # noqa: E731
    f = lambda x: x**4 - 8 * x**2 + x  # noqa: E731
    left, ridge, right = bisect(fp, -3, -1), bisect(fp, -1, 1), bisect(fp, 1, 3)
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


def test_random_hessians_are_rarely_positive_definite(printed):
    shares = [float(s) for s in re.findall(r"all eigenvalues > 0 = ([\d.e+-]+)", printed)]
    assert len(shares) == 5
    assert shares[0] == pytest.approx(0.5, abs=0.01)           # a 1x1 Gaussian is positive half
    assert all(b < a for a, b in zip(shares, shares[1:], strict=False))
    assert all(s <= 0.5**n for n, s in enumerate(shares, start=1))


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
