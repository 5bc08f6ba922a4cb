"""Known-wrong submissions of chapter 5 (momentum and Nesterov): 18 points in all.

Points per test cell: test_hand_steps 2, test_momentum_first_steps 2, test_momentum_lr_drop 2,
test_dampening 1, test_sgd_weight_decay 1, test_nesterov 3, test_steps_to_converge 2, five
concept checks 1 each. Every cell that grades ``SGD`` hands it copies and checks first that they
are left as they were, and runs it with ``torch.optim`` switched off. The Nesterov cell's hidden
test drops the learning rate mid-run, so a buffer that holds ``lr * g`` also costs it.

The ``SGD`` solution cell is built from pieces (``sgd(...)`` replaces some of them), which
``tests/test_ch05_grading.py`` reuses for its in-process cases.
"""

from tests.submissions import Wrong

TOTAL = 18
SGD_CELLS = ("test_momentum_first_steps", "test_momentum_lr_drop", "test_dampening",
             "test_sgd_weight_decay", "test_nesterov")
SGD_POINTS = 2 + 2 + 1 + 1 + 3

HEAD = '''class SGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay, self.buf = nesterov, weight_decay, None

    def step(self, params, grads):
        p = np.array(params, dtype=float)
        g = np.array(grads, dtype=float)
'''
DECAY = '''        if self.weight_decay:
            g = g + self.weight_decay * p
'''
FIRST = '''        if self.momentum:
            if self.buf is None:
                self.buf = g.copy()
'''
LATER = '''            else:
                self.buf = self.momentum * self.buf + (1 - self.dampening) * g
'''
DIRECTION = "            g = g + self.momentum * self.buf if self.nesterov else self.buf\n"
RETURN = "        return p - self.lr * g\n"
UPHILL = "        return p + self.lr * g\n"
PIECES = {"head": HEAD, "decay": DECAY, "first": FIRST, "later": LATER, "direction": DIRECTION,
          "ret": RETURN}


def sgd(**changed) -> dict[str, str]:
    """The ``sgd`` solution cell, right, with the pieces named in ``changed`` replaced."""
    pieces = {**PIECES, **changed}
    return {"sgd": "".join(pieces[name] for name in PIECES)}


SGD_WRAPPING_TORCH = '''import torch


class SGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.hyper, self.opt = lr, dict(momentum=momentum, dampening=dampening,
                                                 nesterov=nesterov, weight_decay=weight_decay), None

    def step(self, params, grads):
        p = torch.tensor(np.asarray(params, dtype=float), requires_grad=True)
        if self.opt is None:
            self.param = p
            self.opt = torch.optim.SGD([self.param], lr=self.lr, **self.hyper)
        with torch.no_grad():
            self.param.copy_(p)
        self.param.grad = torch.tensor(np.asarray(grads, dtype=float))
        self.opt.param_groups[0]["lr"] = self.lr
        self.opt.step()
        return self.param.detach().numpy().copy()
'''



SGD_VELOCITY_FORM = '''class SGD:
    """v = mu v - g, p = p + lr v: the buffer with its sign flipped, lists returned."""

    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.mu, self.d = lr, momentum, dampening
        self.nesterov, self.wd, self.v = nesterov, weight_decay, None

    def step(self, params, grads):
        p = np.array(params, dtype=float, copy=True)
        g = np.asarray(grads, dtype=float) + self.wd * p
        if not self.mu:
            return (p - self.lr * g).tolist()
        self.v = -g if self.v is None else self.mu * self.v - (1 - self.d) * g
        p += self.lr * (-g + self.mu * self.v if self.nesterov else self.v)
        return p.tolist()
'''


def steps_cell(body: str) -> dict[str, str]:
    """The ``steps_to_converge`` solution cell with ``body`` under its signature."""
    return {"steps_to_converge": "def steps_to_converge(optimizer, start, tol=1e-6, "
                                 "max_steps=10_000):\n" + body}


WRONG = [
    # --- two momentum steps by hand -------------------------------------------------------------
    Wrong(
        name="hand_average_form",
        mistake="updates the buffer as an average, b2 = 0.9 * b1 + 0.1 * g2",
        replace={"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\n"
                               "b2 = 0.9 * 20 + 0.1 * 16\nw2 = 8 - 0.1 * b2\nw2_gd = 6.4\n"},
        score=TOTAL - 2,
        fails={"test_hand_steps": "average form"},
    ),
    # --- SGD with momentum ----------------------------------------------------------------------
    Wrong(
        name="momentum_lr_inside_buffer",
        mistake="keeps lr * g in the buffer and steps p - buf (right only while lr is constant)",
        replace=sgd(first=FIRST.replace("g.copy()", "self.lr * g"),
                    later=LATER.replace("* g\n", "* self.lr * g\n"),
                    direction=("            g = (self.lr * g + self.momentum * self.buf"
                               " if self.nesterov else self.buf) / self.lr\n")),
        score=TOTAL - 2 - 3,
        fails={"test_momentum_lr_drop": "the buffer holds lr * g",
               "test_nesterov": "learning rate changed from 0.1 to 0.01"},
    ),
    Wrong(
        name="momentum_lr_read_once",
        mistake="stores the learning rate when built and ignores later changes of self.lr",
        replace=sgd(head=HEAD.replace("self.buf = nesterov, weight_decay, None",
                                      "self.buf = nesterov, weight_decay, None\n"
                                      "        self.lr0 = lr"),
                    ret="        return p - self.lr0 * g\n"),
        score=TOTAL - 2 - 3,
        fails={"test_momentum_lr_drop": "read only once",
               "test_nesterov": "read at every step"},
    ),
    Wrong(
        name="momentum_sign_flipped",
        mistake="steps uphill: p + lr * direction",
        replace=sgd(ret=UPHILL),
        score=TOTAL - SGD_POINTS,
        fails={cell: "went uphill" for cell in SGD_CELLS},
    ),
    Wrong(
        name="params_changed_in_place",
        mistake="updates params in place (p = params; p -= lr * direction) and returns it",
        replace=sgd(head=HEAD.replace("p = np.array(params, dtype=float)", "p = params"),
                    ret="        p -= self.lr * g\n        return p\n"),
        score=TOTAL - SGD_POINTS,
        fails={cell: "changed the arrays passed to it" for cell in SGD_CELLS},
    ),
    Wrong(
        name="sgd_wraps_torch",
        mistake="hands the update to torch.optim.SGD instead of writing it",
        replace={"sgd": SGD_WRAPPING_TORCH},
        score=TOTAL - SGD_POINTS,
        fails={cell: "calls torch.optim" for cell in SGD_CELLS},
    ),
    Wrong(
        name="sgd_in_float32",
        mistake="computes in float32: right to 7 digits, which the visible plain step (12 digits) "
                "and every hidden test see",
        replace=sgd(head=HEAD.replace("dtype=float)", "dtype=np.float32)"),
                    ret="        return (p - np.float32(self.lr) * g).astype(np.float32)\n"),
        score=TOTAL - SGD_POINTS,
        fails={cell: "float32" for cell in SGD_CELLS},
    ),
    Wrong(
        name="dampening_on_first_step",
        mistake="starts the buffer at 0, so the first step is dampened too",
        replace=sgd(first='''        if self.momentum:
            if self.buf is None:
                self.buf = np.zeros_like(g)
''', later="            self.buf = self.momentum * self.buf + (1 - self.dampening) * g\n"),
        score=TOTAL - 1,
        fails={"test_dampening": "does not dampen the first step"},
    ),
    Wrong(
        name="momentum_buffer_not_kept",
        mistake="builds the buffer anew at every step, so every step is plain gradient descent",
        replace=sgd(first=FIRST.replace("if self.buf is None:", "if True:")),
        score=TOTAL - SGD_POINTS,
        fails={"test_momentum_first_steps": "the buffer was not kept",
               "test_momentum_lr_drop": "expected",
               "test_dampening": "the buffer was not kept",
               "test_sgd_weight_decay": "expected",
               "test_nesterov": "expected"},
    ),
    Wrong(
        name="weight_decay_ignored",
        mistake="never adds weight_decay * params to the gradient",
        replace=sgd(decay=""),
        score=TOTAL - 1,
        fails={"test_sgd_weight_decay": "weight_decay was ignored"},
    ),
    Wrong(
        name="weight_decay_after_buffer",
        mistake="adds weight_decay * params to the direction, after the buffer",
        replace=sgd(decay="", direction=DIRECTION + "        g = g + self.weight_decay * p\n"),
        score=TOTAL - 1,
        fails={"test_sgd_weight_decay": "before it enters the buffer"},
    ),
    # --- Nesterov -------------------------------------------------------------------------------
    Wrong(
        name="nesterov_old_buffer",
        mistake="Nesterov looking ahead with the buffer from before this step's update",
        replace=sgd(first=FIRST.replace("        if self.momentum:\n", "        if self.momentum:\n"
                                        "            old = np.zeros_like(g) if self.buf is None "
                                        "else self.buf\n"),
                    direction="            g = g + self.momentum * old if self.nesterov "
                              "else self.buf\n"),
        score=TOTAL - 3,
        fails={"test_nesterov": "with the buffer from before this step"},
    ),
    Wrong(
        name="nesterov_gradient_missing",
        mistake="Nesterov stepping along momentum * buf, without the gradient",
        replace=sgd(direction=DIRECTION.replace("g + self.momentum", "self.momentum")),
        score=TOTAL - 3,
        fails={"test_nesterov": "the gradient g is missing"},
    ),
    # --- steps to converge ----------------------------------------------------------------------
    Wrong(
        name="steps_counts_points",
        mistake="counts the points visited, one more than the steps taken",
        replace=steps_cell('''    w = np.array(start, dtype=float)
    for k in range(max_steps + 1):
        if ravine.f(w) < tol:
            return k + 1
        w = optimizer.step(w, ravine.grad(w))
    return None
'''),
        score=TOTAL - 2,
        fails={"test_steps_to_converge": "one step too many"},
    ),
    Wrong(
        name="steps_hard_coded",
        mistake="returns the visible test's answers instead of running the optimizer",
        replace=steps_cell('''    if not np.any(start):
        return 0
    return 126 if max_steps >= 126 else None
'''),
        score=TOTAL - 2,
        fails={"test_steps_to_converge": "run the optimizer you are given"},
    ),
    # --- concept checks -------------------------------------------------------------------------
    Wrong(
        name="concepts_slips",
        mistake="window 1 - mu, steps stay at lr * g, gradient descent's bound, mu not squared",
        replace={"concepts": 'window_099 = 0.01\nanswer_limit = "a"\nanswer_forms = "b"\n'
                             'lr_edge = 2 / 50\nbeta_kappa_100 = 9 / 11\n'},
        score=TOTAL - 4,
        fails={"test_concept_window": "not 1 - mu",
               "test_concept_limit": "plain gradient descent",
               "test_concept_lr_edge": "plain gradient descent's bound",
               "test_concept_tuned_beta": "mu is its square"},
    ),
    # --- right, in another style ----------------------------------------------------------------
    Wrong(
        name="right_velocity_form_and_lists",
        mistake="none: v = mu v - g, p = p + lr v, lists returned, a while loop (full marks)",
        replace={"sgd": SGD_VELOCITY_FORM,
                 **steps_cell('''    w, k = np.array(start, dtype=float), 0
    while ravine.f(w) >= tol:
        if k == max_steps:
            return None
        w, k = np.array(optimizer.step(w, ravine.grad(w))), k + 1
    return k
''')},
        score=TOTAL,
    ),
]
