"""Chapter 4: every number its lecture prints and its prose states, each against an independent
computation (closed forms, torch's schedulers run here, NumPy re-runs of the lecture's loops on
the same random streams, the LR range test re-done by hand); the reference LR range test; and
the schedule planner widget."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course import widgets
from course.reference import schedules as sch
from course.reference.lr_finder import lr_range_test
from tests.lecture_text import printed_text, shown
from tests.prose import check_prose


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch04_lr_schedules")


def same_digits(text: str, value: float):
    """``text`` is ``value`` as printed with the digits it shows."""
    if text == "inf":
        assert value == math.inf
        return
    mantissa = text.lower().split("e")[0]
    if "e" in text.lower() or "." not in mantissa:
        digits = len(mantissa.replace("-", "").replace(".", "").lstrip("0"))
        assert float(text) == pytest.approx(value, rel=0.51 * 10.0 ** (1 - digits))
    else:
        assert float(text) == pytest.approx(value, abs=0.51 * 10.0 ** -len(mantissa.split(".")[1]))


# --- section 2: the noise floor and two decays, re-run in NumPy ---------------------------------

@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(1000, 3))
    y = X @ np.array([2.0, -1.5, 0.5]) + 0.5 * rng.normal(size=1000)
    w_best = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma2 = np.mean(np.sum((2 * X * (X @ w_best - y)[:, None]) ** 2, axis=1))
    return X, y, w_best, sigma2


RATES = {"constant 0.05": lambda k: 0.05,
         "multi-step: / 10 at 600 and 900": lambda k: 0.05 * 0.1 ** ((k >= 600) + (k >= 900)),
         "cosine to 0 over 1200": lambda k: sch.cosine_annealing_lr(k, 0.05, 1200)}


@pytest.fixture(scope="module")
def decays(regression):
    """The lecture's 100 runs of SGD with B = 1, by hand: update k uses the rate schedule(k)."""
    X, y, w_best, _ = regression
    A, out = X.T @ X / len(y), {}
    for name, rate in RATES.items():
        generator = torch.Generator().manual_seed(0)
        W, excess = np.zeros((100, 3)), []
        for k in range(1200):
            i = torch.randint(len(y), (100,), generator=generator).numpy()
            W = W - rate(k) * 2 * X[i] * ((X[i] * W).sum(axis=1) - y[i])[:, None]
            e = W - w_best
            excess.append(np.mean(np.sum((e @ A) * e, axis=1)))
        out[name] = np.array(excess)
    return out


def test_a_decaying_rate_goes_below_the_noise_floor(printed, regression, decays):
    *_, sigma2 = regression
    same_digits(shown(printed, r"0.05 sigma\*\^2 / 4 = (\S+)"), 0.05 * sigma2 / 4)
    for name, curve in decays.items():
        same_digits(shown(printed, rf"{name} +mean L - L\* over the last 100 updates: (\S+)"),
                    curve[-100:].mean())
    constant = decays["constant 0.05"][-100:].mean()
    # the prose: a little above the first-order floor; the decays 20 and 18 times lower
    assert 1 < constant / (0.05 * sigma2 / 4) < 1.5
    ratios = [constant / decays[name][-100:].mean() for name in list(RATES)[1:]]
    assert [round(r) for r in ratios] == [20, 18]


def test_three_milestones_make_three_cuts(printed):
    lrs = [0.1 * 0.1 ** sum(t >= m for m in (30, 60, 90)) for t in (0, 30, 60, 90)]
    got = shown(printed, r"MultiStepLR\(\[30, 60, 90\]\) at epochs 0, 30, 60, 90: \[(.*)\]")
    assert [float(v) for v in got.split(", ")] == pytest.approx(lrs)


# --- section 3: warm-up on w**4 / 4 -------------------------------------------------------------

def quartic(lr, warmup_steps=0, steps=100, w=3.0):
    for k in range(steps):
        factor = 0.01 + 0.99 * min(k, warmup_steps) / warmup_steps if warmup_steps else 1.0
        w -= lr * factor * w**3
        if not abs(w) < 1e6:
            return math.inf
    return abs(w)


def test_warm_up_on_the_quartic(printed):
    for name, args in {"0.25 from the start": (0.25, 0), "0.07 throughout": (0.07, 0),
                       "0.25 after a 20-step warm-up": (0.25, 20)}.items():
        same_digits(shown(printed, rf"{name} +\|w\| after 100 steps: (\S+)"), quartic(*args))
    curvature = 3 * 3.0**2  # L''(w) = 3 w² of w⁴ / 4, at the start w = 3
    assert 2 / curvature == pytest.approx(0.074, abs=5e-4)  # the prose's 2/27 ≈ 0.074
    assert 0.07 < 2 / curvature < 0.25  # the two rates raced lie on either side of it
    assert quartic(0.25, 20) < quartic(0.07) < math.inf == quartic(0.25)


# --- section 4: when to step ---------------------------------------------------------------------

def test_stepping_the_scheduler_first_skips_the_first_rate(printed):
    used = shown(printed, r"rates of the first three updates: \[(.*)\] \(0.1 never used\)")
    assert [float(v) for v in used.split(", ")] == pytest.approx([0.1 * 0.5 ** (k + 1)
                                                                  for k in range(3)])
    assert shown(printed, r"torch warned: (.*)\n") == (
        "Detected call of `lr_scheduler.step()` before `optimizer.step()`")


def test_a_cosine_stepped_per_batch_cycles_every_20_batches(printed):
    def cosine(t):
        return sch.cosine_annealing_lr(t, 0.1, 10)

    rows = {"stepped per epoch, lr at the start of epochs 0-4": [cosine(e) for e in range(5)],
            "stepped per batch, lr at batches 0, 5, 10, 15, 20": [cosine(b) for b in
                                                                  (0, 5, 10, 15, 20)],
            "stepped per batch, lr at the start of epochs 0-4": [cosine(100 * e)
                                                                 for e in range(5)]}
    for label, values in rows.items():
        got = shown(printed, rf"{label}: \[(.*)\]").split()
        assert [float(v) for v in got] == pytest.approx(np.round(values, 4), abs=1e-12)
    assert all(cosine(t + 20) == pytest.approx(cosine(t)) for t in range(40))


# --- sections 5 and 6: SGDR and the OneCycleLR trap ----------------------------------------------

def test_sgdr_values_and_restarts(printed):
    # cycles [0, 10), [10, 30), [30, 70): t = 5, 15, 35 are 5 steps into cycles of 10, 20, 40
    for t, cycle in [(5, 10), (15, 20), (35, 40)]:
        assert float(shown(printed, rf"t = +{t}: lr = (\S+)")) == round(
            (1 + math.cos(math.pi * 5 / cycle)) / 2, 4)
    assert shown(printed, r"restarts \(lr back to 1.0\) at t = \[(.*)\]") == "10, 30, 70"


def test_one_cycle_momentum_gotcha(printed):
    assert shown(printed, r"momentum before: (\S+)") == "0"
    assert float(shown(printed, r"momentum after creating OneCycleLR: (\S+)")) == 0.95
    # 100 steps, pct_start 0.3: phase 1 ends at step 29 (momentum 0.95 -> 0.85), phase 2 runs
    # steps 29..99 back up to 0.95 on a cosine; at step 50, pct = 21 / 70
    pct = (50 - 29) / (99 - 29)
    expected = 0.95 + (0.85 - 0.95) / 2 * (math.cos(math.pi * pct) + 1)
    assert float(shown(printed, r"momentum at step 50: (\S+)")) == round(expected, 4)
    # the user's 0.9 is replaced by max_momentum, whose default is 0.95
    assert float(shown(printed, r"SGD\(momentum=0.9\) after creating OneCycleLR: (\S+)")) == 0.95


# --- section 7: the LR range test, done again by hand --------------------------------------------

def blobs():
    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(0)
    centres = 1.5 * torch.randn(4, 10, generator=gen)
    labels = torch.randint(4, (2000,), generator=gen)
    return centres[labels] + torch.randn(2000, 10, generator=gen), labels


def blob_batches(points, labels, seed):
    g = torch.Generator().manual_seed(seed)
    while True:
        for idx in torch.randperm(2000, generator=g).split(32):
            yield points[idx], labels[idx]


def blob_model():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))


def fastai_valley(losses):
    """fastai's valley index (fastai.callback.schedule.valley), written out again."""
    n, lds, start, end = len(losses), [1] * len(losses), 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[end] < lds[i]:
                end, start = i, i - lds[i]
    sections = (end - start) / 3
    return (start + int(sections) + int(sections / 2)) % n


@pytest.fixture(scope="module")
def sweep():
    """100 steps from 1e-7 by the factor (1e8)**(1/100), smoothed with beta 0.98, stopped past
    4 x the best; the readings of lrs[10:-5]."""
    previous = torch.get_default_dtype()
    try:
        points, labels = blobs()
        model = blob_model()
        opt = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
        lrs, smoothed, average, best = [], [], 0.0, math.inf
        for k, (xb, yb) in zip(range(100), blob_batches(points, labels, 2), strict=False):
            lr = 1e-7 * 1e8 ** (k / 100)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            average = 0.98 * average + 0.02 * loss.item()
            lrs.append(lr)
            smoothed.append(average / (1 - 0.98 ** (k + 1)))
            best = min(best, smoothed[-1])
            if smoothed[-1] > 4 * best:
                break
        read_lrs, read = np.array(lrs[10:-5]), np.array(smoothed[10:-5])
        steep = read_lrs[np.argmin(np.diff(read) / np.diff(np.log(read_lrs)))]
        return dict(lrs=lrs, smoothed=smoothed, valley=read_lrs[fastai_valley(list(read))],
                    steep=steep, minimum_div_10=read_lrs[np.argmin(read)] / 10,
                    lowest=read.min(), points=points, labels=labels)
    finally:
        torch.set_default_dtype(previous)


def train_blobs(sweep, lr):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = blob_model()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses = []
        with np.errstate(all="ignore"):
            for _, (xb, yb) in zip(range(189), blob_batches(sweep["points"], sweep["labels"], 3),
                                   strict=False):
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            return float(np.mean(losses[-63:]))
    finally:
        torch.set_default_dtype(previous)


def test_the_range_test_and_its_readings(printed, sweep):
    stopped, steps, last, first, lowest = shown(
        printed, r"sweep (\w+) after (\d+) of 100 steps, at lr = (\S+); smoothed loss (\S+) at "
                 r"the start, (\S+) at its lowest")
    assert stopped == "diverged" and int(steps) == len(sweep["lrs"]) < 100
    same_digits(last, sweep["lrs"][-1])
    same_digits(first, sweep["smoothed"][0])
    same_digits(lowest, sweep["lowest"])
    for name in ("valley", "steep", "minimum_div_10"):
        same_digits(shown(printed, rf"  {name} +lr = (\S+)"), sweep[name])
    # the classic shape: flat for the first third, then falling by a third, then exploding
    s = np.array(sweep["smoothed"])
    assert np.ptp(s[5:40]) < 0.05 * s[0] and sweep["lowest"] < 0.6 * s[0] and s[-1] > 4 * s.min()


@pytest.fixture(scope="module")
def trials(sweep):
    rates = {"valley / 10": sweep["valley"] / 10, "valley": sweep["valley"],
             "valley x 10": sweep["valley"] * 10, "steep": sweep["steep"],
             "minimum / 10": sweep["minimum_div_10"], "minimum": sweep["minimum_div_10"] * 10}
    return {name: (lr, train_blobs(sweep, lr)) for name, lr in rates.items()}


def test_training_checks_the_readings(printed, sweep, trials):
    for name, (lr, loss) in trials.items():
        got_lr, got_loss = shown(printed, rf"{name} +lr = (\S+): mean loss over the last epoch "
                                          r"(\S+)")
        same_digits(got_lr, lr)
        same_digits(got_loss, loss)
    # the prose: steep and minimum / 10 within 10 %, at the bottom of the trained curve; ten
    # times the valley about six times lower than the valley; the minimum's rate diverges
    assert abs(sweep["steep"] / sweep["minimum_div_10"] - 1) < 0.1
    grid = np.geomspace(1e-4, 1.0, 13)
    losses = [train_blobs(sweep, lr) for lr in grid]
    best = int(np.argmin(losses))
    assert grid[best - 1] < sweep["minimum_div_10"] < grid[best + 1]
    assert max(trials["steep"][1], trials["minimum / 10"][1]) < 1.1 * min(losses)
    assert round(trials["valley"][1] / trials["valley x 10"][1]) == 6
    assert trials["minimum"][1] > 100 * sweep["smoothed"][0]


# --- the reference LR range test of the exercises ------------------------------------------------

def quadratic_trainer():
    state = {"w": 1.0}

    def train_step(lr):  # gradient descent on w**2: w <- (1 - 2 lr) w
        state["w"] *= 1 - 2 * lr
        return state["w"] ** 2

    return train_step


def test_reference_lr_range_test_by_hand():
    lrs, smoothed = lr_range_test(quadratic_trainer(), 1e-3, 10.0, steps=50, beta=0.9)
    ratio = (10.0 / 1e-3) ** (1 / 49)
    np.testing.assert_allclose(lrs, 1e-3 * ratio ** np.arange(len(lrs)), rtol=1e-12)
    # replay by hand: losses from the closed form, EMA with bias correction, the stop rule
    w, average, best = 1.0, 0.0, math.inf
    for k, lr in enumerate(lrs):
        w *= 1 - 2 * lr
        average = 0.9 * average + 0.1 * w**2
        assert smoothed[k] == pytest.approx(average / (1 - 0.9 ** (k + 1)), rel=1e-12)
        if k < len(lrs) - 1:
            assert smoothed[k] <= 4 * best
            best = min(best, smoothed[k])
    assert smoothed[-1] > 4 * best  # it stopped on divergence, before the last rate
    assert len(lrs) < 50
    with pytest.raises(ValueError, match="need 0 < lr_min < lr_max, got 1.0 and 0.1"):
        lr_range_test(quadratic_trainer(), 1.0, 0.1)


# --- the schedule planner ------------------------------------------------------------------------

CLOSED_FORMS = {
    "step": lambda t: sch.step_lr(t, 0.1, 33, 0.1),
    "multi-step": lambda t: 0.1 * 0.1 ** ((t >= 50) + (t >= 75)),
    "exponential": lambda t: sch.exponential_lr(t, 0.1, 0.01 ** (1 / 100)),
    "cosine": lambda t: sch.cosine_annealing_lr(t, 0.1, 100),
    "warmup + cosine": lambda t: sch.warmup_cosine_lr(t, 0.1, 10, 90),
    "warmup + linear decay": lambda t: (sch.linear_lr(t, 0.1, 0.01, 1.0, 10) if t < 10 else
                                        sch.linear_lr(t - 10, 0.1, 1.0, 0.0, 90)),
    "SGDR": lambda t: sch.cosine_warm_restarts_lr(t, 0.1, 14, 2),
    "one-cycle": lambda t: sch.one_cycle_lr(t, 0.1, 100),
}


@pytest.mark.parametrize("kind", widgets.SCHEDULES)
def test_schedule_planner_draws_torch_schedules(kind):
    lrs = widgets.schedule_lrs(kind, base_lr=0.1, total_steps=100, warmup_steps=10)
    assert lrs.shape == (100,) and np.all(lrs > 0)
    np.testing.assert_allclose(lrs, [CLOSED_FORMS[kind](t) for t in range(100)], rtol=1e-9,
                               atol=1e-15)


def test_schedule_figure_and_bad_input():
    fig = widgets.schedule_figure(("cosine", "SGDR"), total_steps=50)
    assert len(fig.axes[0].lines) == 2 and fig.axes[1].get_yscale() == "log"
    plt.close(fig)
    for kwargs, says in [(dict(kind="cosine decay"), "kind must be one of"),
                         (dict(kind="cosine", total_steps=1), "need total_steps >= 2"),
                         (dict(kind="cosine", warmup_steps=100),
                          r"warmup_steps must be in \[0, 100\)")]:
        with pytest.raises(ValueError, match=says):
            widgets.schedule_lrs(**kwargs)
    widget = widgets.schedule_planner_widget()
    assert {"schedules", "base lr", "steps", "warmup"} <= {
        c.description for c in widget.children if hasattr(c, "description")}
    plt.close("all")


# --- the prose -----------------------------------------------------------------------------------

def test_every_number_in_the_prose_is_known(regression, decays, sweep, trials):
    constant = decays["constant 0.05"][-100:].mean()
    constants = [
        0, 1, 2, 3, 4, 1 / 2,                          # exponents and coefficients of formulas
        0.1, 100, 10, 25, 25e4, 0.3, 30,               # the schedules' figure; one-cycle's
        1000, 0.05, 1200, 600, 900,                    # chapter 3's regression and section 2
        60, 90, 0.01, 0.001, 1e-4,                     # one source's milestones 30, 60, 90
        27, 0.25, 0.07, 20,                            # the quartic w**4/4 from 3: 3 * 3**2
        5, 0.1, 10_000, 1_000_000, 0.01,               # warm-up lengths: 5-10 %, BERT's 1 %
        100, 20, 40, 70, 15, 35,                       # per batch / per epoch; SGDR's cycles
        0.9, 0.85, 0.95,                               # momentum and OneCycleLR's range
        1e-7, 0.98, 32, 2000,                          # the range test and the network
        189,                                           # 3 epochs of 63 batches
        3e-4,                                          # Adam's usual starting rates, to 3e-4
        9, 1e4, 10.0,                                  # the exercises: 9 digits, defaults
    ]
    computed = [
        2 / 27, 0.5, (1 + math.cos(math.pi / 4)) / 2, (1 + math.cos(math.pi / 8)) / 2,
        constant / decays["multi-step: / 10 at 600 and 900"][-100:].mean(),   # 20 times
        constant / decays["cosine to 0 over 1200"][-100:].mean(),             # 18 times
        sweep["steep"],                                                       # about 0.08
        63 * 3,
    ]
    check_prose("ch04_lr_schedules", constants=constants, computed=computed)
