"""Chapter 7's graded cells are fair, proved by running the exercise notebook with answers
replaced (``tests/exercise_runner.py``, hidden tests included unless said otherwise):

- every named mistake (each ``mistakes=`` entry, each hint) is fed its real mistake, and the
  message it gets is asserted, with the set of cells it costs;
- right answers in other styles (lists and loops, updates in place on copies, ``lerp``-style
  averages, torch's own formulation, extra state, AdamW written as decay then ``super().step``
  or on its own, simulations drawn in another order) keep full marks;
- shortcuts do not pass: an Adam that starts m, v and t afresh at every step fails a visible
  test, so does an AdamW that does nothing, and the closed form (or the closed form with a
  sprinkle of noise) where a simulation is asked earns nothing;
- answers that only look like numbers or letters earn nothing, and float32 arithmetic is named.
"""

from functools import partial

import numpy as np
import pytest

from tests.exercise_runner import (
    LIARS,
    assert_fails,
    assert_full_marks,
    assert_wrong_submissions,
    assignments,
    failing,
    lying_str,
    run_exercises,
    score,
)
from tests.submissions import load_wrong
from tests.submissions.ch07_adam import (
    ADAM_HEAD,
    EFFICIENT,
    HATS,
    MOMENTS,
    RETURN,
    SIM_HEAD,
    START,
    T,
    adam,
    adamw,
)

CHAPTER = "ch07_adam"
TOTAL = 20
NAN_HINT = "add 1 to t before the bias correction"
# where a failure matches no known mistake: the check it failed, or its hint
EPS_CHECK = "w after one step with g = 1e-9, eps = 1e-8"
DECAY_CHECK = "w after one step with weight_decay = 0.5"
STEP_SIZE_HINT = "with a constant gradient every step should have size lr"


graded = partial(run_exercises, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


def test_the_known_wrong_submissions_score_as_they_declare():
    assert_wrong_submissions(CHAPTER, load_wrong()[CHAPTER])


def test_the_source_earns_full_marks_and_the_stubs_nothing():
    full_marks({})
    untouched = graded({gid: "raise NotImplementedError()\n" for gid in (
        "hand_step", "adam", "adamw", "simulate_first_moment", "concepts")})
    assert score(untouched) == 0


# --- 1. the hand step ------------------------------------------------------------------------

HAND = {"g1": "30.0", "m1": "3.0", "v1": "0.9", "m1_hat": "30.0", "v1_hat": "900.0",
        "w1": "5 - 0.1 * 30 / 30", "w1_gd": "2.0"}


def hand(**changed):
    return {"hand_step": assignments({**HAND, **changed})}


@pytest.mark.parametrize("changed, words", [
    ({"g1": "10.0"}, "6w, not 2w"),
    ({"m1": "27.0"}, "(1 - beta1) = 0.1"),
    ({"v1": "0.03"}, "v averages the squared gradient"),
    ({"m1_hat": "3.0"}, "divides m1 by 1 - beta1**1"),
    ({"m1_hat": "0.3"}, "it does not multiply"),
    ({"v1_hat": "0.9"}, "divides v1 by 1 - beta2**1"),
    ({"w1": "5 - 0.1 * 3 / 0.9**0.5"}, "without bias correction"),
    ({"w1": "5.1"}, "subtract it"),
    ({"w1_gd": "8.0"}, "do not add it"),
])
def test_hand_step_mistakes_are_named(changed, words):
    assert_fails(graded(hand(**changed), hidden=False), {"test_hand_step": words})


def test_hand_step_in_other_styles():
    styles = {"g1": "6 * 5", "m1": "np.float64(0.1 * 30)", "w1": "4.9", "v1_hat": "30**2"}
    assert failing(graded(hand(**styles), hidden=False)) == {}


# --- 2. Adam -----------------------------------------------------------------------------------

def test_the_pieces_put_together_are_right():
    assert failing(graded(adam())) == {}


ADAM_CELLS = ("test_adam_first_step", "test_adam_eps", "test_adam_many_steps",
              "test_adam_weight_decay", "test_adamw")
STATELESS = adam(start=START.replace("        if self.m is None:\n", "        if True:\n"),
                 t="        self.t = 1\n")
LR_ONCE = adam(head=ADAM_HEAD.replace("        self.t = 0\n", "        self.t = 0\n"
                                                               "        self.lr0 = lr\n"),
               ret=RETURN.replace("self.lr", "self.lr0"))


@pytest.mark.parametrize("name, replace, expected", [
    # a mistake in the core update costs every Adam cell (and AdamW, which reuses Adam)
    ("no bias correction", adam(hats="        m_hat, v_hat = self.m, self.v\n"),
     {"test_adam_first_step": "without bias correction",
      "test_adam_eps": EPS_CHECK, "test_adam_many_steps": "t grows by one",
      "test_adam_weight_decay": DECAY_CHECK, "test_adamw": "fix Adam first"}),
    ("only v corrected", adam(hats="        m_hat = self.m\n"
                                   "        v_hat = self.v / (1 - beta2**self.t)\n"),
     {"test_adam_first_step": "only v was bias-corrected",
      "test_adam_eps": EPS_CHECK, "test_adam_many_steps": STEP_SIZE_HINT,
      "test_adam_weight_decay": DECAY_CHECK, "test_adamw": "fix Adam first"}),
    ("only m corrected", adam(hats="        m_hat = self.m / (1 - beta1**self.t)\n"
                                   "        v_hat = self.v\n"),
     {"test_adam_first_step": "only m was bias-corrected",
      "test_adam_eps": EPS_CHECK, "test_adam_many_steps": STEP_SIZE_HINT,
      "test_adam_weight_decay": DECAY_CHECK, "test_adamw": "fix Adam first"}),
    ("t incremented after the correction", adam(t="", hats=HATS + T),
     dict.fromkeys(ADAM_CELLS, NAN_HINT)),
    # "root mean square" read as one mean over the array: right for one parameter, not for more
    ("v averaged over the parameters",
     adam(moments=MOMENTS.replace("(1 - beta2) * g**2", "(1 - beta2) * np.mean(g**2)")),
     {"test_adam_first_step": "lr against its gradient's sign",
      "test_adam_eps": "look at where eps sits: sqrt(v_hat) + eps, after the correction",
      "test_adam_many_steps": STEP_SIZE_HINT,
      "test_adam_weight_decay": "Adam with weight decay: step 1 differs",
      "test_adamw": "AdamW: step 1 differs"}),
    ("changes params in place", adam(prepare="        p = params\n        g = grads\n",
                                     ret="        p -= self.lr * m_hat / (np.sqrt(v_hat) + "
                                         "self.eps)\n        return p\n"),
     {"test_adam_first_step": "step changed the arrays passed to it",
      "test_adam_eps": "changed the arrays", "test_adam_many_steps": "changed the arrays",
      "test_adam_weight_decay": "changed the arrays"}),
    # a mistake in one part costs that part's cells (and AdamW where it reuses the part)
    ("eps inside the root",
     adam(ret="        return p - self.lr * m_hat / np.sqrt(v_hat + self.eps)\n"),
     {"test_adam_eps": "eps inside the square root"}),
    ("Kingma and Ba's efficient form", EFFICIENT, {"test_adam_eps": "'efficient' form"}),
    ("t frozen at 1", adam(t="        self.t = 1\n"),
     {"test_adam_many_steps": "t grows by one", "test_adam_weight_decay": "step 2 does not",
      "test_adamw": "step 2 does not"}),
    ("m, v and t started afresh at every step", STATELESS,
     {"test_adam_many_steps": "it does not start them afresh",
      "test_adam_weight_decay": "step 2 does not", "test_adamw": "step 2 does not"}),
    ("lr read once", LR_ONCE,
     {"test_adam_many_steps": "read self.lr at every step", "test_adamw": "learning rate changed"}),
    ("bias-corrected moments stored", adam(hats='''        self.m = self.m / (1 - beta1**self.t)
        self.v = self.v / (1 - beta2**self.t)
        m_hat, v_hat = self.m, self.v
'''), {"test_adam_many_steps": STEP_SIZE_HINT, "test_adam_weight_decay": "step 2 does not",
       "test_adamw": "step 2 does not"}),
    ("weight decay ignored", adam(decay=""),
     {"test_adam_weight_decay": "weight_decay was ignored"}),
    ("decoupled decay in Adam", adam(decay="        p = p * (1 - self.lr * self.weight_decay)\n"),
     {"test_adam_weight_decay": "AdamW's decoupled decay"}),
])
def test_adam_mistakes_are_named_and_cost_only_their_cells(name, replace, expected):
    assert_fails(graded(replace), expected)


def test_a_stateless_or_lr_once_adam_fails_a_visible_test():
    for replace in (STATELESS, LR_ONCE):
        assert not graded(replace, hidden=False)["test_adam_many_steps"].passed


ADAM_STYLES = {
    "loops over Python floats, a list returned": '''import math


class Adam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t, self.m, self.v = 0, None, None

    def step(self, params, grads):
        shape = np.shape(params)
        p, g = np.ravel(params).tolist(), np.ravel(grads).tolist()
        if self.m is None:
            self.m, self.v = [0.0] * len(p), [0.0] * len(p)
        self.t += 1
        b1, b2 = self.betas
        out = []
        for i, (pi, gi) in enumerate(zip(p, g)):
            gi = gi + self.weight_decay * pi
            self.m[i] = b1 * self.m[i] + (1 - b1) * gi
            self.v[i] = b2 * self.v[i] + (1 - b2) * gi * gi
            m_hat, v_hat = self.m[i] / (1 - b1**self.t), self.v[i] / (1 - b2**self.t)
            out.append(pi - self.lr * m_hat / (math.sqrt(v_hat) + self.eps))
        return np.reshape(out, shape).tolist()
''',
    "in place on copies, lerp averages, extra state": '''class Adam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.state = {"step": 0, "last_update": None}

    def step(self, params, grads):
        p = np.array(params, dtype=np.float64)
        g = np.array(grads, dtype=np.float64)
        g += self.weight_decay * p
        if "exp_avg" not in self.state:
            self.state["exp_avg"] = np.zeros_like(p)
            self.state["exp_avg_sq"] = np.zeros_like(p)
        self.state["step"] += 1
        t, (b1, b2) = self.state["step"], self.betas
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        m += (1 - b1) * (g - m)
        v += (1 - b2) * (g * g - v)
        denom = np.sqrt(v / (1 - b2**t))
        denom += self.eps
        update = self.lr * (m / (1 - b1**t)) / denom
        self.state["last_update"] = update
        p -= update
        return p
''',
    "torch's own formulation, in torch": '''import math

import torch


class Adam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t, self.exp_avg, self.exp_avg_sq = 0, None, None

    def step(self, params, grads):
        p = torch.tensor(np.asarray(params, dtype=float))
        g = torch.tensor(np.asarray(grads, dtype=float))
        if self.weight_decay != 0:
            g = g.add(p, alpha=self.weight_decay)
        if self.exp_avg is None:
            self.exp_avg, self.exp_avg_sq = torch.zeros_like(p), torch.zeros_like(p)
        self.t += 1
        beta1, beta2 = self.betas
        self.exp_avg.lerp_(g, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.t)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - beta2**self.t)).add_(self.eps)
        return p.addcdiv(self.exp_avg, denom, value=-step_size).numpy()
''',
}


@pytest.mark.parametrize("style", ADAM_STYLES)
def test_adam_in_other_styles_keeps_full_marks(style):
    full_marks({"adam": ADAM_STYLES[style]})


def test_a_sign_step_hard_coded_from_the_first_step_does_not_pass():
    sign = adam(ret="        return p - self.lr * np.sign(g)\n")
    visible = graded(sign, hidden=False)
    assert visible["test_adam_first_step"].passed  # the first step of Adam is lr * sign(g) ...
    assert not visible["test_adam_many_steps"].passed  # ... the later ones are not
    assert not visible["test_adamw"].passed


def test_handing_the_step_to_torch_optim_is_refused():
    delegated = {"adam": ADAM_HEAD + '''        import torch

        p = torch.tensor(np.asarray(params, dtype=float), requires_grad=True)
        optimizer = torch.optim.Adam([p], lr=self.lr, betas=self.betas, eps=self.eps)
        p.grad = torch.tensor(np.asarray(grads, dtype=float))
        optimizer.step()
        return p.detach().numpy()
'''}
    outcomes = graded(delegated, hidden=False)
    assert "calls torch.optim" in outcomes["test_adam_first_step"].message


def test_float32_arithmetic_is_named_and_float32_inputs_work():
    float32 = adam(prepare="        p = np.array(params, dtype=np.float32)\n"
                           "        g = np.array(grads, dtype=np.float32)\n")
    fails = failing(graded(float32))
    assert "test_adam_eps" in fails
    assert all("float32" in message for message in fails.values()), fails
    namespace = {"np": np}
    exec(adam()["adam"], namespace)
    got = namespace["Adam"](lr=0.1).step(np.float32([5.0, 1.0]), np.float32([30.0, -3.0]))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [5.0 - 0.1 * 30 / (30 + 1e-8), 1.0 + 0.1 * 3 / (3 + 1e-8)],
                               rtol=1e-12)


def test_objects_that_only_look_like_answers_earn_nothing():
    liar = {"adam": LIARS + ADAM_HEAD + "        return AlwaysEqual()\n",
            "hand_step": LIARS + "g1 = m1 = v1 = m1_hat = v1_hat = AlwaysEqual()\n"
                                        "w1 = w1_gd = AlwaysEqual()\n",
            "simulate_first_moment": LIARS + "def simulate_first_moment(*args, **kwargs):\n"
                                            "    return AlwaysEqual()\n",
            "concepts": LIARS + lying_str("b") + "\n"
                               "answer_first_step = answer_l2 = Liar('e')\n"
                               "uncorrected_ratio = window_beta2 = AlwaysEqual()\n"}
    outcomes = graded(liar)
    assert score(outcomes) == 0
    assert "should be a number" in outcomes["test_adam_first_step"].message


# --- 3. AdamW ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, body, words", [
    ("no-op", "        return np.array(params, dtype=float)\n", "the weights did not move"),
    ("decay ignored", "        return super().step(params, grads)\n", "weight_decay was ignored"),
    ("decay after the step", "        return super().step(params, grads) * (1 - self.lr * lam)\n",
     "decayed after the Adam step"),
    ("lr missing", "        return super().step(np.asarray(params) * (1 - lam), grads)\n",
     "lr is missing"),
    ("L2 in the gradient", "        p = np.asarray(params, dtype=float)\n"
                           "        return super().step(p, np.asarray(grads) + lam * p)\n",
     "L2 term added to the gradient"),
    ("decay and L2", "        p = np.asarray(params, dtype=float) * (1 - self.lr * lam)\n"
                     "        return super().step(p, np.asarray(grads) + lam * p)\n",
     "AdamW only decays the weights"),
])
def test_adamw_mistakes_are_named_in_the_visible_test(name, body, words):
    outcomes = graded(adamw(body), hidden=False)
    assert_fails(outcomes, {"test_adamw": words})
    assert "fix adam first" not in outcomes["test_adamw"].message.lower()


def test_adamw_with_the_initial_lr_fails_visibly_at_the_lr_change():
    body = ("        if not hasattr(self, 'factor'):\n"
            "            self.factor = 1 - self.lr * lam\n"
            "        return super().step(np.asarray(params) * self.factor, grads)\n")
    outcomes = graded(adamw(body), hidden=False)
    assert_fails(outcomes, {"test_adamw": "learning rate changed from 0.1 to 0.01"})
    assert "the decay factor uses the current lr" in outcomes["test_adamw"].message


@pytest.mark.parametrize("body", [
    # its own full update, not reusing Adam
    '''        p = np.array(params, dtype=float) * (1 - self.lr * lam)
        g = np.array(grads, dtype=float)
        if self.m is None:
            self.m, self.v = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        b1, b2 = self.betas
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat, v_hat = self.m / (1 - b1**self.t), self.v / (1 - b2**self.t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
''',
    "        shrunk = np.multiply(params, 1 - self.lr * lam, dtype=np.float64)\n"
    "        return super().step(shrunk, grads)\n",
    "        shrunk = np.array(params, dtype=float)\n        shrunk *= 1 - self.lr * lam\n"
    "        return list(super().step(shrunk, list(grads)))\n",
])
def test_adamw_in_other_styles_keeps_full_marks(body):
    full_marks(adamw(body))


# --- 4. the simulation -----------------------------------------------------------------------

@pytest.mark.parametrize("body, hidden, words", [
    ('''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(steps, n_runs))
    m, average = grads[0], [grads[0].mean()]
    for t in range(1, steps):
        m = beta * m + (1 - beta) * grads[t]
        average.append(m.mean())
    return np.array(average)
''', False, "start m at 0"),
    ('''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(steps, n_runs))
    m, average = np.zeros(n_runs), []
    for t in range(steps):
        average.append(m.mean())
        m = beta * m + (1 - beta) * grads[t]
    return np.array(average)
''', False, "the first entry should be m_1"),
    # the closed form: no sampling noise, the same for every seed
    ("    return (1 - beta ** np.arange(1, steps + 1)) * grad_mean\n", False, "seeds 0 and 1"),
    # the closed form dressed up with a sprinkle of noise: far less than sampling noise
    ('''    rng = np.random.default_rng(seed)
    return (1 - beta ** np.arange(1, steps + 1)) * grad_mean + 1e-6 * rng.normal(size=steps)
''', True, "hardly differ from the formula"),
    # a fresh, unseeded generator at every call
    ('''    grads = np.random.default_rng().normal(grad_mean, grad_std, size=(steps, n_runs))
    m, average = np.zeros(n_runs), []
    for g in grads:
        m = beta * m + (1 - beta) * g
        average.append(m.mean())
    return np.array(average)
''', True, "the same seed should give the same simulation"),
    # the mean over all runs and steps instead of one average per step
    ('''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(steps, n_runs))
    m, total = np.zeros(n_runs), []
    for g in grads:
        m = beta * m + (1 - beta) * g
        total.append(m)
    return np.full(steps, np.mean(total))
''', False, "expected average m_t"),
])
def test_simulation_mistakes_and_shortcuts_fail(body, hidden, words):
    assert_fails(graded({"simulate_first_moment": SIM_HEAD + body}, hidden=hidden),
                 {"test_simulate_first_moment": words})


@pytest.mark.parametrize("body", [
    # runs as rows, a loop over steps, a list returned
    '''    rng = np.random.default_rng(seed)
    grads = rng.normal(grad_mean, grad_std, size=(n_runs, steps))
    m, average = np.zeros(n_runs), []
    for t in range(steps):
        m += (1 - beta) * (grads[:, t] - m)
        average.append(float(m.mean()))
    return average
''',
    # one run at a time
    '''    rng = np.random.default_rng(seed)
    total = np.zeros(steps)
    for _ in range(n_runs):
        m = 0.0
        for t, g in enumerate(rng.normal(grad_mean, grad_std, size=steps)):
            m = beta * m + (1 - beta) * g
            total[t] += m
    return total / n_runs
''',
    # the weights of the unrolled average applied to real samples
    '''    rng = np.random.default_rng(seed)
    g = rng.normal(grad_mean, grad_std, size=(steps, n_runs)).mean(axis=1)
    t, k = np.arange(1, steps + 1)[:, None], np.arange(1, steps + 1)[None, :]
    weights = np.where(k <= t, (1 - beta) * beta ** (t - k), 0.0)
    return weights @ g
''',
])
def test_simulations_in_other_styles_keep_full_marks(body):
    outcome = graded({"simulate_first_moment": SIM_HEAD + body})["test_simulate_first_moment"]
    assert outcome.passed, outcome.message


# --- 5. concept checks -----------------------------------------------------------------------

@pytest.mark.parametrize("answers, expected", [
    ('answer_first_step = "a"\nuncorrected_ratio = 0.1\nwindow_beta2 = 1000\nanswer_l2 = "a"\n',
     {"test_concept_first_step": "removes the gradient's size",
      "test_concept_uncorrected_ratio": "v_1 is not corrected either",
      "test_concept_window": "that is the window of beta2 = 0.999",
      "test_concept_l2": "AdamW's decoupled decay"}),
    ('answer_first_step = "c"\nuncorrected_ratio = 1 / 0.001**0.5\nwindow_beta2 = 0.05\n'
     'answer_l2 = "c"\n',
     {"test_concept_first_step": "the factors cancel",
      "test_concept_uncorrected_ratio": "without its correction",
      "test_concept_window": "not 1 - beta2", "test_concept_l2": "those weights decay most"}),
    ('answer_first_step = "d"\nuncorrected_ratio = 0.1 / 0.001**0.5\nwindow_beta2 = 20\n'
     'answer_l2 = "d"\n',
     {"test_concept_first_step": "the factor 1 - beta1 is gone",
      "test_concept_l2": "they agree for plain SGD"}),
])
def test_concept_mistakes_are_explained(answers, expected):
    assert_fails(graded({"concepts": answers}, hidden=False), expected)


def test_concepts_accept_other_spellings():
    answers = ('answer_first_step = " B"\nuncorrected_ratio = 3.162\nwindow_beta2 = 20.0\n'
               'answer_l2 = "B "\n')
    assert failing(graded({"concepts": answers}, hidden=False)) == {}
