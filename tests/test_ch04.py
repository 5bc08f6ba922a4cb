"""Chapter 4: the numbers its lecture prints, the reference LR range test, and the schedule
planner widget, each against an independent computation."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course import widgets
from course.reference import schedules as sch
from course.reference.lr_finder import lr_range_test
from tests.lecture_text import printed_text, shown


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch04_lr_schedules")


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


def test_lr_finder_suggestion_beats_ten_times_smaller_and_larger(printed):
    stopped_after = int(shown(printed, r"sweep stopped after (\d+) of 100 steps"))
    assert 10 < stopped_after < 100
    valley = float(shown(printed, r"valley +lr = (\S+)"))
    losses = {name: float(loss) for name, loss in
              [shown(printed, rf"(valley{suffix}) = \S+ +full-data loss after 5 epochs: (\S+)")
               for suffix in (r" / 10", "", r" x 10")]}
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert losses["valley"] < losses["valley / 10"] and losses["valley"] < losses["valley x 10"]
    assert float(shown(printed, r"valley = (\S+) +full")) == float(f"{valley:.2g}")


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
    with pytest.raises(ValueError):
        lr_range_test(quadratic_trainer(), 1.0, 0.1)


@pytest.mark.parametrize("kind", widgets.SCHEDULES)
def test_schedule_planner_draws_torch_schedules(kind):
    lrs = widgets.schedule_lrs(kind, base_lr=0.1, total_steps=100, warmup_steps=10)
    assert lrs.shape == (100,) and np.all(lrs > 0)
    closed_form = {
        "step": lambda t: sch.step_lr(t, 0.1, 33, 0.1),
        "exponential": lambda t: sch.exponential_lr(t, 0.1, 0.01 ** (1 / 100)),
        "cosine": lambda t: sch.cosine_annealing_lr(t, 0.1, 100),
        "warmup + cosine": lambda t: sch.warmup_cosine_lr(t, 0.1, 10, 90),
        "SGDR": lambda t: sch.cosine_warm_restarts_lr(t, 0.1, 14, 2),
        "one-cycle": lambda t: sch.one_cycle_lr(t, 0.1, 100),
    }[kind]
    np.testing.assert_allclose(lrs, [closed_form(t) for t in range(100)], rtol=1e-9, atol=1e-15)


def test_schedule_figure_and_bad_input():
    fig = widgets.schedule_figure(("cosine", "SGDR"), total_steps=50)
    assert len(fig.axes[0].lines) == 2 and fig.axes[1].get_yscale() == "log"
    plt.close(fig)
    for kwargs in [dict(kind="cosine decay"), dict(kind="cosine", total_steps=1),
                   dict(kind="cosine", warmup_steps=100)]:
        with pytest.raises(ValueError):
            widgets.schedule_lrs(**kwargs)
    widget = widgets.schedule_planner_widget()
    assert {"schedules", "base lr", "steps", "warmup"} <= {
        c.description for c in widget.children if hasattr(c, "description")}
    plt.close("all")
