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
    assert shown(printed, r"factor at t = 1000: ([\d.]+)") == (f"{factor(1000):.3f}",)


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


def test_ravine_runs(printed):
    grad, start = landscapes.ravine.grad, [-9.0, 2.0]
    runs = {"gradient descent, lr 0.035": opt.SGD(lr=0.035),
            "momentum 0.9, lr 0.01": opt.SGD(lr=0.01, momentum=0.9),
            "Adam, lr 0.5": opt.Adam(lr=0.5)}
    losses = {}
    for label, optimizer in runs.items():
        losses[label] = landscapes.ravine.f(run(optimizer, start, grad, 60)[-1])
        assert shown(printed, rf"{re.escape(label)} +loss after 60 steps: (\S+)") == (
            f"{losses[label]:.2e}",)
    assert min(losses, key=losses.get) == "gradient descent, lr 0.035"  # as the prose says


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
    "rosenbrock": [("SGD", lambda: opt.SGD(lr=5e-4)),
                   ("SGD + momentum 0.9", lambda: opt.SGD(lr=5e-4, momentum=0.9)),
                   ("RMSprop", lambda: opt.RMSprop(lr=5e-3)),
                   ("Adam", lambda: opt.Adam(lr=5e-2))],
    "beale": [("SGD", lambda: opt.SGD(lr=1e-3)),
              ("SGD + momentum 0.9", lambda: opt.SGD(lr=1e-3, momentum=0.9)),
              ("RMSprop", lambda: opt.RMSprop(lr=1e-2)),
              ("Adam", lambda: opt.Adam(lr=5e-2))],
}


@pytest.mark.parametrize("name, surface, start", [
    ("rosenbrock", landscapes.rosenbrock, (-1.5, 2.0)), ("beale", landscapes.beale, (1.0, 1.5))])
def test_race_losses(printed, name, surface, start):
    block = printed.split(f"{name}:\n", 1)[1]
    for label, make in RACERS[name]:
        loss = surface.f(run(make(), start, surface.grad, 1000)[-1])
        printed_loss = re.search(rf"  {re.escape(label)} +loss after 1000 steps: (\S+)", block)
        assert printed_loss and printed_loss.group(1) == f"{loss:.1e}", label


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


def test_beta2_after_a_jump_in_gradient_scale(printed):
    for beta2 in (0.999, 0.95):
        def ratio(k, beta2=beta2):  # step k > 500, closed form of the EMA of g² (1 then 100)
            v = (1 - beta2**500) * beta2 ** (k - 500) + 100 * (1 - beta2 ** (k - 500))
            return 10 / math.sqrt(v / (1 - beta2**k))
        line = shown(printed, rf"beta2 = {beta2}: step ratio right after the jump ([\d.]+), "
                              r"50 steps later ([\d.]+)")
        assert line == (f"{ratio(501):.2f}", f"{ratio(551):.2f}")


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
