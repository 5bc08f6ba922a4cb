"""Learning-rate schedules as closed-form functions of the step ``t``.

``t`` counts scheduler steps from 0, like ``last_epoch`` in ``torch.optim.lr_scheduler``; each
function returns the learning rate torch's scheduler of the same name sets at that step.
"""

import math


def _check_step(t):
    if t < 0 or int(t) != t:
        raise ValueError(f"t must be a whole number >= 0, got {t!r}")


def step_lr(t, base_lr, step_size, gamma=0.1):
    """Multiply by ``gamma`` every ``step_size`` steps (StepLR)."""
    _check_step(t)
    if step_size < 1:
        raise ValueError(f"step_size must be >= 1, got {step_size!r}")
    return base_lr * gamma ** (t // step_size)


def exponential_lr(t, base_lr, gamma):
    """Multiply by ``gamma`` every step (ExponentialLR)."""
    _check_step(t)
    return base_lr * gamma**t


def cosine_annealing_lr(t, base_lr, T_max, eta_min=0.0):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` steps (CosineAnnealingLR).

    Past ``T_max`` torch keeps following the same cosine, back up; so does this function."""
    _check_step(t)
    if T_max <= 0:
        raise ValueError(f"T_max must be > 0, got {T_max!r}")
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def cosine_warm_restarts_lr(t, base_lr, T_0, T_mult=1, eta_min=0.0):
    """SGDR: cosine cycles restarting at ``base_lr``; each cycle is ``T_mult`` times longer
    than the one before (CosineAnnealingWarmRestarts)."""
    _check_step(t)
    if T_0 < 1 or int(T_0) != T_0:
        raise ValueError(f"T_0 must be a whole number >= 1, got {T_0!r}")
    if T_mult < 1 or int(T_mult) != T_mult:
        raise ValueError(f"T_mult must be a whole number >= 1, got {T_mult!r}")
    if T_mult == 1:
        t_cur, t_i = t % T_0, T_0
    else:
        t_cur, t_i = t, T_0
        while t_cur >= t_i:  # whole numbers throughout, so cycle boundaries are exact
            t_cur -= t_i
            t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def one_cycle_lr(t, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
    """The 1cycle policy (OneCycleLR): warm up from ``max_lr/div_factor`` to ``max_lr``, then anneal
    to ``max_lr/div_factor/final_div_factor``; with ``three_phase`` come back down symmetrically
    before the final anneal."""
    _check_step(t)
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
    if t > total_steps:
        raise ValueError(f"t = {t} is past total_steps = {total_steps}")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")
    if anneal_strategy == "cos":
        def anneal(start, end, pct):
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
    elif anneal_strategy == "linear":
        def anneal(start, end, pct):
            return (end - start) * pct + start
    else:
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")

    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    warm_end = float(pct_start * total_steps) - 1
    if three_phase:
        phases = [(warm_end, initial_lr, max_lr),
                  (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
                  (total_steps - 1, initial_lr, min_lr)]
    else:
        phases = [(warm_end, initial_lr, max_lr), (total_steps - 1, max_lr, min_lr)]
    start_step = 0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if t <= end_step or i == len(phases) - 1:
            return anneal(start_lr, end_lr, (t - start_step) / (end_step - start_step))
        start_step = end_step


def linear_lr(t, base_lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    """Scale ``base_lr`` by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then hold it (LinearLR)."""
    _check_step(t)
    if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
        raise ValueError("start_factor must be in (0, 1] and end_factor in [0, 1]")
    if total_iters < 1:
        raise ValueError(f"total_iters must be >= 1, got {total_iters!r}")
    progress = min(t, total_iters) / total_iters
    return base_lr * (start_factor + (end_factor - start_factor) * progress)


def warmup_cosine_lr(t, base_lr, warmup_steps, T_max, start_factor=0.01, eta_min=0.0):
    """Linear warmup for ``warmup_steps`` steps, then cosine annealing over ``T_max`` steps:
    ``SequentialLR([LinearLR(start_factor, 1.0, warmup_steps), CosineAnnealingLR(T_max, eta_min)],
    milestones=[warmup_steps])``."""
    _check_step(t)
    if t < warmup_steps:
        return linear_lr(t, base_lr, start_factor, 1.0, warmup_steps)
    return cosine_annealing_lr(t - warmup_steps, base_lr, T_max, eta_min)
