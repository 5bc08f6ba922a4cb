"""Known-wrong submissions of chapter 4 (schedules and the LR range test): 24 points in all.

Points per test cell: test_step_lr 2, test_exponential_lr 1, test_cosine_annealing_lr 2,
test_linear_lr 2, test_warmup_cosine_lr 2, test_cosine_warm_restarts_lr 3, test_one_cycle_lr 3,
test_lr_range_test 3, test_steep_lr 2, four concept checks 1 each. The warmup schedule calls the
student's linear_lr and cosine, so a wrong cosine also costs the warmup cell.
"""

from tests.submissions import Wrong

_FINDER = '''
def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, steps=100, beta=0.98, stop_factor=4.0):
    lrs, smoothed, average, best = [], [], 0.0, math.inf
    for k in range(steps):
        lr = lr_min * (lr_max / lr_min) ** (k / (steps - 1))
        average = beta * average + (1 - beta) * train_step(lr)
        lrs.append(lr)
        smoothed.append({smoothed})
        if {stop}:
            break
        best = min(best, smoothed[-1])
    return lrs, smoothed
'''


def _finder(smoothed="average / (1 - beta ** (k + 1))",
            stop="not math.isfinite(smoothed[-1]) or smoothed[-1] > stop_factor * best"):
    return _FINDER.format(smoothed=smoothed, stop=stop)

WRONG = [
    Wrong(
        name="sgdr_cycle_does_not_grow",
        mistake="SGDR restarts every T_0 steps whatever T_mult says",
        replace={"cosine_warm_restarts_lr": '''
def cosine_warm_restarts_lr(t, base_lr, T_0, T_mult=1, eta_min=0.0):
    t_cur = t % T_0
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / T_0)) / 2
'''},
        score=21,
        fails={"test_cosine_warm_restarts_lr": "multiplied by T_mult at each restart"},
    ),
    Wrong(
        name="cosine_off_by_one",
        mistake="the cosine is evaluated one step ahead (t + 1)",
        replace={"cosine_annealing_lr": '''
def cosine_annealing_lr(t, base_lr, T_max, eta_min=0.0):
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (t + 1) / T_max)) / 2
'''},
        score=20,
        fails={"test_cosine_annealing_lr": "off by one step",
               "test_warmup_cosine_lr": "expected"},
    ),
    Wrong(
        name="warmup_starts_at_base_lr",
        mistake="the warmup ignores start_factor and starts at the base rate",
        replace={"warmup_cosine_lr": '''
def warmup_cosine_lr(t, base_lr, warmup_steps, T_max, start_factor=0.01, eta_min=0.0):
    if t < warmup_steps:
        return base_lr
    return cosine_annealing_lr(t - warmup_steps, base_lr, T_max, eta_min)
'''},
        score=22,
        fails={"test_warmup_cosine_lr": "a warmup starts at start_factor * base_lr"},
    ),
    Wrong(
        name="lr_finder_never_stops",
        mistake="the LR range test runs every step even after the loss explodes",
        replace={"lr_range_test": _finder(stop="False")},
        score=21,
        fails={"test_lr_range_test": "ran all 8 steps"},
    ),
    Wrong(
        name="lr_finder_without_bias_correction",
        mistake="the moving average is not divided by 1 - beta**(k+1)",
        replace={"lr_range_test": _finder(smoothed="average")},
        score=21,
        fails={"test_lr_range_test": "correct the zero start"},
    ),
    Wrong(
        name="step_decay_one_step_early",
        mistake="step decay drops at t + 1 instead of t",
        replace={"step_lr": '''
def step_lr(t, base_lr, step_size, gamma=0.1):
    return base_lr * gamma ** ((t + 1) // step_size)
'''},
        score=22,
        fails={"test_step_lr": "the first drop comes at t = step_size"},
    ),
    Wrong(
        name="picks_the_minimum",
        mistake="reads the LR finder's minimum as the learning rate to use",
        replace={"concept_a": 'answer_a = "c"\n'},
        score=23,
        fails={"test_concept_a": "edge of instability"},
    ),
    Wrong(
        name="lr_finder_compares_with_the_first_loss",
        mistake="stops when the loss passes 4 x the FIRST loss (one seed's rule), not 4 x the best",
        replace={"lr_range_test": _finder(
            stop="not math.isfinite(smoothed[-1]) or smoothed[-1] > stop_factor * smoothed[0]")},
        score=21,
        fails={"test_lr_range_test": "not the first loss"},
    ),
    Wrong(
        name="one_cycle_climb_ends_late",
        mistake="OneCycleLR's climb ends at pct_start * total_steps, one step after torch's",
        replace={"one_cycle_lr": '''
def one_cycle_lr(t, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    def anneal(start, end, pct):
        return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))
    t1, t2 = pct_start * total_steps, total_steps - 1
    if t <= t1:
        return anneal(max_lr / div_factor, max_lr, t / t1)
    return anneal(max_lr, max_lr / div_factor / final_div_factor, (t - t1) / (t2 - t1))
'''},
        score=21,
        fails={"test_one_cycle_lr": "pct_start * total_steps - 1"},
    ),
    Wrong(
        name="sgdr_restarts_one_step_late",
        mistake="SGDR subtracts a cycle only once T_cur is past it (> instead of >=)",
        replace={"cosine_warm_restarts_lr": '''
def cosine_warm_restarts_lr(t, base_lr, T_0, T_mult=1, eta_min=0.0):
    t_cur, t_i = t, T_0
    while t_cur > t_i:
        t_cur -= t_i
        t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
'''},
        score=21,
        fails={"test_cosine_warm_restarts_lr": ">=, not >"},
    ),
    Wrong(
        name="steep_reads_the_right_end",
        mistake="steep_lr returns the rate at the right end of the steepest segment",
        replace={"steep_lr": '''
def steep_lr(lrs, smoothed, num_it=100):
    lrs = np.asarray(lrs, dtype=float)[num_it // 10:-5]
    losses = np.asarray(smoothed, dtype=float)[num_it // 10:-5]
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[np.argmin(slopes) + 1])
'''},
        score=22,
        fails={"test_steep_lr": "the left end of the steepest segment"},
    ),
    Wrong(
        name="scheduler_stepped_per_batch",
        mistake="thinks a cosine with T_max in epochs anneals over the run when stepped per batch",
        replace={"concept_d": 'answer_d = "b"\n'},
        score=23,
        fails={"test_concept_d": "T_max counts scheduler steps"},
    ),
]
