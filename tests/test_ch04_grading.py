"""Chapter 4's grading is fair, proved cell by cell with the in-process runner: every named
mistake gets its message (fed the real mistake), right answers in other styles (recurrences for
closed forms, NumPy, loops) keep full marks, a sweep that ignores the stop rule and answers
that lie earn nothing, and a torch that warns from its schedulers (as torch < 2.9's SequentialLR
does) costs a right answer nothing."""

import warnings
from functools import partial

import pytest
import torch

from tests.exercise_runner import (
    LIARS,
    assert_full_marks,
    assert_wrong_submissions,
    check_close_expected,
    failing,
    lying_str,
    run_exercises,
)
from tests.submissions.ch04_lr_schedules import WRONG

CHAPTER, TOTAL = "ch04_lr_schedules", 24


run = partial(run_exercises, CHAPTER)
visible_expected = partial(check_close_expected, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


def message(cell, replace, hidden=False):
    return run(replace, hidden=hidden)[f"test_{cell}"].message


def test_the_source_earns_full_marks():
    full_marks()


def test_the_points_table_adds_up():
    import nbformat

    from tests.prose import SOURCE

    nb = nbformat.read(SOURCE / CHAPTER / "exercises.ipynb", as_version=4)
    table = [int(row.split("|")[2].split("×")[-1]) * (4 if "×" in row else 1)
             for row in nb.cells[0].source.splitlines() if row.startswith("| ") and
             row.split("|")[1].strip()[:1].isdigit()]
    assert sum(table) == TOTAL == sum(c.metadata["nbgrader"].get("points", 0)
                                      for c in nb.cells if c.metadata.get("nbgrader", {}).get(
                                          "grade"))


# --- the visible tests' numbers, against torch --------------------------------------------------

def torch_lrs(make, steps, lr=1.0):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler, lrs = make(opt), []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def test_the_visible_expected_values_are_torchs():
    s = torch.optim.lr_scheduler
    assert torch_lrs(lambda o: s.ExponentialLR(o, 0.5), 4, 0.1) == pytest.approx(visible_expected(
        "test_exponential_lr", "exponential_lr(t, 0.1, 0.5) for t = 0..3"))
    assert torch_lrs(lambda o: s.LinearLR(o, 0.25, 1.0, 4), 6) == pytest.approx(visible_expected(
        "test_linear_lr", "linear_lr(t, 1.0, 0.25, 1.0, 4) for t = 0..5"))
    assert torch_lrs(lambda o: s.LinearLR(o, 1.0, 0.0, 4), 3)[2] == pytest.approx(
        visible_expected("test_linear_lr", "linear_lr(2, 1.0, start_factor=1.0, end_factor=0.0, "
                                           "total_iters=4)"))
    one_cycle = torch_lrs(lambda o: s.OneCycleLR(o, max_lr=1.0, total_steps=10,
                                                 cycle_momentum=False), 10)
    assert [one_cycle[t] for t in (0, 2, 5, 9)] == pytest.approx(visible_expected(
        "test_one_cycle_lr", "one_cycle_lr(t, 1.0, 10) at t = 0, 2, 5, 9"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = torch_lrs(lambda o: s.SequentialLR(
            o, [s.LinearLR(o, 0.01, 1.0, 4), s.CosineAnnealingLR(o, 10)], milestones=[4]), 15)
    assert [warm[t] for t in (0, 2, 4, 9, 14)] == pytest.approx(visible_expected(
        "test_warmup_cosine_lr", "warmup_cosine_lr(t, 1.0, 4, 10) at t = 0, 2, 4, 9, 14"),
        abs=1e-12)
    sgdr = torch_lrs(lambda o: s.CosineAnnealingWarmRestarts(o, 10, 2), 36)
    assert [sgdr[t] for t in (5, 10, 15, 30, 35)] == pytest.approx(visible_expected(
        "test_cosine_warm_restarts_lr", "SGDR (T_0 = 10, T_mult = 2) at t = 5, 10, 15, 30, 35"))
    cosine = torch_lrs(lambda o: s.CosineAnnealingLR(o, 10), 11)
    assert [cosine[t] for t in (0, 5, 10)] == pytest.approx(visible_expected(
        "test_cosine_annealing_lr", "cosine_annealing_lr(t, 1.0, 10) at t = 0, 5, 10"), abs=1e-12)


# --- a torch that warns from its schedulers costs nothing ----------------------------------------

@pytest.fixture
def loud_schedulers(monkeypatch):
    """Every scheduler step warns to stderr, as torch < 2.9's SequentialLR does at a milestone
    ("The epoch parameter in `scheduler.step()` was not necessary ...")."""
    original = torch.optim.lr_scheduler.LRScheduler.step

    def loud_step(self, *args, **kwargs):
        warnings.warn("The epoch parameter in `scheduler.step()` was not necessary and is being "
                      "deprecated where possible.", UserWarning, stacklevel=2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.lr_scheduler.LRScheduler, "step", loud_step)
    with pytest.warns(UserWarning, match="epoch parameter"):
        torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 1), 2)


def test_scheduler_warnings_stay_out_of_the_test_cells(loud_schedulers):
    full_marks()


def test_the_schedule_planner_keeps_them_to_itself(loud_schedulers):
    from course import widgets

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("warmup + cosine", "warmup + linear decay"):
            widgets.schedule_lrs(kind)


# --- one schedule at a time ---------------------------------------------------------------------

def fn(name, args, body):
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body.splitlines())


STEP, EXP = "t, base_lr, step_size, gamma=0.1", "t, base_lr, gamma"
COS, LIN = "t, base_lr, T_max, eta_min=0.0", ("t, base_lr, start_factor=1 / 3, end_factor=1.0, "
                                              "total_iters=5")
WARM = "t, base_lr, warmup_steps, T_max, start_factor=0.01, eta_min=0.0"
SGDR = "t, base_lr, T_0, T_mult=1, eta_min=0.0"
ONE = "t, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4"
ONE_BODY = '''def anneal(a, b, p):
    return b + (a - b) / 2 * (1 + math.cos(math.pi * p))
t1, t2 = pct_start * total_steps {t1}, total_steps {t2}
final = {final}
if t <= t1:
    return anneal(max_lr / div_factor, max_lr, t / t1)
return anneal(max_lr, final, (t - t1) / (t2 - t1))'''
COS_OK = "return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2"


@pytest.mark.parametrize("cell, answer, words", [
    ("step_lr", fn("step_lr", STEP, "return base_lr * gamma ** ((t + 1) // step_size)"),
     "the first drop comes at t = step_size"),
    ("step_lr", fn("step_lr", STEP, "return base_lr * gamma ** (t / step_size)"),
     "t // step_size"),
    ("exponential_lr", fn("exponential_lr", EXP, "return base_lr * gamma ** (t + 1)"),
     "gamma**t, not gamma**(t + 1)"),
    ("cosine_annealing_lr", fn("cosine_annealing_lr", COS, COS_OK.replace("* t /", "* (t + 1) /")),
     "use t, not t + 1"),
    ("cosine_annealing_lr", fn("cosine_annealing_lr", COS,
                               "return base_lr * (1 + math.cos(math.pi * t / T_max)) / 2"),
     "eta_min is the floor"),
    ("linear_lr", fn("linear_lr", LIN, "return base_lr * (start_factor + (end_factor - "
                                       "start_factor) * t / total_iters)"),
     "min(t, total_iters)"),
    ("linear_lr", fn("linear_lr", LIN, "return base_lr * (start_factor + (end_factor - "
                                       "start_factor) * min(t, total_iters - 1) / "
                                       "(total_iters - 1))"),
     "not one step earlier"),
    ("linear_lr", fn("linear_lr", LIN, "return base_lr * (start_factor + (1 - start_factor) * "
                                       "min(t, total_iters) / total_iters)"),
     "down as well as up"),
    ("warmup_cosine_lr", fn("warmup_cosine_lr", WARM, "if t < warmup_steps:\n    return base_lr\n"
                            "return cosine_annealing_lr(t - warmup_steps, base_lr, T_max, "
                            "eta_min)"),
     "a warmup starts at start_factor * base_lr"),
    ("warmup_cosine_lr", fn("warmup_cosine_lr", WARM, "if t < warmup_steps:\n"
                            "    return linear_lr(t, base_lr, start_factor, 1.0, warmup_steps)\n"
                            "return cosine_annealing_lr(t, base_lr, T_max, eta_min)"),
     "use t - warmup_steps, not t"),
    ("cosine_warm_restarts_lr", fn("cosine_warm_restarts_lr", SGDR,
                                   "t_cur = t % T_0\nreturn eta_min + (base_lr - eta_min) * "
                                   "(1 + math.cos(math.pi * t_cur / T_0)) / 2"),
     "multiplied by T_mult at each restart"),
    ("cosine_warm_restarts_lr", fn("cosine_warm_restarts_lr", SGDR,
                                   "t_cur, t_i = t, T_0\nwhile t_cur > t_i:\n"
                                   "    t_cur -= t_i\n    t_i *= T_mult\nreturn eta_min + "
                                   "(base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i))"
                                   " / 2"),
     ">=, not >"),
    ("one_cycle_lr", fn("one_cycle_lr", ONE, ONE_BODY.format(
        t1="", t2="- 1", final="max_lr / div_factor / final_div_factor")),
     "pct_start * total_steps - 1"),
    ("one_cycle_lr", fn("one_cycle_lr", ONE, ONE_BODY.format(
        t1="- 1", t2="", final="max_lr / div_factor / final_div_factor")),
     "the fall ends at t = total_steps - 1"),
    ("one_cycle_lr", fn("one_cycle_lr", ONE, ONE_BODY.format(
        t1="- 1", t2="- 1", final="max_lr / final_div_factor")),
     "the start of the cycle divided again"),
])
def test_every_schedule_mistake_is_named(cell, answer, words):
    assert words in message(cell, {cell: answer})


SCHEDULES_IN_OTHER_STYLES = {
    "step_lr": fn("step_lr", STEP, "lr = base_lr\nfor _ in range(int(t) // int(step_size)):\n"
                                   "    lr *= gamma  # a recurrence, as torch's StepLR runs\n"
                                   "return lr"),
    "exponential_lr": fn("exponential_lr", EXP, "lr = np.float64(base_lr)\nfor _ in range(t):\n"
                                                "    lr = lr * gamma\nreturn lr"),
    "cosine_annealing_lr": fn("cosine_annealing_lr", COS,
                              "return float(eta_min + (base_lr - eta_min) * "
                              "(1 + np.cos(np.pi * t / T_max)) / 2)"),
    "linear_lr": fn("linear_lr", LIN, "if t >= total_iters:\n    return base_lr * end_factor\n"
                                      "step = (end_factor - start_factor) / total_iters\n"
                                      "return base_lr * (start_factor + step * t)"),
    "warmup_cosine_lr": fn("warmup_cosine_lr", WARM,
                           "if t < warmup_steps:\n"
                           "    return base_lr * (start_factor + (1 - start_factor) * t / "
                           "warmup_steps)\n"
                           "c = math.cos(math.pi * (t - warmup_steps) / T_max)\n"
                           "return eta_min + (base_lr - eta_min) * (1 + c) / 2"),
    "cosine_warm_restarts_lr": fn("cosine_warm_restarts_lr", SGDR,
                                  "if T_mult == 1:\n    start, length = t - t % T_0, T_0\n"
                                  "else:\n    start, length = 0, T_0\n"
                                  "    while t >= start + length:  # find the cycle of t\n"
                                  "        start, length = start + length, length * T_mult\n"
                                  "phase = math.pi * (t - start) / length\n"
                                  "return eta_min + (base_lr - eta_min) * (1 + math.cos(phase))"
                                  " / 2"),
    "one_cycle_lr": fn("one_cycle_lr", ONE,
                       "start, peak = max_lr / div_factor, max_lr\n"
                       "end = start / final_div_factor\n"
                       "t1 = pct_start * total_steps - 1\n"
                       "if t <= t1:\n    a, b, p = start, peak, t / t1\n"
                       "else:\n    a, b, p = peak, end, (t - t1) / (total_steps - 1 - t1)\n"
                       "return float(np.interp(np.cos(np.pi * p), [-1, 1], [b, a]))"),
}


def test_schedules_in_other_styles_keep_full_marks():
    full_marks(SCHEDULES_IN_OTHER_STYLES)


def test_schedules_that_lie_earn_nothing():
    liar = {name: LIARS + fn(name, args, "return AlwaysEqual()")
            for name, args in [("step_lr", STEP), ("exponential_lr", EXP),
                               ("cosine_annealing_lr", COS), ("linear_lr", LIN),
                               ("warmup_cosine_lr", WARM), ("cosine_warm_restarts_lr", SGDR),
                               ("one_cycle_lr", ONE)]}
    outcomes = run(liar)
    assert {f"test_{name}" for name in liar} <= set(failing(outcomes))
    floats = {name: LIARS + fn(name, args, "return LyingFloat(0.1)")
              for name, args in [("step_lr", STEP), ("warmup_cosine_lr", WARM)]}
    assert {"test_step_lr", "test_warmup_cosine_lr"} <= set(failing(run(floats)))


# --- part 8: the LR range test -------------------------------------------------------------------

FINDER = '''
def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, steps=100, beta=0.98, stop_factor=4.0):
    lrs, smoothed, average, best, first = [], [], 0.0, math.inf, None
    for k in range(steps):
        lr = lr_min * (lr_max / lr_min) ** (k / (steps - 1))
        loss = train_step(lr)
        first = loss if first is None else first
        average = beta * average + (1 - beta) * loss
        s = {smoothed}
        {record}
        if {stop}:
            break
        best = min(best, s)
        {late}
    return lrs, smoothed
'''


def finder(smoothed="average / (1 - beta ** (k + 1))", stop="not math.isfinite(s) or s > "
           "stop_factor * best", record="lrs.append(lr)\n        smoothed.append(s)", late=""):
    return FINDER.format(smoothed=smoothed, stop=stop, record=record, late=late)


@pytest.mark.parametrize("answer, words", [
    (finder(stop="False"), "ran all 8 steps"),
    (finder(stop="not math.isfinite(s) or s > stop_factor * first"), "not the first loss"),
    (finder(stop="not math.isfinite(s) or s >= stop_factor * best"),
     "exactly 4 times the best"),
    (finder(record="", stop="not math.isfinite(s) or s > stop_factor * best",
            late="lrs.append(lr)\n        smoothed.append(s)"),
     "include the step that stopped the sweep"),
    (finder(stop="s > stop_factor * best"), "a NaN loss must stop the sweep at once"),
    (finder(smoothed="average"), "correct the zero start"),
])
def test_every_lr_range_test_mistake_is_named(answer, words):
    assert words in message("lr_range_test", {"lr_range_test": answer})


def test_lr_range_tests_in_other_styles_keep_full_marks():
    numpy_style = '''
def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, steps=100, beta=0.98, stop_factor=4.0):
    rates = np.geomspace(lr_min, lr_max, steps)
    losses = []
    k = 0
    while k < steps:
        losses.append(train_step(float(rates[k])))
        weights = (1 - beta) * beta ** np.arange(len(losses))[::-1]
        s = np.sum(weights * np.array(losses)) / (1 - beta ** len(losses))
        if k == 0:
            smoothed = np.array([s])
        else:
            smoothed = np.append(smoothed, s)
        if not np.isfinite(s) or (k > 0 and s > stop_factor * smoothed[:-1].min()):
            break
        k += 1
    return rates[:len(smoothed)], smoothed
'''
    full_marks({"lr_range_test": numpy_style})


def test_an_lr_range_test_that_lies_earns_nothing():
    answer = LIARS + ("def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, steps=100, "
                      "beta=0.98, stop_factor=4.0):\n"
                      "    return LyingList([lr_min, lr_max]), LyingList([1.0, 1e9])\n")
    assert not run({"lr_range_test": answer})["test_lr_range_test"].passed


# --- part 9: steep_lr ----------------------------------------------------------------------------

STEEP = '''
def steep_lr(lrs, smoothed, num_it=100):
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    skip = {skip}
    lrs, losses = lrs[skip:{end}], losses[skip:{end}]
    nan = np.flatnonzero(np.isnan(losses))
    if len(nan):
        lrs, losses = lrs[:nan[0]], losses[:nan[0]]
    slopes = {slopes}
    return float({pick})
'''


def steep(skip="num_it // 10", end="-5", slopes="np.diff(losses) / np.diff(np.log(lrs))",
          pick="lrs[np.argmin(slopes)]"):
    return STEEP.format(skip=skip, end=end, slopes=slopes, pick=pick)


@pytest.mark.parametrize("answer, words", [
    (steep(pick="lrs[np.argmin(slopes) + 1]"), "the left end of the steepest segment"),
    (steep(skip="0"), "drop the first num_it // 10 points"),
    (steep(end="len(lrs)"), "drop the last 5 points"),
    (steep(slopes="np.gradient(losses, np.log(lrs))"), "forward differences"),
    (steep(slopes="np.diff(losses) / np.diff(lrs)"), "against log(lr), not lr"),
    (steep(pick="lrs[np.argmin(losses)]"), "the rate of the lowest loss"),
    (steep(pick="lrs[np.argmin(losses)] / 10"), "minimum / 10, another rule"),
])
def test_every_steep_mistake_is_named(answer, words):
    assert words in message("steep_lr", {"steep_lr": answer})


def test_steep_counted_from_the_points_kept_is_named_in_the_hidden_test():
    outcomes = run({"steep_lr": steep(skip="len(lrs) // 10")})
    assert "the steps asked for, not the points the sweep kept" in (
        outcomes["test_steep_lr"].message)


def test_steep_by_hand_on_the_visible_curve():
    lrs = [10 ** (-5 + 0.25 * k) for k in range(20)]
    curve = [2.0, 1.5, 1.5, 1.42, 1.38, 1.18, 1.17, 1.03, 0.89, 0.83, 0.76, 0.78, 0.80, 0.88,
             1.2, 2.0, 3.0, 1.0, 4.0, 6.0]
    kept = curve[2:15]  # num_it // 10 = 2 dropped at the start, 5 at the end
    drops = [b - a for a, b in zip(kept, kept[1:], strict=False)]  # equal log-steps: slope ~ drop
    assert 2 + drops.index(min(drops)) == 4 and lrs[4] == pytest.approx(1e-4)
    from course.lr_range import suggest

    assert suggest(lrs, curve, num_it=20).steep == pytest.approx(1e-4)


def test_steep_in_another_style_keeps_full_marks():
    loops = '''
def steep_lr(lrs, smoothed, num_it=100):
    points = list(zip(lrs, smoothed))[num_it // 10:len(lrs) - 5]
    kept = []
    for lr, s in points:
        if s != s:  # NaN
            break
        kept.append((lr, s))
    best, pick = None, None
    for (lr0, s0), (lr1, s1) in zip(kept, kept[1:]):
        slope = (s1 - s0) / (math.log(lr1) - math.log(lr0))
        if best is None or slope < best:
            best, pick = slope, lr0
    return pick
'''
    full_marks({"steep_lr": loops})


# --- part 10: concept checks ---------------------------------------------------------------------

def test_every_concept_mistake_is_named():
    outcomes = run({"concept_a": 'answer_a = "c"\n', "concept_b": 'answer_b = "b"\n',
                    "concept_c": "third_restart = 30\n", "concept_d": 'answer_d = "b"\n'},
                   hidden=False)
    failed = failing(outcomes)
    assert set(failed) == {"test_concept_a", "test_concept_b", "test_concept_c", "test_concept_d"}
    assert "minimum / 10 = 0.03" in failed["test_concept_a"]
    assert "cycle_momentum is True" in failed["test_concept_b"]
    assert "second restart" in failed["test_concept_c"]
    assert "T_max counts scheduler steps" in failed["test_concept_d"]


@pytest.mark.parametrize("cell, answer, words", [
    ("concept_a", 'answer_a = "a"', "too small to teach"),
    ("concept_a", 'answer_a = "d"', "explodes"),
    ("concept_c", "third_restart = 40", "cycles grow"),
    ("concept_d", 'answer_d = "c"', "past T_max"),
    ("concept_d", 'answer_d = "d"', "moves t on by one"),
])
def test_the_other_concept_mistakes_are_named(cell, answer, words):
    assert words in message(cell, {cell: answer + "\n"})


def test_concept_answers_in_other_styles_and_lies():
    fine = run({"concept_a": 'answer_a = " B"\n', "concept_c": "third_restart = 70.0\n",
                "concept_d": 'answer_d = "A "\n'})
    assert failing(fine) == {}
    lies = run({"concept_a": lying_str("b") + 'answer_a = Liar("c")\n',
                "concept_c": LIARS + "third_restart = LyingFloat(30)\n"})
    assert {"test_concept_a", "test_concept_c"} <= set(failing(lies))


def test_the_known_wrong_submissions_score_as_declared():
    assert_wrong_submissions(CHAPTER, WRONG)
