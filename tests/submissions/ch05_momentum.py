"""Known-wrong submissions of chapter 5 (momentum and Nesterov): 16 points in all.

Points per test cell: test_hand_steps 2, test_momentum_first_steps 2, test_momentum_lr_drop 2,
test_dampening 1, test_sgd_weight_decay 1, test_nesterov 3, test_steps_to_converge 2, three
concept checks 1 each. The Nesterov cell's hidden test drops the learning rate mid-run, so a
buffer that holds ``lr * g`` also costs it.
"""

from tests.submissions import Wrong

_SGD_HEAD = '''class SGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.buf = None

    def step(self, params, grads):
        p = np.array(params, dtype=float)
        g = np.array(grads, dtype=float)
        if self.weight_decay:
            g = g + self.weight_decay * p
'''

_RIGHT_BUFFER = '''            if self.buf is None:
                self.buf = g.copy()
            else:
                self.buf = self.momentum * self.buf + (1 - self.dampening) * g
'''
_RIGHT_DIRECTION = "            g = g + self.momentum * self.buf if self.nesterov else self.buf\n"


def _sgd(body: str, head: str = _SGD_HEAD, lr: str = "self.lr") -> dict[str, str]:
    return {"sgd": head + "        if self.momentum:\n" + body + f"        return p - {lr} * g\n"}


def _nesterov(direction: str) -> dict[str, str]:
    """The right buffer, with ``direction`` in place of Nesterov's g + mu * buf."""
    return _sgd(_RIGHT_BUFFER + f"            g = {direction} if self.nesterov else self.buf\n")


_STEPS_SIGNATURE = "def steps_to_converge(optimizer, start, tol=1e-6, max_steps=10_000):\n"

SGD_CORE = 2 + 2 + 1 + 1 + 3  # every cell that takes momentum steps

WRONG = [
    # --- two momentum steps by hand -------------------------------------------------------------
    Wrong(
        name="hand_average_form",
        mistake="updates the buffer as an average, b2 = 0.9 * b1 + 0.1 * g2",
        replace={"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\n"
                               "b2 = 0.9 * 20 + 0.1 * 16\nw2 = 8 - 0.1 * b2\nw2_gd = 6.4\n"},
        score=16 - 2,
        fails={"test_hand_steps": "average form"},
    ),
    # --- SGD with momentum ----------------------------------------------------------------------
    Wrong(
        name="momentum_lr_inside_buffer",
        mistake="keeps lr * g in the buffer and steps p - buf (right only while lr is constant)",
        replace={"sgd": _SGD_HEAD + '''        if not self.momentum:
            return p - self.lr * g
        if self.buf is None:
            self.buf = self.lr * g
        else:
            self.buf = self.momentum * self.buf + (1 - self.dampening) * self.lr * g
        if self.nesterov:
            return p - (self.lr * g + self.momentum * self.buf)
        return p - self.buf
'''},
        score=16 - 2 - 3,
        fails={"test_momentum_lr_drop": "the buffer holds lr * g",
               "test_nesterov": "learning rate changed from 0.1 to 0.01"},
    ),
    Wrong(
        name="momentum_lr_read_once",
        mistake="stores the learning rate when built and ignores later changes of self.lr",
        replace=_sgd(_RIGHT_BUFFER + _RIGHT_DIRECTION, lr="self.lr0",
                     head=_SGD_HEAD.replace("        self.buf = None\n",
                                            "        self.buf = None\n        self.lr0 = lr\n")),
        score=16 - 2 - 3,
        fails={"test_momentum_lr_drop": "read only once",
               "test_nesterov": "learning rate changed from 0.1 to 0.01"},
    ),
    Wrong(
        name="dampening_on_first_step",
        mistake="starts the buffer at 0, so the first step is dampened too",
        replace=_sgd('''            if self.buf is None:
                self.buf = np.zeros_like(g)
            self.buf = self.momentum * self.buf + (1 - self.dampening) * g
            g = g + self.momentum * self.buf if self.nesterov else self.buf
'''),
        score=16 - 1,
        fails={"test_dampening": "does not dampen the first step"},
    ),
    Wrong(
        name="momentum_buffer_not_kept",
        mistake="builds the buffer in a local variable, so every step is plain gradient descent",
        replace=_sgd('''            buf = g.copy()
            g = g + self.momentum * buf if self.nesterov else buf
'''),
        score=16 - SGD_CORE,
        fails={"test_momentum_first_steps": "the buffer was not kept",
               "test_momentum_lr_drop": "expected",
               "test_dampening": "the buffer was not kept",
               "test_sgd_weight_decay": "step 2 does not",
               "test_nesterov": "expected"},
    ),
    Wrong(
        name="weight_decay_ignored",
        mistake="never adds weight_decay * params to the gradient",
        replace=_sgd(_RIGHT_BUFFER + _RIGHT_DIRECTION,
                     head=_SGD_HEAD.replace("        if self.weight_decay:\n"
                                            "            g = g + self.weight_decay * p\n", "")),
        score=16 - 1,
        fails={"test_sgd_weight_decay": "weight_decay was ignored"},
    ),
    # --- Nesterov -------------------------------------------------------------------------------
    Wrong(
        name="nesterov_old_buffer",
        mistake="Nesterov looking ahead with the buffer from before this step's update",
        replace=_sgd('''            old = np.zeros_like(g) if self.buf is None else self.buf
            if self.buf is None:
                self.buf = g.copy()
            else:
                self.buf = self.momentum * self.buf + (1 - self.dampening) * g
            g = g + self.momentum * old if self.nesterov else self.buf
'''),
        score=16 - 3,
        fails={"test_nesterov": "with the buffer from before this step"},
    ),
    Wrong(
        name="nesterov_ignored",
        mistake="ignores nesterov=True and always steps along the buffer",
        replace=_sgd(_RIGHT_BUFFER + "            g = self.buf\n"),
        score=16 - 3,
        fails={"test_nesterov": "that is plain momentum"},
    ),
    Wrong(
        name="nesterov_mu_missing",
        mistake="Nesterov stepping along g + buf, without the factor momentum",
        replace=_nesterov("g + self.buf"),
        score=16 - 3,
        fails={"test_nesterov": "the factor mu is missing"},
    ),
    Wrong(
        name="nesterov_gradient_missing",
        mistake="Nesterov stepping along momentum * buf, without the gradient",
        replace=_nesterov("self.momentum * self.buf"),
        score=16 - 3,
        fails={"test_nesterov": "the gradient g is missing"},
    ),
    # --- steps to converge ----------------------------------------------------------------------
    Wrong(
        name="steps_counts_points",
        mistake="counts the points visited, one more than the steps taken",
        replace={"steps_to_converge": _STEPS_SIGNATURE + '''    w = np.array(start, dtype=float)
    for k in range(max_steps + 1):
        if ravine.f(w) < tol:
            return k + 1
        w = optimizer.step(w, ravine.grad(w))
    return None
'''},
        score=16 - 2,
        fails={"test_steps_to_converge": "one step too many"},
    ),
    Wrong(
        name="steps_returns_max",
        mistake="returns max_steps instead of None when the run does not get below tol",
        replace={"steps_to_converge": _STEPS_SIGNATURE + '''    w = np.array(start, dtype=float)
    for k in range(max_steps + 1):
        if ravine.f(w) < tol:
            return k
        w = optimizer.step(w, ravine.grad(w))
    return max_steps
'''},
        score=16 - 2,
        fails={"test_steps_to_converge": "return None"},
    ),
    # --- concept checks -------------------------------------------------------------------------
    Wrong(
        name="concepts_window_and_limit",
        mistake="takes the window as 1 - mu and thinks the steps stay at lr * g",
        replace={"concepts": 'window_099 = 0.01\nanswer_limit = "a"\nanswer_forms = "b"\n'},
        score=16 - 2,
        fails={"test_concept_window": "not 1 - mu",
               "test_concept_limit": "plain gradient descent"},
    ),
]

