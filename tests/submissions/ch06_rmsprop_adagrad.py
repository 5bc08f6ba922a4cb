"""Known-wrong submissions of chapter 6 (RMSprop and AdaGrad): 21 points in all.

Points per test cell: test_hand_step 2, test_rmsprop_first_step 2, test_rmsprop_eps 2,
test_rmsprop_many_steps 3, test_rmsprop_weight_decay 1, test_rmsprop_centered 2,
test_adagrad_steps 2, test_adagrad_options 2, test_rmsprop_step_sizes 2, three concept checks 1
each. ``tests/test_ch06_grading.py`` feeds many more mistakes through the fast in-process runner;
these few go through real nbgrader.

The ``RMSprop`` and ``Adagrad`` solution cells are built from pieces (``rmsprop(...)`` and
``adagrad(...)`` replace some of them), which ``tests/test_ch06_grading.py`` reuses for its
in-process cases.
"""

from tests.submissions import Wrong

TOTAL = 21

RMS_HEAD = '''class RMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, centered=False):
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.centered = centered
        self.v = None
        self.m = None

    def step(self, params, grads):
'''
PREPARE = '''        p = np.array(params, dtype=float)
        g = np.array(grads, dtype=float)
'''
DECAY = '''        if self.weight_decay:
            g = g + self.weight_decay * p
'''
START = '''        if self.v is None:
            self.v = np.zeros_like(p)
            self.m = np.zeros_like(p)
'''
V = "        self.v = self.alpha * self.v + (1 - self.alpha) * g**2\n"
M = "        self.m = self.alpha * self.m + (1 - self.alpha) * g\n"
DENOM = '''        if self.centered:
''' + "    " + M + '''            denom = np.sqrt(self.v - self.m**2) + self.eps
        else:
            denom = np.sqrt(self.v) + self.eps
'''
RETURN = "        return p - self.lr * g / denom\n"


def rmsprop(prepare=PREPARE, decay=DECAY, start=START, v=V, denom=DENOM, ret=RETURN,
            head=RMS_HEAD) -> dict[str, str]:
    """The ``rmsprop`` solution cell, right, with the pieces named replaced."""
    return {"rmsprop": head + prepare + decay + start + v + denom + ret}


ADA_HEAD = '''class Adagrad:
    def __init__(self, lr=1e-2, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0,
                 weight_decay=0.0):
        self.lr = lr
        self.lr_decay = lr_decay
        self.eps = eps
        self.initial_accumulator_value = initial_accumulator_value
        self.weight_decay = weight_decay
        self.t = 0
        self.sum = None

    def step(self, params, grads):
        p = np.array(params, dtype=float)
        g = np.array(grads, dtype=float)
'''
ADA_INIT = '''        if self.sum is None:
            self.sum = np.full_like(p, self.initial_accumulator_value)
'''
ADA_COUNT = "        self.t += 1\n"
ADA_START = ADA_INIT + ADA_COUNT
ADA_SUM = "        self.sum = self.sum + g**2\n"
ADA_LR = "        lr = self.lr / (1 + (self.t - 1) * self.lr_decay)\n"
ADA_RETURN = "        return p - lr * g / (np.sqrt(self.sum) + self.eps)\n"


def adagrad(decay=DECAY, start=ADA_START, acc=ADA_SUM, lr=ADA_LR, ret=ADA_RETURN,
            head=ADA_HEAD) -> dict[str, str]:
    """The ``adagrad`` solution cell, right, with the pieces named replaced."""
    return {"adagrad": head + decay + start + acc + lr + ret}


# these submissions count t before they make the sum, which is just as right
_COUNT_FIRST = ADA_COUNT + ADA_INIT

SIZES_HEAD = "def rmsprop_step_sizes(grads, lr, alpha=0.99, eps=1e-8):\n"
_SIZES_AS_ARRAY = SIZES_HEAD + "    grads = np.asarray(grads, dtype=float)\n"

RMSPROP_ALL = 2 + 2 + 3 + 1 + 2  # every RMSprop cell

WRONG = [
    # --- one RMSprop step by hand ---------------------------------------------------------------
    Wrong(
        name="hand_no_square_root",
        mistake="divides the hand step by v1 instead of its square root",
        replace={"hand_step": "g1 = 12.0\nv1 = 1.44\nw1 = 2 - 0.01 * 12 / 1.44\nw1_gd = 1.88\n"},
        score=TOTAL - 2,
        fails={"test_hand_step": "not by v1"},
    ),
    # --- RMSprop --------------------------------------------------------------------------------
    Wrong(
        name="rmsprop_eps_inside_root",
        mistake="RMSprop with eps inside the square root: sqrt(v + eps)",
        replace=rmsprop(denom=DENOM.replace("np.sqrt(self.v) + self.eps",
                                            "np.sqrt(self.v + self.eps)")),
        score=TOTAL - 2,
        fails={"test_rmsprop_eps": "eps inside the square root"},
    ),
    Wrong(
        name="rmsprop_decay_0999",
        mistake="RMSprop decaying v with 0.999 (Adam's beta2) instead of alpha",
        replace=rmsprop(v="        self.v = 0.999 * self.v + 0.001 * g**2\n"),
        score=TOTAL - RMSPROP_ALL,
        fails={"test_rmsprop_first_step": "decays v with 0.999",
               "test_rmsprop_eps": "decays v with 0.999",
               "test_rmsprop_many_steps": "decays with self.alpha",
               "test_rmsprop_weight_decay": "decays v with 0.999",
               "test_rmsprop_centered": "both moving averages with alpha"},
    ),
    Wrong(
        name="rmsprop_bias_corrected",
        mistake="RMSprop with Adam's bias correction of v (torch's RMSprop has none)",
        replace=rmsprop(head=RMS_HEAD.replace("        self.m = None\n",
                                              "        self.m = None\n        self.t = 0\n"),
                        v=V + "        self.t += 1\n",
                        denom=DENOM.replace("np.sqrt(self.v)",
                                            "np.sqrt(self.v / (1 - self.alpha**self.t))")),
        score=TOTAL - (RMSPROP_ALL - 2),
        fails={"test_rmsprop_first_step": "bias-corrected v",
               "test_rmsprop_eps": "v should start at 0",
               "test_rmsprop_many_steps": "v should start at 0",
               "test_rmsprop_weight_decay": "v should start at 0"},
    ),
    Wrong(
        name="rmsprop_no_square_root",
        mistake="divides by v + eps instead of sqrt(v) + eps",
        replace=rmsprop(denom=DENOM.replace("np.sqrt(self.v - self.m**2)", "self.v - self.m**2")
                        .replace("np.sqrt(self.v)", "self.v")),
        score=TOTAL - RMSPROP_ALL,
        fails={"test_rmsprop_first_step": "not by v",
               "test_rmsprop_eps": "not by v",
               "test_rmsprop_many_steps": "expected",
               "test_rmsprop_weight_decay": "not by v",
               "test_rmsprop_centered": "expected"},
    ),
    Wrong(
        name="rmsprop_lr_read_once",
        mistake="stores the learning rate when built and ignores later changes of self.lr",
        replace=rmsprop(head=RMS_HEAD.replace("        self.v = None\n",
                                              "        self.v = None\n        self.lr0 = lr\n"),
                        ret=RETURN.replace("self.lr", "self.lr0")),
        score=TOTAL - 3,
        fails={"test_rmsprop_many_steps": "read self.lr at every step"},
    ),
    Wrong(
        name="rmsprop_weight_decay_after_v",
        mistake="adds weight_decay * params to the gradient only after updating v with the raw "
                "gradient",
        replace=rmsprop(decay="", v=V + "        g = g + self.weight_decay * p\n"),
        score=TOTAL - 1,
        fails={"test_rmsprop_weight_decay": "before the decay was added"},
    ),
    Wrong(
        name="rmsprop_centered_ignored",
        mistake="accepts centered=True but takes the plain step",
        replace=rmsprop(denom=DENOM.replace("np.sqrt(self.v - self.m**2)", "np.sqrt(self.v)")),
        score=TOTAL - 2,
        fails={"test_rmsprop_centered": "that is the uncentered step"},
    ),
    Wrong(
        name="rmsprop_centered_root_minus_m",
        mistake="centered denominator written sqrt(v) - m instead of sqrt(v - m**2)",
        replace=rmsprop(denom=DENOM.replace("np.sqrt(self.v - self.m**2)",
                                            "np.sqrt(self.v) - self.m")),
        score=TOTAL - 2,
        fails={"test_rmsprop_centered": "not sqrt(v) - m"},
    ),
    # --- AdaGrad --------------------------------------------------------------------------------
    Wrong(
        name="adagrad_moving_average",
        mistake="AdaGrad keeping a moving average of g² (RMSprop with 0.99) instead of the sum",
        replace=adagrad(start=_COUNT_FIRST,
                        acc="        self.sum = 0.99 * self.sum + 0.01 * g**2\n"),
        score=TOTAL - 2 - 2,
        fails={"test_adagrad_steps": "moving average",
               "test_adagrad_options": "expected"},
    ),
    Wrong(
        name="adagrad_eps_inside_root",
        mistake="AdaGrad with eps inside the square root: sqrt(s + eps)",
        replace=adagrad(start=_COUNT_FIRST,
                        ret="        return p - lr * g / np.sqrt(self.sum + self.eps)\n"),
        score=TOTAL - 2,
        fails={"test_adagrad_steps": "eps inside the square root"},
    ),
    Wrong(
        name="adagrad_lr_decay_from_t",
        mistake="decays the learning rate with t instead of t - 1, so step 1 is already decayed",
        replace=adagrad(start=_COUNT_FIRST, lr=ADA_LR.replace("(self.t - 1)", "self.t")),
        score=TOTAL - 2,
        fails={"test_adagrad_options": "uses t - 1"},
    ),
    Wrong(
        name="adagrad_initial_value_ignored",
        mistake="starts the sum at 0 whatever initial_accumulator_value says",
        replace=adagrad(start=_COUNT_FIRST.replace(
            "np.full_like(p, self.initial_accumulator_value)", "np.zeros_like(p)")),
        score=TOTAL - 2,
        fails={"test_adagrad_options": "initial_accumulator_value was ignored"},
    ),
    Wrong(
        name="adagrad_sum_not_kept",
        mistake="builds the sum from the current gradient only, so every step has size lr",
        replace=adagrad(start=ADA_COUNT,
                        acc="        total = self.initial_accumulator_value + g**2\n",
                        ret=ADA_RETURN.replace("self.sum", "total")),
        score=TOTAL - 2 - 2,
        fails={"test_adagrad_steps": "sum of all squared gradients",
               "test_adagrad_options": "expected"},
    ),
    # --- per-parameter step sizes ---------------------------------------------------------------
    Wrong(
        name="step_sizes_without_square_root",
        mistake="takes lr / (v + eps) as the step size",
        replace={"rmsprop_step_sizes": _SIZES_AS_ARRAY + '''    v = np.zeros(grads.shape[1])
    sizes = []
    for g in grads:
        v = alpha * v + (1 - alpha) * g**2
        sizes.append(lr / (v + eps))
    return np.array(sizes)
'''},
        score=TOTAL - 2,
        fails={"test_rmsprop_step_sizes": "not by v"},
    ),
    Wrong(
        name="step_sizes_before_update",
        mistake="records the step size before updating v with the row, one step late",
        replace={"rmsprop_step_sizes": _SIZES_AS_ARRAY + '''    v = np.zeros(grads.shape[1])
    sizes = []
    for g in grads:
        sizes.append(lr / (np.sqrt(v) + eps))
        v = alpha * v + (1 - alpha) * g**2
    return np.array(sizes)
'''},
        score=TOTAL - 2,
        fails={"test_rmsprop_step_sizes": "update v with each row first"},
    ),
    # --- concept checks -------------------------------------------------------------------------
    Wrong(
        name="concepts_uncorrected_and_rate",
        mistake="thinks the first step is lr and that AdaGrad's steps fall like 1/t",
        replace={"concepts": 'first_step_ratio = 1\nanswer_adagrad = "b"\nanswer_sqrt = "a"\n'},
        score=TOTAL - 2,
        fails={"test_concept_first_step": "not g²",
               "test_concept_adagrad": "not by t"},
    ),
]
