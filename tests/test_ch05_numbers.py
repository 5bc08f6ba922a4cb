"""Every number chapter 5 prints or states, recomputed independently: closed forms, roots of the
characteristic polynomial, hand computations and momentum loops written out here (the lecture
ran ``torch.optim.SGD`` and NumPy's eigenvalues), and the claims its figures carry."""

from fractions import Fraction

import numpy as np
import pytest

from tests.lecture_text import printed_text, shown
from tests.prose import check_prose


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch05_momentum")


def momentum_path(grad, w0, lr, beta, steps, nesterov=False, dampening=0.0, weight_decay=0.0):
    """Torch's SGD written out: b1 = g1, b = beta b + (1 - dampening) g, step along b (or
    g + beta b); the points visited, shape (steps + 1, dim)."""
    w, buf = np.atleast_1d(np.array(w0, dtype=float)), None
    path = [w]
    for _ in range(steps):
        g = grad(w) + weight_decay * w
        if beta:
            buf = g if buf is None else beta * buf + (1 - dampening) * g
            g = g + beta * buf if nesterov else buf
        w = w - lr * g
        path.append(w)
    return np.array(path)


def ravine_grad(w):
    return np.array([2.0, 50.0]) * w


def ravine_loss(path):
    path = np.atleast_2d(path)
    return path[:, 0] ** 2 + 25 * path[:, 1] ** 2


def heavy_ball(lr, beta, steps, start=(-9.0, 2.0), nesterov=False):
    """The loss after ``steps`` momentum steps on w1² + 25 w2²."""
    return ravine_loss(momentum_path(ravine_grad, start, lr, beta, steps, nesterov)[-1])[0]


def rate(lr, beta, curvature):
    """Largest |root| of z² - (1 + beta - lr curvature) z + beta (the 2×2 iteration)."""
    return max(abs(np.roots([1.0, -(1 + beta - lr * curvature), beta])))


# Polyak's tuning for the ravine, in exact fractions: sqrt(kappa) = 5
KAPPA = Fraction(50, 2)
RHO_STAR = Fraction(5 - 1, 5 + 1)                  # 2/3
BETA_STAR = RHO_STAR**2                            # 4/9
LR_STAR = Fraction(1, 18)                          # 4 / (sqrt 2 + 5 sqrt 2)^2 = 4 / 72
LR_GD = Fraction(2, 2 + 50)                        # 1/26
RHO_GD = 1 - 2 * LR_GD                             # (kappa - 1) / (kappa + 1) = 12/13


def steps_below(path, tol=1e-6):
    return int(np.argmax(ravine_loss(path) < tol))


# --- the printed numbers -----------------------------------------------------------------------

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


def ball(friction, dt=0.1, steps=100):
    """Newton's law with friction on w²/2, velocity first: u -= dt (friction u + w), w += dt u."""
    w, u, path = 1.0, 0.0, [1.0]
    for _ in range(steps):
        u -= dt * (friction * u + w)
        w += dt * u
        path.append(w)
    return np.array(path)


def test_the_heavy_ball_is_newton_with_friction(printed):
    for friction in (0.5, 2.0, 8.0):
        beta = 1 - 0.1 * friction  # beta = 1 - friction dt, lr = dt²
        torch_form = momentum_path(lambda w: w, 1.0, 0.01, beta, 100)[:, 0]
        assert np.abs(ball(friction) - torch_form).max() < 1e-12
        assert shown(printed, rf"friction {friction}: momentum ([\d.]+), physics and torch agree "
                              r"to 1e-12: (\w+)") == (f"{beta:.2f}", "True")
    # the figure: little friction overshoots and rings, critical friction does not, much creeps
    assert ball(0.5).min() < -0.4 and (np.diff(np.sign(ball(0.5))) != 0).sum() >= 2
    assert ball(2.0).min() >= 0 and ball(2.0)[-1] < 0.01
    assert ball(8.0).min() > 0.25
    # the discrete iteration is critically damped at beta = (1 - sqrt(lr))², close to 1 - 2 dt
    assert (1 - np.sqrt(0.01)) ** 2 == pytest.approx(0.81) and 1 - 2 * 0.1 == pytest.approx(0.8)


def test_the_two_by_two_iteration(printed):
    # roots of z² - T z + beta with T = 1 + beta - lr curvature: complex, |z| = sqrt(beta)
    for curvature, expected in ((2.0, "0.7000+0.1000j, 0.7000-0.1000j"),
                                (50.0, "-0.5000+0.5000j, -0.5000-0.5000j")):
        T = 1 + 0.5 - 0.05 * curvature
        z = (T + 1j * np.sqrt(4 * 0.5 - T**2)) / 2
        assert expected == f"{z:.4f}, {z.conjugate():.4f}"
        line = shown(printed, rf"curvature +{curvature:.0f}: eigenvalues (.*); \|z\| = ([\d.]+)")
        assert line == (expected, f"{np.sqrt(0.5):.4f}")
    loss = ravine_loss(momentum_path(ravine_grad, (-9.0, 2.0), 0.05, 0.5, 60))
    assert shown(printed, r"the torch run's loss shrinks by ([\d.]+) per step on average "
                          r"\(rate² = ([\d.]+)\)") == (f"{(loss[60] / loss[0]) ** (1 / 60):.3f}",
                                                        "0.500")


def test_stability_edge(printed):
    # p(-1) = 2 (1 + beta) - lr lambda: the edge lr = 2 * 1.5 / 50 = 0.06
    assert rate(0.06, 0.5, 50.0) == pytest.approx(1.0)
    for lr in (0.059, 0.061):
        w2 = momentum_path(ravine_grad, (-9.0, 2.0), lr, 0.5, 300)[-1, 1]
        line = shown(printed, rf"lr {lr}: eta \* 50 = ([\d.]+), 2 \(1 \+ beta\) = 3, rate "
                              r"([\d.]+), \|w2\| after 300 steps = (\S+)")
        assert line == (f"{lr * 50:.2f}", f"{rate(lr, 0.5, 50.0):.4f}", f"{abs(w2):.1e}")
    assert rate(0.059, 0.5, 50.0) < 1 < rate(0.061, 0.5, 50.0)


def test_polyak_tuning_and_the_step_counts(printed):
    assert float(BETA_STAR) == pytest.approx(((np.sqrt(25) - 1) / (np.sqrt(25) + 1)) ** 2)
    assert float(LR_STAR) == pytest.approx(4 / (np.sqrt(2) + np.sqrt(50)) ** 2)
    assert shown(printed, r"beta\* = ([\d.]+) \(4/9\), lr\* = ([\d.]+) \(1/18\), rate ([\d.]+) "
                          r"against gradient descent's ([\d.]+)") == (
        f"{float(BETA_STAR):.4f}", f"{float(LR_STAR):.4f}", f"{float(RHO_STAR):.4f}",
        f"{float(RHO_GD):.4f}")
    gd = steps_below(momentum_path(ravine_grad, (-9.0, 2.0), float(LR_GD), 0.0, 200))
    tuned = steps_below(momentum_path(ravine_grad, (-9.0, 2.0), float(LR_STAR), float(BETA_STAR),
                                      200))
    assert (gd, tuned) == (119, 33)  # the numbers the brief asked to verify
    assert shown(printed, r"gradient descent (\d+), tuned momentum (\d+)") == (str(gd), str(tuned))
    shrink = np.sqrt(181 / 1e-6)  # L(-9, 2) = 81 + 25 * 4
    assert shown(printed, r"the rates alone predict ([\d.]+) and ([\d.]+)") == (
        f"{np.log(shrink) / -np.log(float(RHO_GD)):.1f}",
        f"{np.log(shrink) / -np.log(float(RHO_STAR)):.1f}")


def rates(lr, beta, curvature):
    """``rate`` for arrays, from the quadratic formula."""
    T = 1 + beta - lr * curvature
    root = np.sqrt(T**2 - 4 * beta + 0j)
    return np.maximum(abs(T + root), abs(T - root)) / 2


def test_polyak_tuning_is_the_best_pair():
    # the worst rate over [2, 50] sits at an end of the spectrum; a fine grid over (lr, beta)
    lrs, betas = np.meshgrid(np.linspace(0.03, 0.08, 1001), np.linspace(0.0, 0.9, 901))
    worst = np.maximum(rates(lrs, betas, 2.0), rates(lrs, betas, 50.0))
    best = np.unravel_index(worst.argmin(), worst.shape)
    assert worst.min() >= float(RHO_STAR) - 1e-9  # no pair of the grid does better
    assert worst.min() == pytest.approx(float(RHO_STAR), abs=2e-3)
    assert lrs[best] == pytest.approx(float(LR_STAR), abs=5e-4)
    assert betas[best] == pytest.approx(float(BETA_STAR), abs=5e-3)
    assert rate(float(LR_STAR), float(BETA_STAR), 2.0) == pytest.approx(float(RHO_STAR))
    assert rate(float(LR_STAR), float(BETA_STAR), 50.0) == pytest.approx(float(RHO_STAR))
    # every curvature in between has complex roots of modulus sqrt(beta*)
    for curvature in np.linspace(2.0, 50.0, 49):
        assert rate(float(LR_STAR), float(BETA_STAR), curvature) == pytest.approx(
            float(RHO_STAR), abs=1e-6)


def test_the_double_root_explains_the_extra_steps():
    # at the ends of the spectrum w_k = (A + B k) rho^k: closed forms by hand
    path = momentum_path(ravine_grad, (-9.0, 2.0), float(LR_STAR), float(BETA_STAR), 40)
    k = np.arange(41)
    np.testing.assert_allclose(path[:, 0], -(9 + 3 * k) * (2 / 3) ** k, rtol=1e-9)
    np.testing.assert_allclose(path[:, 1], (2 + 10 * k / 3) * (-2 / 3) ** k, rtol=1e-9)


def test_the_rate_figure():
    lr = float(LR_STAR)
    assert rate(lr, 0.0, 50.0) > 1  # 1/18 is beyond gradient descent's 0.04
    edge = 50 * lr / 2 - 1  # lr lambda = 2 (1 + beta)
    assert edge == pytest.approx(50 / 36 - 1) and f"{edge:.3f}" == "0.389"
    assert rate(lr, edge - 1e-6, 50.0) > 1 > rate(lr, edge + 1e-6, 50.0)
    betas = np.linspace(0.0, 0.95, 400)
    worse = [max(rate(lr, b, 2.0), rate(lr, b, 50.0)) for b in betas]
    assert betas[int(np.argmin(worse))] == pytest.approx(4 / 9, abs=0.003)
    for b in betas[betas > 4 / 9 + 1e-3]:  # right of the corners both follow sqrt(beta)
        assert rate(lr, b, 2.0) == pytest.approx(np.sqrt(b)) == rate(lr, b, 50.0)
    # the dots: measured shrink factors agree with the eigenvalues
    for b in (0.2, 0.39, 0.5, 0.9):
        for curvature in (2.0, 50.0):
            w = np.abs(momentum_path(lambda w, c=curvature: c * w, 1.0, lr, b, 400)[:, 0])
            measured = (w[381:].max() / w[181:201].max()) ** (1 / 200)
            assert measured == pytest.approx(rate(lr, b, curvature), rel=0.01)


def test_steps_grow_like_kappa_and_like_its_root():
    def predicted(k, tuned):
        r = (np.sqrt(k) - 1) / (np.sqrt(k) + 1) if tuned else (k - 1) / (k + 1)
        return np.log(1e6) / -np.log(r)

    for tuned, slope in ((False, 1.0), (True, 0.5)):
        big = np.log(predicted(1e6, tuned) / predicted(1e5, tuned)) / np.log(10)
        assert big == pytest.approx(slope, abs=0.01)
    for k in (4.0, 16.0, 64.0, 256.0):
        lr, beta = 4 / (1 + np.sqrt(k)) ** 2, ((np.sqrt(k) - 1) / (np.sqrt(k) + 1)) ** 2
        path = momentum_path(lambda w, k=k: np.array([1.0, k]) * w, [1.0, 1.0], lr, beta, 400)
        counted = np.argmax(np.linalg.norm(path, axis=1) < 1e-6 * np.sqrt(2))
        assert 1 < counted / predicted(k, True) < 1.5  # "a little above its line"


def test_learning_rate_drop(printed):
    # torch: b = 1, 1.9, 2.71 -> w3 = -(0.1 + 0.19 + 0.0271); lr inside: v = 0.1, 0.19, 0.181
    assert shown(printed, r"after the drop: torch w3 = ([-\d.]+), lr inside the buffer w3 = "
                          r"([-\d.]+)") == ("-0.3171", "-0.4710")


def test_dampening_and_weight_decay(printed):
    buffers, b = [], None
    for _ in range(4):
        b = 1.0 if b is None else 0.9 * b + 0.5 * 1.0
        buffers.append(b)
    assert shown(printed, r"dampening 0.5, buffers: (.*) -> (\d+)") == (
        ", ".join(f"{b:.4f}" for b in buffers), f"{0.5 / (1 - 0.9):.0f}")
    assert shown(printed, r"first buffer: ([\d.]+)") == f"{0.1 * 3.0:.4f}"


def test_torch_nesterov_is_sutskever_at_the_look_ahead_point(printed):
    theta, v, look_ahead = np.array([-9.0, 2.0]), np.zeros(2), [np.array([-9.0, 2.0])]
    for _ in range(60):
        v = 0.9 * v - 0.01 * ravine_grad(theta + 0.9 * v)
        theta = theta + v
        look_ahead.append(theta + 0.9 * v)
    torch_form = momentum_path(ravine_grad, (-9.0, 2.0), 0.01, 0.9, 60, nesterov=True)
    assert np.abs(np.array(look_ahead) - torch_form).max() < 1e-12
    assert shown(printed, r"torch's Nesterov parameters agree to 1e-12 over 60 steps: (\w+)") == (
        "True")


def well_grad(w):
    return w * np.exp(-w**2 / 2)


def plateau_steps(beta):
    path = momentum_path(well_grad, 4.0, 0.1, beta, 3000)[:, 0]
    return int(np.argmax(1 - np.exp(-path**2 / 2) < 1e-3))


def saddle_steps(beta):
    path = momentum_path(lambda w: np.array([2.0, -2.0]) * w, [1.0, 1e-6], 0.05, beta, 200)
    return int(np.argmax(np.abs(path[:, 1]) > 1))


def saddle_growth(beta):
    # the root above 1 of z² - (1 + beta + 2 lr) z + beta (curvature -2)
    return max(np.roots([1.0, -(1 + beta + 2 * 0.05), beta]).real)


def test_plateaus_and_saddles(printed):
    assert shown(printed, r"gradient at w0 = 4: (\S+)") == f"{4 * np.exp(-8):.2e}"
    steps = {beta: plateau_steps(beta) for beta in (0.0, 0.5, 0.9)}
    for beta, count in steps.items():
        assert shown(printed, rf"plateau, beta = {beta}: (\d+) steps") == str(count)
    assert steps[0.5] / steps[0.0] == pytest.approx(1 / 2, rel=0.02)  # "half"
    assert steps[0.9] / steps[0.0] == pytest.approx(1 / 8, rel=0.05)  # "about an eighth"
    for beta in (0.0, 0.5, 0.9):
        z = saddle_growth(beta)
        assert shown(printed, rf"saddle, beta = {beta}: growth ([\d.]+) per step, predicted "
                              r"([\d.]+) steps, run (\d+) steps") == (
            f"{z:.3f}", f"{np.log(1e6) / np.log(z):.1f}", str(saddle_steps(beta)))
    assert saddle_steps(0.9) < saddle_steps(0.5) < saddle_steps(0.0)


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


# --- every number the markdown states -----------------------------------------------------------

def exercise_numbers() -> list[float]:
    """The exercises' worked numbers, by hand."""
    hand = [20.0, 20.0, 10 - 2.0, 16.0, 0.9 * 20 + 16, 0.1 * 34, 8 - 3.4, 10 * 0.8**2, 0.8]
    lr_drop = [0.01 * (0.9 * 1.9 + 1), 0.9 * 0.19 + 0.01, 1.9, 0.19]
    dampening = [0.9 + 0.5 * 1, -0.1, -(0.1 + 0.1 * 1.4)]
    g1 = -0.2 + 0.5 * 2
    w1 = 2 - 0.1 * g1
    g2 = -0.2 + 0.5 * w1
    b2 = 0.9 * g1 + g2
    weight_decay = [g1, w1, g2, b2, w1 - 0.1 * b2]
    nesterov = [0.1 * (1 + 0.9), 1.9, 0.9 * 1.9, 0.1 * (1 + 0.9 * 1.9)]
    return hand + lr_drop + dampening + weight_decay + nesterov


def tilted_well_numbers() -> list[float]:
    roots = np.roots([4.0, 0.0, -16.0, 1.0]).real
    return [*roots, *(r**4 - 8 * r**2 + r for r in roots)]


def test_every_number_the_prose_states_is_known():
    lr_gd_steep = 2 / 50
    constants = [
        0, 1, 2, 3, 4, 8, 10, 25, 50, 100, -1, -2, -9,  # the problems, formulas' coefficients,
        # the seed's number (003), the 2×2 matrix, L = w² / 2 and x⁴ - 8x² + x
        0.035, 0.05, 0.5, 0.9, 0.99, 0.1, 0.01, 60, 200, 400,
        1e-6, 1e-3, 2.5, -0.2, 3.0,  # hyper-parameters, steps, tolerances, starts
        12,  # the digits the visible plain step is checked to (rtol 1e-12)
    ]
    computed = [
        round(-np.log10(np.finfo(np.float32).eps)),  # float32's digits
        lr_gd_steep, 2 * lr_gd_steep, 1 - 2 * lr_gd_steep,  # gradient descent's limit
        np.sqrt(0.5), 2 * (1 + 0.5), 1 + 0.5, 2 * (1 + 0.5) / 50,  # the 2×2 rate and the edge
        2 * np.sqrt(1.0),  # critical friction of w² / 2
        BETA_STAR.numerator, BETA_STAR.denominator, LR_STAR.numerator, LR_STAR.denominator,
        RHO_STAR.numerator, RHO_STAR.denominator, LR_GD.numerator, LR_GD.denominator,
        RHO_GD.numerator, RHO_GD.denominator, float(RHO_GD), 36, 50 * float(LR_STAR) / 2 - 1,
        181, 119, 33, np.log(np.sqrt(181 / 1e-6)) / -np.log(float(RHO_GD)),
        np.log(np.sqrt(181 / 1e-6)) / -np.log(float(RHO_STAR)),
        -4.0**2 / 2, 4 * np.exp(-8), 1 / (1 - 0.5), 1 / (1 - 0.9),  # the plateau
        saddle_growth(0.0), saddle_growth(0.9),  # leaving the saddle
        *tilted_well_numbers(),
        *exercise_numbers(),
    ]
    check_prose("ch05_momentum", constants=constants, computed=computed)
