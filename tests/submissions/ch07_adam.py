"""Known-wrong submissions of chapter 7 (Adam and AdamW): 20 points in all.

Points per test cell: test_hand_step 2, test_adam_first_step 2, test_adam_eps 2,
test_adam_many_steps 3, test_adam_weight_decay 1, test_adamw 3, test_simulate_first_moment 3,
four concept checks 1 each. ``AdamW`` reuses the student's ``Adam``, so a mistake in Adam's core
update also costs the AdamW cell. ``tests/test_ch07_grading.py`` feeds many more mistakes through
the fast in-process runner; these go through real nbgrader.

The ``Adam`` and ``AdamW`` solution cells are built from pieces (``adam(...)`` replaces some of
them, ``adamw(...)`` writes ``step``'s body), which ``tests/test_ch07_grading.py`` reuses for its
in-process cases.
"""

from tests.submissions import Wrong

ADAM_HEAD = '''class Adam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m = None
        self.v = None

    def step(self, params, grads):
'''
PREPARE = '''        p = np.array(params, dtype=float)
        g = np.array(grads, dtype=float)
'''
DECAY = '''        if self.weight_decay:
            g = g + self.weight_decay * p
'''
START = '''        if self.m is None:
            self.m = np.zeros_like(p)
            self.v = np.zeros_like(p)
        beta1, beta2 = self.betas
'''
T = "        self.t += 1\n"
MOMENTS = '''        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g**2
'''
HATS = '''        m_hat = self.m / (1 - beta1**self.t)
        v_hat = self.v / (1 - beta2**self.t)
'''
RETURN = "        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n"


def adam(prepare=PREPARE, decay=DECAY, start=START, t=T, moments=MOMENTS, hats=HATS,
         ret=RETURN, head=ADAM_HEAD) -> dict[str, str]:
    """The ``adam`` solution cell, right, with the pieces named replaced."""
    return {"adam": head + prepare + decay + start + t + moments + hats + ret}


# Kingma and Ba's "efficient" form: eps added to the uncorrected sqrt(v)
EFFICIENT = adam(hats="        lr_t = self.lr * np.sqrt(1 - beta2**self.t) / (1 - beta1**self.t)\n",
                 ret="        return p - lr_t * self.m / (np.sqrt(self.v) + self.eps)\n")

ADAMW_HEAD = '''class AdamW(Adam):
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, betas, eps, weight_decay=0.0)
        self.decoupled_weight_decay = weight_decay

    def step(self, params, grads):
        lam = self.decoupled_weight_decay
'''


def adamw(body: str) -> dict[str, str]:
    """The ``adamw`` solution cell with ``body`` under ``step``'s first line."""
    return {"adamw": ADAMW_HEAD + body}


SIM_HEAD = "def simulate_first_moment(beta, steps, n_runs, grad_mean, grad_std, seed=0):\n"

ADAM_CORE = 2 + 2 + 3 + 1 + 3  # every Adam cell and the AdamW cell

WRONG = [
    # --- one Adam step by hand ----------------------------------------------------------------
    Wrong(
        name="hand_no_bias_correction",
        mistake="takes the hand step without bias correction (m1_hat = m1, v1_hat = v1)",
        replace={"hand_step": "g1 = 30.0\nm1 = 3.0\nv1 = 0.9\nm1_hat = 3.0\nv1_hat = 0.9\n"
                              "w1 = 5 - 0.1 * 3.0 / (0.9 ** 0.5 + 1e-8)\nw1_gd = 2.0\n"},
        score=20 - 2,
        fails={"test_hand_step": "bias correction divides m1"},
    ),
    # --- Adam -----------------------------------------------------------------------------------
    Wrong(
        name="adam_no_bias_correction",
        mistake="Adam without bias correction: divides m by sqrt(v) + eps",
        replace=adam(hats="",
                     ret="        return p - self.lr * self.m / (np.sqrt(self.v) + self.eps)\n"),
        score=20 - ADAM_CORE,
        fails={"test_adam_first_step": "without bias correction",
               "test_adam_eps": "expected",
               "test_adam_many_steps": "t grows by one",
               "test_adam_weight_decay": "expected",
               "test_adamw": "fix Adam first"},
    ),
    Wrong(
        name="adam_t_incremented_after_correction",
        mistake="adds 1 to t after the bias correction, so step 1 divides by 1 - beta**0 = 0",
        replace=adam(t="", hats=HATS + T),
        score=20 - ADAM_CORE,
        fails={"test_adam_first_step": "add 1 to t before the bias correction",
               "test_adam_eps": "nan",
               "test_adam_many_steps": "nan",
               "test_adam_weight_decay": "nan",
               "test_adamw": "nan"},
    ),
    Wrong(
        name="adam_eps_inside_root",
        mistake="Adam with eps inside the square root: sqrt(v_hat + eps)",
        replace=adam(ret="        return p - self.lr * m_hat / np.sqrt(v_hat + self.eps)\n"),
        score=20 - 2,
        fails={"test_adam_eps": "eps inside the square root"},
    ),
    Wrong(
        name="adam_t_frozen",
        mistake="sets t = 1 at every step, so the bias correction never fades (one step is right)",
        replace=adam(t="        self.t = 1\n"),
        score=20 - 3 - 1 - 3,
        fails={"test_adam_many_steps": "t grows by one",
               "test_adam_weight_decay": "step 2 does not",
               "test_adamw": "step 2 does not"},
    ),
    Wrong(
        name="adam_only_m_corrected",
        mistake="corrects the bias of m but not of v, so the first step is 31.6 lr",
        replace=adam(hats="        m_hat = self.m / (1 - beta1**self.t)\n",
                     ret=RETURN.replace("np.sqrt(v_hat)", "np.sqrt(self.v)")),
        score=20 - ADAM_CORE,
        fails={"test_adam_first_step": "only m was bias-corrected",
               "test_adam_eps": "expected",
               "test_adam_many_steps": "expected",
               "test_adam_weight_decay": "expected",
               "test_adamw": "fix Adam first"},
    ),
    Wrong(
        name="adam_stateless",
        mistake="starts m, v and t afresh at every step: sign descent, right for a constant "
                "gradient",
        replace=adam(t="        self.t = 1\n",
                     moments="        self.m = (1 - beta1) * g\n"
                             "        self.v = (1 - beta2) * g**2\n"),
        score=20 - 3 - 1 - 3,
        fails={"test_adam_many_steps": "it does not start them afresh",
               "test_adam_weight_decay": "step 2 does not",
               "test_adamw": "step 2 does not"},
    ),
    Wrong(
        name="adam_efficient_eps",
        mistake="Kingma and Ba's 'efficient' form: eps added to the uncorrected sqrt(v)",
        replace=EFFICIENT,
        score=20 - 2,
        fails={"test_adam_eps": "'efficient' form"},
    ),
    Wrong(
        name="adam_decoupled_decay",
        mistake="Adam shrinks the weights (AdamW's decay) instead of adding weight_decay * p to g",
        replace=adam(decay="", t="        p = p * (1 - self.lr * self.weight_decay)\n" + T),
        score=20 - 1,
        fails={"test_adam_weight_decay": "that is AdamW's decoupled decay"},
    ),
    Wrong(
        name="adam_torch_form",
        mistake="none: the right update written as torch writes it "
                "(step size lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps)",
        replace=adam(hats="        bc1, bc2 = 1 - beta1**self.t, 1 - beta2**self.t\n"
                          "        denom = np.sqrt(self.v) / np.sqrt(bc2) + self.eps\n",
                     ret="        return p - (self.lr / bc1) * self.m / denom\n"),
        score=20,
    ),
    # --- AdamW ----------------------------------------------------------------------------------
    Wrong(
        name="adamw_no_op",
        mistake="AdamW that returns the parameters unchanged",
        replace=adamw("        return np.array(params, dtype=float)\n"),
        score=20 - 3,
        fails={"test_adamw": "the weights did not move"},
    ),
    Wrong(
        name="adamw_decay_ignored",
        mistake="AdamW that takes the Adam step and forgets the decay",
        replace=adamw("        return super().step(params, grads)\n"),
        score=20 - 3,
        fails={"test_adamw": "weight_decay was ignored"},
    ),
    Wrong(
        name="adamw_decay_after_step",
        mistake="AdamW that decays the weights after the Adam step instead of before",
        replace=adamw("        new = super().step(params, grads)\n"
                      "        return new * (1 - self.lr * lam)\n"),
        score=20 - 3,
        fails={"test_adamw": "decayed after the Adam step"},
    ),
    Wrong(
        name="adamw_lr_missing",
        mistake="AdamW that shrinks by 1 - weight_decay, without the learning rate",
        replace=adamw("        return super().step(np.asarray(params) * (1 - lam), grads)\n"),
        score=20 - 3,
        fails={"test_adamw": "lr is missing"},
    ),
    Wrong(
        name="adamw_l2_in_gradient",
        mistake="AdamW that adds weight_decay * p to the gradient (that is Adam's L2)",
        replace=adamw("        p = np.asarray(params, dtype=float)\n"
                      "        return super().step(p, np.asarray(grads) + lam * p)\n"),
        score=20 - 3,
        fails={"test_adamw": "L2 term added to the gradient"},
    ),
    Wrong(
        name="adamw_decay_and_l2",
        mistake="AdamW that both shrinks the weights and adds an L2 term to the gradient",
        replace=adamw("        p = np.asarray(params, dtype=float) * (1 - self.lr * lam)\n"
                      "        return super().step(p, np.asarray(grads) + lam * p)\n"),
        score=20 - 3,
        fails={"test_adamw": "AdamW only decays the weights"},
    ),
    Wrong(
        name="adamw_initial_lr",
        mistake="AdamW that fixes the decay factor with the learning rate it was built with",
        replace={"adamw": ADAMW_HEAD.replace(
            "        self.decoupled_weight_decay = weight_decay\n",
            "        self.decoupled_weight_decay = weight_decay\n"
            "        self.factor = 1 - lr * weight_decay\n")
            + "        return super().step(np.asarray(params) * self.factor, grads)\n"},
        score=20 - 3,
        fails={"test_adamw": "learning rate changed from 0.1 to 0.01"},
    ),
    # --- simulation -----------------------------------------------------------------------------
    Wrong(
        name="simulation_m_starts_at_g1",
        mistake="starts the moving average at the first gradient, so it shows no bias",
        replace={"simulate_first_moment": SIM_HEAD + '''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(steps, n_runs))
    m = grads[0]
    average = [m.mean()]
    for t in range(1, steps):
        m = beta * m + (1 - beta) * grads[t]
        average.append(m.mean())
    return np.array(average)
'''},
        score=20 - 3,
        fails={"test_simulate_first_moment": "start m at 0"},
    ),
    Wrong(
        name="simulation_returns_m0",
        mistake="returns m_0 .. m_(steps-1) instead of m_1 .. m_steps",
        replace={"simulate_first_moment": SIM_HEAD + '''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(steps, n_runs))
    m = np.zeros(n_runs)
    average = []
    for t in range(steps):
        average.append(m.mean())
        m = beta * m + (1 - beta) * grads[t]
    return np.array(average)
'''},
        score=20 - 3,
        fails={"test_simulate_first_moment": "the first entry should be m_1"},
    ),
    Wrong(
        name="simulation_closed_form",
        mistake="returns the formula (1 - beta**t) * mean instead of simulating it",
        replace={"simulate_first_moment": SIM_HEAD
                 + "    return (1 - beta ** np.arange(1, steps + 1)) * grad_mean\n"},
        score=20 - 3,
        fails={"test_simulate_first_moment": "seeds 0 and 1 gave exactly the same numbers"},
    ),
    # --- concept checks -------------------------------------------------------------------------
    Wrong(
        name="concepts_uncorrected_and_l2",
        mistake="thinks the uncorrected first step is 0.1 of lr and that L2 shrinks all weights "
                "alike",
        replace={"concepts": 'answer_first_step = "b"\nuncorrected_ratio = 0.1\n'
                             'window_beta2 = 20\nanswer_l2 = "a"\n'},
        score=20 - 2,
        fails={"test_concept_uncorrected_ratio": "v_1 is not corrected either",
               "test_concept_l2": "AdamW's decoupled decay"},
    ),
]
