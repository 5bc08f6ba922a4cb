"""Every number the chapter-7 lecture prints, recomputed independently and compared with the
committed outputs: closed forms and hand computations, and the NumPy reference optimizers (which
``test_reference_vs_torch.py`` checks against torch) where the lecture ran ``torch.optim``."""

import math
import re

import numpy as np
import pytest

from course import landscapes
from course.reference import optimizers as opt
from tests.lecture_text import printed_text
from tests.prose import check_prose


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch07_adam")


def shown(printed: str, pattern: str) -> tuple[str, ...]:
    """The groups of the one line of printed text matching ``pattern``."""
    found = re.findall(pattern, printed)
    assert len(found) == 1, f"expected one printed line matching {pattern!r}, found {found}"
    return found[0] if isinstance(found[0], tuple) else (found[0],)


def run(optimizer, start, grad, steps, lr_at=None):
    path = [np.asarray(start, dtype=float)]
    for k in range(1, steps + 1):
        if lr_at is not None:
            optimizer.lr = lr_at(k)
        path.append(optimizer.step(path[-1], grad(path[-1])))
    return np.array(path)


def test_windows(printed):
    for name, beta, window in [("beta1", 0.9, 10), ("beta2", 0.999, 1000),
                               ("beta2 for GPT-3", 0.95, 20)]:
        assert shown(printed, rf"window of {re.escape(name)} = {beta}: (\d+) steps") == (
            str(window),)
        assert round(1 / (1 - beta)) == window


def test_simulated_bias_matches_one_minus_beta_to_the_t(printed):
    for t in (1, 5, 20):
        average, closed, corrected = map(float, shown(
            printed, rf"t = +{t}: average m_t = ([\d.]+), \(1 - beta1\^t\) E\[g\] = ([\d.]+), "
                     r"corrected = ([\d.]+)"))
        assert closed == round((1 - 0.9**t) * 2.0, 2)
        # 20 000 runs: standard error of the average below 0.002; allow rounding plus 4 errors
        assert abs(average - (1 - 0.9**t) * 2.0) < 0.005 + 0.008
        assert abs(corrected - 2.0) < 0.005 + 0.008 / (1 - 0.9**t)


def test_first_two_adam_steps_on_w_squared_by_hand(printed):
    w, m, v, lr, eps = 10.0, 0.0, 0.0, 0.1, 1e-8
    for t in (1, 2):
        g = 2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + eps)
        assert shown(printed, rf"w{t} = ([\d.]+)") == (f"{w:.6f}",)
    # the prose's hand numbers for t = 1: g1 = 20, m1 = 2, v1 = 0.4, w1 = 9.9
    assert shown(printed, r"w1 = ([\d.]+)") == ("9.900000",)


def factor(t):
    return (1 - 0.9**t) / math.sqrt(1 - 0.999**t)


def test_hidden_schedule_of_uncorrected_adam(printed):
    assert shown(printed, r"factor at t = 1: ([\d.]+)") == (f"{0.1 / math.sqrt(0.001):.4f}",)
    best = max(range(1, 5001), key=factor)
    assert shown(printed, r"largest factor: ([\d.]+) at t = (\d+)") == (
        f"{factor(best):.3f}", str(best))
    assert shown(printed, r"factor at t = 100: ([\d.]+), at t = 1000: ([\d.]+)") == (
        f"{factor(100):.2f}", f"{factor(1000):.3f}")
    assert shown(printed, r"within 1% of 1 from t = (\d+)") == (str(within_one_percent()),)


def within_one_percent():
    """The first step from which the hidden factor stays within 1 % of 1 (checked to t = 20000)."""
    return 1 + max(t for t in range(1, 20001) if abs(factor(t) - 1) >= 0.01)


def test_uncorrected_adam_equals_adam_with_the_hidden_schedule(printed):
    """The lecture emulates uncorrected Adam by scaling torch's lr; here it is run directly."""
    corrected = run(opt.Adam(lr=0.1), [10.0], lambda w: 2 * w, 150)
    w, m, v, path = 10.0, 0.0, 0.0, [10.0]
    for _ in range(150):
        g = 2 * w
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w = w - 0.1 * m / (math.sqrt(v) + 1e-8)
        path.append(w)
    assert shown(printed, r"first step: corrected ([\d.]+), uncorrected ([\d.]+)") == (
        f"{10 - corrected[1, 0]:.4f}", f"{10 - path[1]:.4f}")
    assert shown(printed, r"lowest w: corrected ([-\d.]+), uncorrected ([-\d.]+)") == (
        f"{corrected.min():.3f}", f"{min(path):.3f}")


def test_eps_placement_with_a_tiny_gradient(printed):
    outside = 0.1 * 1e-9 / (1e-9 + 1e-8)
    assert shown(printed, r"torch's first step with g = 1e-9: ([\d.]+) \(0.1/11 = ([\d.]+)\)") == (
        f"{outside:.6f}", f"{0.1 / 11:.6f}")
    assert shown(printed, r"with eps inside the root it would be: (\S+)") == (
        f"{0.1 * 1e-9 / math.sqrt(1e-18 + 1e-8):.3g}",)
    assert shown(printed, r"with Kingma and Ba's efficient form: (\S+)") == (
        f"{efficient_first_step(1e-9, 1e-8, 0.1):.3g}",)


def efficient_first_step(g, eps, lr, beta1=0.9, beta2=0.999):
    """Kingma and Ba's 'efficient' Adam, written from the paper: the corrections folded into the
    step size, eps added to the uncorrected sqrt(v)."""
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    return lr * math.sqrt(1 - beta2) / (1 - beta1) * m / (math.sqrt(v) + eps)


def ravine_runs():
    grad, start = landscapes.ravine.grad, [-9.0, 2.0]
    return {"gradient descent, lr 0.035": run(opt.SGD(lr=0.035), start, grad, 60),
            "momentum 0.5, lr 0.05": run(opt.SGD(lr=0.05, momentum=0.5), start, grad, 60),
            "Adam, lr 0.5": run(opt.Adam(lr=0.5), start, grad, 5000)}


def test_ravine_runs(printed):
    runs = ravine_runs()
    losses = {label: landscapes.ravine.f(path[60]) for label, path in runs.items()}
    for label, loss in losses.items():
        assert shown(printed, rf"{re.escape(label)} +loss after 60 steps: (\S+)") == (
            f"{loss:.2e}",)
    # tuned momentum first, tuned gradient descent second, Adam last, as the prose says
    assert losses["momentum 0.5, lr 0.05"] < losses["gradient descent, lr 0.035"] < losses[
        "Adam, lr 0.5"]
    adam = runs["Adam, lr 0.5"]
    step_60, crossing, loss, best, back = adam_on_the_ravine(adam)
    pattern = (r"Adam's steps at step 60: lr / (\d+) and lr / (\d+); "
               r"w1 first crosses 0 at step (\d+)")
    assert shown(printed, pattern) == (f"{0.5 / step_60[0]:.0f}", f"{0.5 / step_60[1]:.0f}",
                                       str(crossing))
    assert shown(printed, r"Adam, lr 0.5, constant: loss (\S+) after 300 steps, lowest (\S+) at "
                          r"step (\d+), back above 1e-3 at step (\d+)") == (
        f"{loss[300]:.1e}", f"{loss[best]:.1e}", str(best), str(back))
    assert np.all(step_60 < 0.5 / 20)  # the steps do shrink: far below lr at step 60


def adam_on_the_ravine(path):
    step_60 = np.abs(path[60] - path[59])
    crossing = 1 + int(np.argmax(np.sign(path[1:, 0]) != np.sign(path[:-1, 0])))
    loss = landscapes.ravine.f(path)
    best = int(loss.argmin())
    return step_60, crossing, loss, best, best + int(np.argmax(loss[best:] > 1e-3))


def test_per_parameter_step_sizes_on_the_ravine(printed):
    # at step 1, v_hat = g², so the ratio of step sizes is |g2| / |g1| = 50*2 / (2*9)
    assert shown(printed, r"step size of w1 / step size of w2 at step 1: ([\d.]+)") == (
        f"{100 / 18:.2f}",)
    adam, w = opt.Adam(lr=0.5), np.array([-9.0, 2.0])
    for _ in range(10):
        w = adam.step(w, landscapes.ravine.grad(w))
    step_size = 0.5 / (np.sqrt(adam.v / (1 - 0.999**10)) + 1e-8)
    assert shown(printed, r"step size of w1 / step size of w2 at step 10: ([\d.]+)") == (
        f"{step_size[0] / step_size[1]:.2f}",)


RACERS = {
    "rosenbrock": [("SGD", lambda lr: opt.SGD(lr=5e-4 * lr)),
                   ("SGD + momentum 0.9", lambda lr: opt.SGD(lr=5e-4 * lr, momentum=0.9)),
                   ("RMSprop", lambda lr: opt.RMSprop(lr=5e-3 * lr)),
                   ("Adam", lambda lr: opt.Adam(lr=5e-2 * lr))],
    "beale": [("SGD", lambda lr: opt.SGD(lr=1e-3 * lr)),
              ("SGD + momentum 0.9", lambda lr: opt.SGD(lr=1e-3 * lr, momentum=0.9)),
              ("RMSprop", lambda lr: opt.RMSprop(lr=1e-2 * lr)),
              ("Adam", lambda lr: opt.Adam(lr=5e-2 * lr))],
}
SURFACES = {"rosenbrock": (landscapes.rosenbrock, (-1.5, 2.0)),
            "beale": (landscapes.beale, (1.0, 1.5))}
SCALES = (1 / 3, 1.0, 3.0, 10**0.6, 10**0.7)


def race(name, label, scale, steps=1000):
    """The final loss of one racer (NaN once it leaves the finite or |w| <= 1e6), and the step
    at which it diverged (None if it did not)."""
    surface, start = SURFACES[name]
    optimizer = dict(RACERS[name])[label](scale)
    w = np.array(start)
    with np.errstate(all="ignore"):
        for k in range(1, steps + 1):
            w = optimizer.step(w, surface.grad(w))
            if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6:
                return math.nan, k
    return float(surface.f(w)), None


@pytest.fixture(scope="module")
def race_grid():
    return {name: {label: [race(name, label, scale) for scale in SCALES]
                   for label, _ in RACERS[name]} for name in RACERS}


def same_final_loss(stated: float, ours: float) -> bool:
    """The printed loss of a run against ours. A run that stalls bounces chaotically, so its
    last loss depends on the CPU's last bits (NumPy and torch round powers differently with
    and without AVX-512): within a factor of 2. Below 1e-20 a loss is float64 noise on a start
    of order 10, and any such value matches. NaN (diverged) matches only NaN."""
    if math.isnan(stated) or math.isnan(ours):
        return math.isnan(stated) and math.isnan(ours)
    if stated < 1e-20 and ours < 1e-20:
        return True
    return abs(math.log10(stated / ours)) < math.log10(2)


def test_race_losses_at_five_rates(printed, race_grid):
    for name, racers in race_grid.items():
        block = printed.split(f"{name}: loss after 1000 steps with the rates", 1)[1]
        for label, results in racers.items():
            row = re.search(rf"  {re.escape(label)} +(.*)", block).group(1).split()
            assert len(row) == len(results), (name, label)
            for text, (loss, _) in zip(row, results, strict=True):
                assert same_final_loss(float(text), loss), (name, label, text, loss)
    for label in ("SGD", "SGD + momentum 0.9"):
        _, diverged = race_grid["rosenbrock"][label][-1]
        assert shown(printed, rf"{re.escape(label)} on rosenbrock at x 5.01 diverges at step "
                              r"(\d+)") == (str(diverged),)


def test_the_ranking_depends_on_the_rates(race_grid):
    """What the prose says about the table, from the independent runs."""
    def loss(name, label, i):
        return race_grid[name][label][i][0]
    beale, rosen = "beale", "rosenbrock"
    ranking = {i: sorted(race_grid[beale], key=lambda label: loss(beale, label, i))
               for i in range(3)}
    assert ranking[1][:2] == ["Adam", "RMSprop"]            # at x 1 Adam, then RMSprop
    assert ranking[0][0] == "SGD + momentum 0.9"            # at x 1/3 momentum is ahead
    assert ranking[2][-1] == "RMSprop"                      # at x 3 RMSprop is last
    assert min(race_grid[rosen], key=lambda label: loss(rosen, label, 1)) == "Adam"
    assert sorted(race_grid[rosen], key=lambda label: loss(rosen, label, 1))[1] == (
        "SGD + momentum 0.9")
    assert loss(rosen, "SGD + momentum 0.9", 2) < loss(rosen, "Adam", 1)
    # 3.98 is the slider's largest factor at which SGD and momentum survive on Rosenbrock
    for label in ("SGD", "SGD + momentum 0.9"):
        assert math.isfinite(loss(rosen, label, 3)) and math.isnan(loss(rosen, label, 4))
        assert race_grid[rosen][label][4][1] <= 8           # "within 8 steps"
    assert loss(rosen, "SGD + momentum 0.9", 3) < loss(rosen, "Adam", 3)
    assert math.isfinite(loss(rosen, "Adam", 4))
    # SGD is still on the far side of the valley at x 1: x < 0 where the minimum is at x = 1
    surface, start = SURFACES[rosen]
    sgd, w = opt.SGD(lr=5e-4), np.array(start)
    for _ in range(1000):
        w = sgd.step(w, surface.grad(w))
    assert w[0] < 0


def online_problem(amsgrad, beta1=0.0, steps=600, C=3.0):
    """Reddi, Kale and Kumar's problem, written out: f_t(x) = C x when t mod 3 == 1, else -x, on
    [-1, 1]; Adam (or AMSGrad) with lr 0.5 / sqrt(t), projected after each step."""
    beta2 = 1 / (1 + C**2)
    x, m, v, v_max, regret, relative = 0.0, 0.0, 0.0, 0.0, 0.0, []
    path = [x]
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        regret += g * x - g * -1.0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        x -= 0.5 / math.sqrt(t) * (m / (1 - beta1**t)) / (math.sqrt(v_hat) + 1e-8)
        x = min(1.0, max(-1.0, x))
        relative.append(abs(g) / math.sqrt(v_hat))
        path.append(x)
    return np.array(path), regret / steps, relative


def test_adam_fails_and_amsgrad_converges_on_the_online_problem(printed):
    for label, amsgrad in [("Adam", False), ("AMSGrad", True)]:
        path, mean_regret, relative = online_problem(amsgrad)
        line = shown(printed, rf"{label} +x after 600 steps (\S+), average regret (\S+), steps of "
                              r"the last cycle / eta_t: (\S+), (\S+), (\S+)")
        assert line == (f"{path[-1]:+.3f}", f"{mean_regret:.3f}",
                        *(f"{r:.2f}" for r in relative[-3:]))
    adam, ams = online_problem(False), online_problem(True)
    assert adam[0][-1] == 1.0 and ams[0][-1] < -0.98
    assert online_problem(True, steps=300)[1] > ams[1]  # AMSGrad's average regret shrinks
    assert shown(printed, r"Adam with beta1 = 0.9: x after 600 steps (\S+)") == (
        f"{online_problem(False, beta1=0.9)[0][-1]:+.3f}",)


def test_adam_l2_against_adamw(printed):
    scales = np.array([0.01, 10.0])
    for label, optimizer in [("Adam (L2)", opt.Adam(lr=0.01, weight_decay=0.1)),
                             ("AdamW", opt.AdamW(lr=0.01, weight_decay=0.1))]:
        w = np.array([1.0, 1.0])
        for k in range(1, 501):
            w = optimizer.step(w, scales * (-1.0) ** k)
        assert shown(printed, rf"{re.escape(label)} +after 500 steps: quiet weight (\S+), "
                              r"noisy weight (\S+)") == (f"{w[0]:.3g}", f"{w[1]:.3g}")
    assert shown(printed, r"0.999\^500 = ([\d.]+)") == (f"{0.999**500:.3f}",)
    for lr in (1e-3, 1e-2):  # a zero gradient: Adam's step is 0, only the decay 1 - lr * wd acts
        assert shown(printed, rf"AdamW, lr {lr:g}, weight_decay 0.01, zero gradient: 1 -> "
                              r"([\d.]+)") == (f"{1 - lr * 0.01:.6f}",)


def test_torch_has_adam_with_decoupled_weight_decay_equal_to_adamw():
    """The prose's parenthesis: recent torch offers Adam(decoupled_weight_decay=True) = AdamW."""
    import torch

    from course.checks import TorchOptimizer

    rng = np.random.default_rng(7)
    p0, c = rng.normal(size=5), rng.normal(size=5)
    paths = [run(TorchOptimizer(cls, lr=0.05, weight_decay=0.3, **extra), p0,
                 lambda p: c + np.sin(p), 50)
             for cls, extra in [(torch.optim.AdamW, {}),
                                (torch.optim.Adam, {"decoupled_weight_decay": True})]]
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-13)


def adam_after_a_jump(beta2, beta1=0.9):
    """Adam's step / lr, written out, for gradients 1 (steps 1-500) then 10 (501-1000)."""
    m = v = 0.0
    steps = []
    for k in range(1, 1001):
        g = 1.0 if k <= 500 else 10.0
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        steps.append((m / (1 - beta1**k)) / (math.sqrt(v / (1 - beta2**k)) + 1e-8))
    return np.array(steps)


def test_beta2_after_a_jump_in_gradient_scale(printed):
    for beta2 in (0.999, 0.95, 0.5):
        step = adam_after_a_jump(beta2)
        peak = 500 + int(step[500:].argmax())
        at = f" at step {peak + 1}" if step[peak] > 1.01 else ""
        line = shown(printed, rf"beta2 = {beta2}: Adam's step / lr right after the jump (\S+), "
                              r"largest (\S+?)((?: at step \d+)?), 50 steps later (\S+)")
        assert line == (f"{step[500]:.2f}", f"{step[peak]:.2f}", at, f"{step[550]:.2f}")
    assert adam_after_a_jump(0.5)[500:].max() <= 1 + 1e-9  # "its step never exceeds eta"


def rmsprop_style_ratio_after_the_jump(beta2=0.999):
    # |g| / sqrt(v_hat) at step 501, closed form of the EMA of g² (1, then 100)
    v = (1 - beta2**500) * beta2 + 100 * (1 - beta2)
    return 10 / math.sqrt(v / (1 - beta2**501))


def test_the_spread_of_v_hat_for_noisy_gradients(printed):
    rng = np.random.default_rng(11)
    for beta2 in (0.999, 0.95, 0.5):
        v = np.zeros(1000)
        for _ in range(5000):
            v = beta2 * v + (1 - beta2) * rng.normal(size=1000) ** 2
        formula = math.sqrt(2 * (1 - beta2) / (1 + beta2))  # Var(g²) = 2 for N(0, 1)
        line = shown(printed, rf"beta2 = {beta2}: relative spread of v_hat over the runs at step "
                              r"5000 (\S+), formula (\S+)")
        assert line == (f"{v.std() / v.mean():.3f}", f"{formula:.3f}")
        assert abs(v.std() / v.mean() - formula) < 0.1 * formula


def test_memory_cost(printed):
    params = 784 * 128 + 128
    for label, buffers in [("SGD + momentum", 1), ("Adam", 2), ("AMSGrad", 3)]:
        assert shown(printed, rf"{re.escape(label)} +keeps (\d+) numbers for (\d+) parameters") == (
            str(buffers * params), str(params))


def one_ordinary_step(mistake):
    """One Adam (or AdamW) step from w = 5 with g = 30, lr = 0.1 (weight decay 0.1 for AdamW),
    written with the lecture table's mistakes."""
    w, g, lr, b1, b2, eps, wd = 5.0, 30.0, 0.1, 0.9, 0.999, 1e-8, 0.1
    m, v = (1 - b1) * g, (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)
    steps = {
        "right": lambda: w - lr * m_hat / (math.sqrt(v_hat) + eps),
        "no bias correction": lambda: w - lr * m / (math.sqrt(v) + eps),
        "only v": lambda: w - lr * m / (math.sqrt(v_hat) + eps),
        "only m": lambda: w - lr * m_hat / (math.sqrt(v) + eps),
        "t late": lambda: math.nan,  # 1 - beta**0 = 0: 0 / 0
        "t reset to 1": lambda: w - lr * m_hat / (math.sqrt(v_hat) + eps),
        "afresh": lambda: w - lr * m_hat / (math.sqrt(v_hat) + eps),
        "eps inside": lambda: w - lr * m_hat / math.sqrt(v_hat + eps),
        "efficient": lambda: w - efficient_first_step(g, eps, lr),
        "AdamW right": lambda: w * (1 - lr * wd) - lr * m_hat / (math.sqrt(v_hat) + eps),
        "AdamW decay after": lambda: (w - lr * m_hat / (math.sqrt(v_hat) + eps)) * (1 - lr * wd),
        "AdamW without lr": lambda: w * (1 - wd) - lr * m_hat / (math.sqrt(v_hat) + eps),
    }
    return steps[mistake]()


def test_which_mistakes_pass_one_ordinary_step():
    """The table of section 11: three kinds pass a check of one ordinary step, the rest fail."""
    def passes(mistake, right="right"):
        return math.isclose(one_ordinary_step(mistake), one_ordinary_step(right), rel_tol=1e-7)
    assert [m for m in ("no bias correction", "only v", "only m", "t late", "t reset to 1",
                        "afresh", "eps inside", "efficient") if passes(m)] == [
        "t reset to 1", "afresh", "eps inside", "efficient"]
    assert not passes("AdamW decay after", "AdamW right")
    assert not passes("AdamW without lr", "AdamW right")


# --- the checks the chapter-7 exercises rely on (course.checks, shared with chapters 5-8) -------

def test_torch_optimizer_takes_torchs_steps_and_follows_lr_changes():
    import torch

    from course.checks import TorchOptimizer

    wrapped = TorchOptimizer(torch.optim.Adam, lr=0.1)
    # first step by hand: lr * g / (|g| + eps) against the gradient
    np.testing.assert_allclose(wrapped.step([5.0], [30.0]), [5.0 - 0.1 * 30 / (30 + 1e-8)],
                               rtol=1e-14)
    rng = np.random.default_rng(0)
    p0, c = rng.normal(size=4), rng.normal(size=4)
    lr_at = lambda k: 0.1 if k <= 50 else 0.01  # noqa: E731
    ours = run(opt.SGD(lr=0.1, momentum=0.9, dampening=0.3), p0, lambda p: p - c, 100, lr_at)
    theirs = run(TorchOptimizer(torch.optim.SGD, lr=0.1, momentum=0.9, dampening=0.3), p0,
                 lambda p: p - c, 100, lr_at)
    np.testing.assert_allclose(theirs, ours, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="lr"):
        TorchOptimizer(torch.optim.SGD, momentum=0.9)


class LrInBuffer:
    """Momentum written as v <- beta v + lr g, p <- p - v: right only while lr stays constant."""

    def __init__(self, lr, momentum):
        self.lr, self.momentum, self.v = lr, momentum, 0.0

    def step(self, params, grads):
        self.v = self.momentum * self.v + self.lr * np.asarray(grads)
        return np.asarray(params) - self.v


class InPlace:
    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        params -= self.lr * grads
        return params


def test_check_same_steps_names_the_step_where_an_lr_drop_shows():
    from course.checks import check_same_steps

    grad = lambda p: 2 * p  # noqa: E731
    lr_at = lambda k: 0.1 if k <= 3 else 0.01  # noqa: E731
    check_same_steps("momentum", opt.SGD(lr=0.1, momentum=0.9), opt.SGD(lr=0.1, momentum=0.9),
                     [1.0, -2.0], grad, steps=10, lr_at=lr_at)
    check_same_steps("lr in buffer, constant lr", LrInBuffer(0.1, 0.9),
                     opt.SGD(lr=0.1, momentum=0.9), [1.0, -2.0], grad, steps=10)
    with pytest.raises(AssertionError, match=r"steps 1 to 3 agree, step 4 \(the first step after "
                                             r"the learning rate changed from 0.1 to 0.01\)"):
        check_same_steps("momentum", LrInBuffer(0.1, 0.9), opt.SGD(lr=0.1, momentum=0.9),
                         [1.0, -2.0], grad, steps=10, lr_at=lr_at, hint="look at the buffer")


def test_check_same_steps_refuses_in_place_updates_and_nan():
    from course.checks import check_same_steps

    with pytest.raises(AssertionError, match="changed the arrays passed to it"):
        check_same_steps("sgd", InPlace(0.1), opt.SGD(lr=0.1), [1.0], lambda p: 2 * p, steps=2)

    class Diverges(InPlace):
        def step(self, params, grads):
            return np.asarray(params) * np.inf

    with pytest.raises(AssertionError, match="NaN or inf"):
        check_same_steps("sgd", Diverges(0.1), opt.SGD(lr=0.1), [1.0], lambda p: 2 * p, steps=2)


# --- the prose -------------------------------------------------------------------------------

def second_step_by_hand():
    """The lecture's step 2 on w² from 10 (lr 0.1): every intermediate value."""
    w1 = 10 - 0.1 * 20 / (20 + 1e-8)
    g2 = 2 * w1
    m2 = 0.9 * 2 + 0.1 * g2
    v2 = 0.999 * 0.4 + 0.001 * g2**2
    m_hat, v_hat = m2 / (1 - 0.9**2), v2 / (1 - 0.999**2)
    w2 = w1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    return [w1, g2, m2, v2, m_hat, v_hat, math.sqrt(v_hat), w2]


def test_every_number_in_the_prose_is_known(race_grid):
    step_60, crossing, loss, best, back = adam_on_the_ravine(ravine_runs()["Adam, lr 0.5"])
    rosen, beale = race_grid["rosenbrock"], race_grid["beale"]
    _, _, adam_cycle = online_problem(False)
    _, _, ams_cycle = online_problem(True)
    jump = {beta2: adam_after_a_jump(beta2) for beta2 in (0.999, 0.95)}
    computed = [
        1 - 0.9, 1 - 0.999,                               # 10 % in m1, 0.1 % in v1
        2 * 10, 0.1 * 20, 0.001 * 400, 400, *second_step_by_hand(), 10 - 0.1 * 20,  # by hand
        0.1 / math.sqrt(0.001), factor(100), factor(1000), within_one_percent(),
        math.sqrt(1e-8), 1 / math.sqrt(1 - 0.999), 0.1 * 1e-9, (1e-9 + 1e-8) / 1e-9,
        0.1 * 1e-9 / math.sqrt(1e-18 + 1e-8),              # the eps section
        2 * 25, 2 / 50,                                    # the ravine's curvature 50
        0.5 / step_60[0], 0.5 / step_60[1], crossing, loss[300], loss[best], best, back,
        beale["SGD + momentum 0.9"][2][0], rosen["SGD + momentum 0.9"][2][0],
        10**0.6, 10**0.7, rosen["SGD + momentum 0.9"][3][0], rosen["Adam"][3][0],
        max(rosen[label][4][1] for label in ("SGD", "SGD + momentum 0.9")), rosen["Adam"][4][0],
        1 / (1 + 3**2), 2 * (3 - 2) / 3, *adam_cycle[-3:], ams_cycle[-1],  # the online problem
        1 - 0.01 * 0.1, 0.999**500, 1e-3 * 0.01,            # weight decay
        *(jump[0.999][k] for k in (500, 513)), 513 - 500, jump[0.95][500:].max(),
        rmsprop_style_ratio_after_the_jump(),
        *(math.sqrt(2 * (1 - b) / (1 + b)) for b in (0.999, 0.95, 0.5)), 0.9**2,
        max(factor(t) for t in range(1, 5001)), 1 / (1 - 0.9),  # the table: 6.6, 10
        2 * 9, 100 / 18,                                   # the ravine's first gradient (-18, 100)
    ]
    constants = [
        0, 1, 2, 3, 10, 25, 100, 1000, 0.1, 0.5, 0.9, 0.95, 0.999, 1e-3, 1e-8, 1e-9, 1e-18, 1e-4,
        20_000, 60, 0.035, 0.05, 300, 11, 1 / 3, 5, 30, 500, 0.01, 1e-3,
        7, 9,                                              # the exercises' significant digits
        -1,                             # the online problem's x in [-1, 1], its best point
        # GPT-3's recipe (Brown et al. 2020, appendix B and table 2.1)
        1.0, 375e6, 0.1, 260e9, 175e9, 0.6e-4, 6e-4,
    ]
    check_prose("ch07_adam", constants=constants, computed=computed)
