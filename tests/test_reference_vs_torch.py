"""The reference optimizers and schedules take exactly the steps torch takes (float64).

Each optimizer runs >= 100 steps on a random shape with gradients of mixed scale (down to 1e-9,
where the placement of eps shows), random hyper-parameters, and a learning-rate change half way
(where the two momentum conventions part). The figures quoted in the closing notes come from
``python tests/test_reference_vs_torch.py``, which prints the worst relative error of each.
"""

import math

import numpy as np
import pytest
import torch

from course.reference import optimizers as opt
from course.reference import schedules as sch

RTOL = 1e-10
STEPS = 120
LR_CHANGE_AT, LR_FACTOR = 60, 0.1


def mixed_scale_gradients(rng, shape, steps):
    """Gradients whose elements span 1e-9 ... 1e2 in size, some tiny throughout."""
    scale = 10.0 ** rng.uniform(-9, 2, size=shape)
    return [rng.standard_normal(shape) * scale for _ in range(steps)]


def relative_error(ours, theirs):
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)))


def run_both(ours, torch_cls, torch_kwargs, seed):
    """Run our optimizer and torch's side by side; return the worst relative error."""
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 6, size=rng.integers(1, 4)))
    p0 = rng.standard_normal(shape) * 3
    grads = mixed_scale_gradients(rng, shape, STEPS)

    tp = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    topt = torch_cls([tp], foreach=False, **torch_kwargs)
    p, worst = p0.copy(), 0.0
    for step, g in enumerate(grads):
        if step == LR_CHANGE_AT:
            ours.lr *= LR_FACTOR
            for group in topt.param_groups:
                group["lr"] *= LR_FACTOR
        old, snapshot, g_snapshot = p, p.copy(), g.copy()
        p = ours.step(old, g)
        assert np.array_equal(old, snapshot) and np.array_equal(g, g_snapshot), "input changed"
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        worst = max(worst, relative_error(p, tp.detach().numpy()))
    return worst


def random_configs(seed):
    """(name, our optimizer, torch class, torch kwargs) with random hyper-parameters."""
    rng = np.random.default_rng(1000 + seed)
    lr = float(10 ** rng.uniform(-3, -1))
    mom = float(rng.uniform(0.5, 0.99))
    damp = float(rng.uniform(0.1, 0.9))
    wd = float(10 ** rng.uniform(-4, -1))
    alpha = float(rng.uniform(0.8, 0.999))
    eps = float(10 ** rng.uniform(-10, -6))
    betas = (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999)))
    lr_decay = float(10 ** rng.uniform(-3, -1))
    acc0 = float(rng.uniform(0, 0.5))
    sgd = dict(lr=lr, momentum=mom, dampening=damp, weight_decay=wd)
    nesterov = dict(lr=lr, momentum=mom, nesterov=True, weight_decay=wd)
    rms = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=wd)
    adagrad = dict(lr=lr, lr_decay=lr_decay, eps=eps, initial_accumulator_value=acc0,
                   weight_decay=wd)
    adam = dict(lr=lr, betas=betas, eps=eps, weight_decay=wd)
    return [
        ("SGD", opt.SGD(lr), torch.optim.SGD, dict(lr=lr)),
        ("SGD momentum+dampening", opt.SGD(**sgd), torch.optim.SGD, sgd),
        ("SGD Nesterov", opt.SGD(**nesterov), torch.optim.SGD, nesterov),
        ("RMSprop", opt.RMSprop(**rms), torch.optim.RMSprop, rms),
        ("RMSprop centered+momentum", opt.RMSprop(**rms, momentum=mom, centered=True),
         torch.optim.RMSprop, dict(rms, momentum=mom, centered=True)),
        ("Adagrad", opt.Adagrad(**adagrad), torch.optim.Adagrad, adagrad),
        ("Adam", opt.Adam(**adam), torch.optim.Adam, adam),
        ("Adam amsgrad", opt.Adam(**adam, amsgrad=True), torch.optim.Adam,
         dict(adam, amsgrad=True)),
        ("AdamW", opt.AdamW(**adam), torch.optim.AdamW, adam),
        ("AdamW amsgrad", opt.AdamW(**adam, amsgrad=True), torch.optim.AdamW,
         dict(adam, amsgrad=True)),
    ]


OPTIMIZER_NAMES = [name for name, *_ in random_configs(0)]
SEEDS = range(5)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_optimizer_matches_torch(name):
    for seed in SEEDS:
        ours, torch_cls, kwargs = next(c[1:] for c in random_configs(seed) if c[0] == name)
        assert run_both(ours, torch_cls, kwargs, seed) <= RTOL, (name, seed)


@pytest.mark.parametrize("near_miss", ["eps inside the root", "no bias correction",
                                       "t incremented after the correction"])
def test_harness_tells_adam_near_misses_apart(near_miss):
    """The comparison above would catch the classic Adam bugs (DESIGN §4)."""

    class NearMiss(opt.Adam):
        def _update(self, p, g):
            g = self._decayed(p, g)
            if self.m is None:
                self.m, self.v = np.zeros_like(p), np.zeros_like(p)
            b1, b2 = self.betas
            self.m = b1 * self.m + (1 - b1) * g
            self.v = b2 * self.v + (1 - b2) * g * g
            t = self.t - 1 if near_miss == "t incremented after the correction" else self.t
            if near_miss == "no bias correction":
                m_hat, v_hat = self.m, self.v
            else:
                m_hat = self.m / (1 - b1**t) if t else self.m
                v_hat = self.v / (1 - b2**t) if t else self.v
            if near_miss == "eps inside the root":
                return p - self.lr * m_hat / np.sqrt(v_hat + self.eps)
            return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    kwargs = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    assert run_both(NearMiss(**kwargs), torch.optim.Adam, kwargs, seed=0) > 1e-6


def test_momentum_forms_part_after_lr_drop():
    """v <- mu v - lr g (lr inside the buffer) agrees with torch until the lr changes."""

    class LrInsideBuffer(opt.SGD):
        def _update(self, p, g):
            self.buf = -self.lr * g if self.buf is None else self.momentum * self.buf - self.lr * g
            return p + self.buf

    kwargs = dict(lr=0.05, momentum=0.9)
    rng = np.random.default_rng(3)
    p0, grads = rng.standard_normal(4), rng.standard_normal((STEPS, 4))
    a, b = LrInsideBuffer(**kwargs), opt.SGD(**kwargs)
    pa, pb = p0, p0
    for step, g in enumerate(grads):
        if step == LR_CHANGE_AT:
            a.lr *= LR_FACTOR
            b.lr *= LR_FACTOR
        pa, pb = a.step(pa, g), b.step(pb, g)
        if step < LR_CHANGE_AT:
            assert relative_error(pa, pb) < 1e-12
    assert relative_error(pa, pb) > 1e-3


def test_step_leaves_inputs_untouched_and_checks_shapes():
    p, g = np.ones(3), np.full(3, 0.5)
    o = opt.Adam(lr=0.1)
    new = o.step(p, g)
    assert np.array_equal(p, np.ones(3)) and np.array_equal(g, np.full(3, 0.5))
    assert new is not p
    with pytest.raises(ValueError, match="shape"):
        o.step(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        opt.SGD(0.1).step(np.ones(3), np.ones(2))


@pytest.mark.parametrize("make", [
    lambda: opt.SGD(-0.1),
    lambda: opt.SGD(0.1, momentum=0.0, nesterov=True),
    lambda: opt.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True),
    lambda: opt.RMSprop(alpha=1.5),
    lambda: opt.Adam(betas=(1.0, 0.999)),
    lambda: opt.Adam(eps=-1e-8),
    lambda: opt.Adagrad(lr_decay=-1),
])
def test_bad_hyper_parameters_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_first_adam_step_is_lr_in_size():
    """With bias correction the first step is lr * g / (|g| + eps) ~ lr * sign(g) (hand check)."""
    p = opt.Adam(lr=0.1).step(np.array([5.0, -5.0]), np.array([30.0, -1e-3]))
    np.testing.assert_allclose(p, [5 - 0.1 * 30 / (30 + 1e-8), -5 + 0.1 * 1e-3 / (1e-3 + 1e-8)],
                               rtol=1e-14)


# ---------------------------------------------------------------- schedules

def torch_lrs(make_scheduler, steps, base_lr=0.1, momentum=0.0):
    p = torch.zeros(1, requires_grad=True)
    o = torch.optim.SGD([p], lr=base_lr, momentum=momentum)
    scheduler = make_scheduler(o)
    lrs = []
    for _ in range(steps):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        scheduler.step()
    return np.array(lrs)


LR = torch.optim.lr_scheduler
SCHEDULE_STEPS = 300
SCHEDULES = {
    "step": (lambda o: LR.StepLR(o, step_size=7, gamma=0.5),
             lambda t: sch.step_lr(t, 0.1, 7, 0.5)),
    "exponential": (lambda o: LR.ExponentialLR(o, gamma=0.99),
                    lambda t: sch.exponential_lr(t, 0.1, 0.99)),
    "cosine": (lambda o: LR.CosineAnnealingLR(o, T_max=80, eta_min=1e-3),
               lambda t: sch.cosine_annealing_lr(t, 0.1, 80, 1e-3)),
    "cosine eta_min=0": (lambda o: LR.CosineAnnealingLR(o, T_max=300),
                         lambda t: sch.cosine_annealing_lr(t, 0.1, 300)),
    **{f"SGDR T_mult={m}": (
        lambda o, m=m: LR.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=m, eta_min=1e-4),
        lambda t, m=m: sch.cosine_warm_restarts_lr(t, 0.1, 10, m, 1e-4)) for m in (1, 2, 3)},
    **{f"one-cycle {a}{' 3-phase' if three else ''}": (
        lambda o, a=a, three=three: LR.OneCycleLR(
            o, max_lr=0.5, total_steps=SCHEDULE_STEPS, pct_start=0.25, anneal_strategy=a,
            three_phase=three, cycle_momentum=False),
        lambda t, a=a, three=three: sch.one_cycle_lr(
            t, 0.5, SCHEDULE_STEPS, pct_start=0.25, anneal_strategy=a, three_phase=three))
       for a in ("cos", "linear") for three in (False, True)},
    "linear": (lambda o: LR.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=40),
               lambda t: sch.linear_lr(t, 0.1, 0.2, 0.9, 40)),
    "warmup+cosine": (
        lambda o: LR.SequentialLR(o, [LR.LinearLR(o, start_factor=0.01, total_iters=20),
                                      LR.CosineAnnealingLR(o, T_max=200, eta_min=1e-5)],
                                  milestones=[20]),
        lambda t: sch.warmup_cosine_lr(t, 0.1, 20, 200, start_factor=0.01, eta_min=1e-5)),
}


def schedule_error(name):
    make, ours = SCHEDULES[name]
    theirs = torch_lrs(make, SCHEDULE_STEPS)
    mine = np.array([ours(t) for t in range(SCHEDULE_STEPS)])
    return relative_error(mine, theirs)


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name):
    assert schedule_error(name) <= RTOL


def test_sgdr_values_from_the_chapter():
    """T0 = 10, T_mult = 2: cycles are [0, 10), [10, 30), [30, 70); t = 5, 15, 35 all sit 5 steps
    into their cycle, so the lr factor is (1 + cos(pi * 5 / T_i)) / 2 for T_i = 10, 20, 40."""
    for t, cycle in [(5, 10), (15, 20), (35, 40)]:
        expected = (1 + math.cos(math.pi * 5 / cycle)) / 2
        assert sch.cosine_warm_restarts_lr(t, 1.0, 10, 2) == pytest.approx(expected, rel=1e-15)
    assert sch.cosine_warm_restarts_lr(5, 1.0, 10, 2) == pytest.approx(0.5)


def test_schedule_input_errors():
    with pytest.raises(ValueError):
        sch.step_lr(-1, 0.1, 5)
    with pytest.raises(ValueError):
        sch.one_cycle_lr(101, 0.1, 100)
    with pytest.raises(ValueError):
        sch.one_cycle_lr(0, 0.1, 100, anneal_strategy="cosine")
    with pytest.raises(ValueError):
        sch.cosine_warm_restarts_lr(3, 0.1, 10, T_mult=1.5)


if __name__ == "__main__":
    print(f"worst relative error against torch over {STEPS} steps x {len(SEEDS)} seeds:")
    for name in OPTIMIZER_NAMES:
        worst = max(run_both(*next(c[1:] for c in random_configs(s) if c[0] == name), s)
                    for s in SEEDS)
        print(f"  {name:28s} {worst:.2e}")
    print(f"schedules over {SCHEDULE_STEPS} steps:")
    for name in SCHEDULES:
        print(f"  {name:28s} {schedule_error(name):.2e}")
