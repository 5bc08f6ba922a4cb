"""Chapter 6's graded cells are fair, proved by running the exercise notebook with answers
replaced (``tests/exercise_runner.py``, hidden tests included unless said otherwise):

- every named mistake (each ``mistakes=`` entry, each hint) is fed its real mistake, and the
  message it gets is asserted, with the set of cells it costs;
- right answers in other styles (lists and loops, updates in place on copies, ``lerp``-style
  averages, torch's own formulation, extra state) keep full marks;
- shortcuts (a step hard-coded to the first step's size, the uncentered step where the centered
  one is asked, closed forms where a running average is asked) do not pass;
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
from tests.submissions.ch06_rmsprop_adagrad import (
    ADA_HEAD,
    ADA_LR,
    ADA_RETURN,
    ADA_START,
    ADA_SUM,
    DECAY,
    DENOM,
    RETURN,
    RMS_HEAD,
    SIZES_HEAD,
    START,
    TOTAL,
    M,
    V,
    adagrad,
    rmsprop,
)

CHAPTER = "ch06_rmsprop_adagrad"


graded = partial(run_exercises, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


def test_the_known_wrong_submissions_score_as_they_declare():
    assert_wrong_submissions(CHAPTER, load_wrong()[CHAPTER])


def test_the_source_earns_full_marks_and_the_stubs_nothing():
    full_marks({})
    untouched = graded({gid: "raise NotImplementedError()\n" for gid in (
        "hand_step", "rmsprop", "adagrad", "rmsprop_step_sizes", "concepts")})
    assert score(untouched) == 0


# --- 1. the hand step ------------------------------------------------------------------------

HAND = {"g1": "12.0", "v1": "1.44", "w1": "2 - 0.01 * 12 / 1.2", "w1_gd": "1.88"}


def hand(**changed):
    return {"hand_step": assignments({**HAND, **changed})}


@pytest.mark.parametrize("changed, words", [
    ({"g1": "4.0"}, "6w, not 2w"),
    ({"v1": "0.99 * 144"}, "(1 - alpha) = 0.01"),
    ({"v1": "0.01 * 12"}, "v averages the squared gradient"),
    ({"w1": "2 - 0.01 * 12 / 1.44"}, "not by v1"),
    ({"w1": "2 + 0.01 * 12 / 1.2"}, "subtract it"),
    ({"w1_gd": "2 + 0.01 * 12"}, "do not add it"),
])
def test_hand_step_mistakes_are_named(changed, words):
    outcomes = graded(hand(**changed), hidden=False)
    assert_fails(outcomes, {"test_hand_step": words})


def test_hand_step_in_other_styles_and_shapes():
    styles = {"g1": "np.float64(6 * 2)", "v1": "(1 - 0.99) * 12**2", "w1": "1.9",
              "w1_gd": "np.array(2.0) - 0.01 * 12"}
    assert failing(graded(hand(**styles), hidden=False)) == {}
    outcomes = graded(hand(w1="[1.9]"), hidden=False)
    assert_fails(outcomes, {"test_hand_step": "shape"})


# --- 2. RMSprop --------------------------------------------------------------------------------

def test_the_pieces_put_together_are_right():
    assert failing(graded(rmsprop())) == {}


RMSPROP_CELLS = ("test_rmsprop_first_step", "test_rmsprop_eps", "test_rmsprop_many_steps",
                 "test_rmsprop_weight_decay", "test_rmsprop_centered")


ALL_RMSPROP = dict.fromkeys(RMSPROP_CELLS, "expected")
STATELESS = rmsprop(start="", v="        self.v = (1 - self.alpha) * g**2\n"
                                "        self.m = (1 - self.alpha) * g\n",
                    denom=DENOM.replace("    " + M, ""))
LR_ONCE = rmsprop(head=RMS_HEAD.replace("        self.lr = lr\n",
                                        "        self.lr = lr\n        self.lr0 = lr\n"),
                  ret=RETURN.replace("self.lr", "self.lr0"))
V_START = "v should start at 0"


@pytest.mark.parametrize("name, replace, expected", [
    # a mistake in the core update costs every RMSprop cell; each cell names it where it can
    ("alpha 0.999", rmsprop(v="        self.v = 0.999 * self.v + 0.001 * g**2\n"),
     {**ALL_RMSPROP, "test_rmsprop_first_step": "decays v with 0.999",
      "test_rmsprop_eps": "decays v with 0.999", "test_rmsprop_many_steps": "self.alpha",
      "test_rmsprop_weight_decay": "decays v with 0.999",
      "test_rmsprop_centered": "both moving averages with alpha"}),
    ("v starts at g²", rmsprop(start=START.replace("self.v = np.zeros_like(p)", "self.v = g**2")
                               + "        else:\n    " + V, v=""),
     {**ALL_RMSPROP, "test_rmsprop_first_step": V_START, "test_rmsprop_eps": V_START,
      "test_rmsprop_many_steps": V_START, "test_rmsprop_weight_decay": V_START}),
    ("Adam's bias correction on v",
     rmsprop(start=START + "            self.t = 0\n", v=V + "        self.t += 1\n",
             denom=DENOM.replace("np.sqrt(self.v)", "np.sqrt(self.v / (1 - self.alpha**self.t))")),
     {"test_rmsprop_first_step": "bias-corrected v", "test_rmsprop_eps": V_START,
      "test_rmsprop_many_steps": V_START, "test_rmsprop_weight_decay": V_START}),
    ("alpha and 1 - alpha swapped",
     rmsprop(v="        self.v = (1 - self.alpha) * self.v + self.alpha * g**2\n"),
     {**ALL_RMSPROP, "test_rmsprop_first_step": "alpha and 1 - alpha are swapped"}),
    ("divides by v", rmsprop(denom=DENOM.replace("np.sqrt(self.v)", "self.v")),
     {"test_rmsprop_first_step": "not by v", "test_rmsprop_eps": "not by v",
      "test_rmsprop_many_steps": "expected", "test_rmsprop_weight_decay": "not by v"}),
    ("one v for all parameters",
     rmsprop(v="        self.v = self.alpha * self.v + (1 - self.alpha) * np.mean(g**2)\n"),
     {**ALL_RMSPROP, "test_rmsprop_first_step": "10 lr against its gradient's sign",
      "test_rmsprop_eps": "one v per parameter"}),
    ("changes params in place", rmsprop(prepare="        p = params\n        g = grads\n",
                                        ret="        p -= self.lr * g / denom\n"
                                            "        return p\n"),
     dict.fromkeys(RMSPROP_CELLS, "changed the arrays passed to it")),
    # a mistake in one part costs that part's cells only
    ("eps inside the root", rmsprop(denom=DENOM.replace("np.sqrt(self.v) + self.eps",
                                                        "np.sqrt(self.v + self.eps)")),
     {"test_rmsprop_eps": "eps inside the square root"}),
    ("eps inside and outside the root",
     rmsprop(denom=DENOM.replace("np.sqrt(self.v) + self.eps",
                                 "np.sqrt(self.v + self.eps) + self.eps")),
     {"test_rmsprop_eps": "use sqrt(v) + eps"}),
    ("v not kept", STATELESS,
     {"test_rmsprop_many_steps": "carries over between steps",
      "test_rmsprop_weight_decay": "step 2 does not",
      "test_rmsprop_centered": "keep m and v between steps"}),
    ("lr read once", LR_ONCE, {"test_rmsprop_many_steps": "read self.lr at every step"}),
    ("weight decay ignored", rmsprop(decay=""),
     {"test_rmsprop_weight_decay": "weight_decay was ignored"}),
    ("weight decay after v", rmsprop(decay="", v=V + DECAY),
     {"test_rmsprop_weight_decay": "before the decay was added"}),
    ("decoupled weight decay", rmsprop(
        decay="        p = p * (1 - self.lr * self.weight_decay)\n"),
     {"test_rmsprop_weight_decay": "AdamW's decoupled decay"}),
    ("uncentered when centered", rmsprop(denom="        denom = np.sqrt(self.v) + self.eps\n"),
     {"test_rmsprop_centered": "that is the uncentered step"}),
    ("m updated after the denominator", rmsprop(denom=DENOM.replace("    " + M, "").replace(
        "        else:\n", "            self.m = self.alpha * self.m + (1 - self.alpha) * g\n"
                          "        else:\n")),
     {"test_rmsprop_centered": "with m updated before you use it"}),
    ("sqrt(v) - m", rmsprop(denom=DENOM.replace("np.sqrt(self.v - self.m**2)",
                                                "np.sqrt(self.v) - self.m")),
     {"test_rmsprop_centered": "not sqrt(v) - m"}),
    ("v - m", rmsprop(denom=DENOM.replace("self.m**2", "self.m")),
     {"test_rmsprop_centered": "subtract the square of m"}),
    ("m is g", rmsprop(denom=DENOM.replace("self.v - self.m**2", "self.v - g**2")),
     {"test_rmsprop_centered": "went negative"}),
])
def test_rmsprop_mistakes_are_named_and_cost_only_their_cells(name, replace, expected):
    assert_fails(graded(replace), expected)


def test_a_stateless_or_lr_once_rmsprop_fails_a_visible_test():
    for replace in (STATELESS, LR_ONCE):
        assert not graded(replace, hidden=False)["test_rmsprop_many_steps"].passed


def test_rmsprop_visible_tests_catch_the_decay_mistakes():
    for decay_mistake in (rmsprop(decay=""), rmsprop(decay="", v=V + DECAY)):
        assert not graded(decay_mistake, hidden=False)["test_rmsprop_weight_decay"].passed


RMSPROP_STYLES = {
    "loops over Python floats, returns a list reshaped": '''import math


class RMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, centered=False):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.centered = weight_decay, centered
        self.v = self.m = None

    def step(self, params, grads):
        shape = np.shape(params)
        p = [float(x) for x in np.ravel(params)]
        g = [float(x) for x in np.ravel(grads)]
        if self.v is None:
            self.v, self.m = [0.0] * len(p), [0.0] * len(p)
        out = []
        for i in range(len(p)):
            gi = g[i] + self.weight_decay * p[i]
            self.v[i] = self.alpha * self.v[i] + (1 - self.alpha) * gi * gi
            variance = self.v[i]
            if self.centered:
                self.m[i] = self.alpha * self.m[i] + (1 - self.alpha) * gi
                variance -= self.m[i] ** 2
            out.append(p[i] - self.lr * gi / (math.sqrt(variance) + self.eps))
        return np.reshape(out, shape).tolist()
''',
    "np.sqrt then += eps in place, lerp averages, extra state": '''class RMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, centered=False):
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.centered = centered
        self.state = {"step": 0, "history": []}

    def step(self, params, grads):
        p = np.array(params, dtype=np.float64)
        g = np.array(grads, dtype=np.float64)
        g += self.weight_decay * p
        if "square_avg" not in self.state:
            self.state["square_avg"] = np.zeros_like(p)
            self.state["grad_avg"] = np.zeros_like(p)
        self.state["step"] += 1
        v, m = self.state["square_avg"], self.state["grad_avg"]
        v += (1 - self.alpha) * (g * g - v)
        if self.centered:
            m += (1 - self.alpha) * (g - m)
            denom = np.sqrt(v - m * m)
        else:
            denom = np.sqrt(v)
        denom += self.eps
        p -= self.lr * g / denom
        self.state["history"].append(p.copy())
        return p
''',
    "torch's own formulation, in torch": '''import torch


class RMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, centered=False):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.centered = weight_decay, centered
        self.square_avg = self.grad_avg = None

    def step(self, params, grads):
        p = torch.tensor(np.asarray(params, dtype=float))
        g = torch.tensor(np.asarray(grads, dtype=float))
        if self.weight_decay != 0:
            g = g.add(p, alpha=self.weight_decay)
        if self.square_avg is None:
            self.square_avg, self.grad_avg = torch.zeros_like(p), torch.zeros_like(p)
        self.square_avg.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        if self.centered:
            self.grad_avg.lerp_(g, 1 - self.alpha)
            avg = self.square_avg.addcmul(self.grad_avg, self.grad_avg, value=-1).sqrt_()
        else:
            avg = self.square_avg.sqrt()
        avg = avg.add_(self.eps)
        return p.addcdiv(g, avg, value=-self.lr).numpy()
''',
}


@pytest.mark.parametrize("style", RMSPROP_STYLES)
def test_rmsprop_in_other_styles_keeps_full_marks(style):
    full_marks({"rmsprop": RMSPROP_STYLES[style]})


def test_rmsprop_shortcuts_do_not_pass():
    # every step 10 lr against the gradient's sign: the first step's size, hard-coded
    sign_step = rmsprop(ret="        return p - 10 * self.lr * np.sign(g)\n")
    outcomes = graded(sign_step)
    assert {"test_rmsprop_eps", "test_rmsprop_many_steps",
            "test_rmsprop_centered"} <= set(failing(outcomes))
    # the centered option accepted and ignored
    ignored = rmsprop(denom="        denom = np.sqrt(self.v) + self.eps\n")
    assert not graded(ignored, hidden=False)["test_rmsprop_centered"].passed


def test_handing_the_step_to_torch_optim_is_refused():
    delegated = {"rmsprop": RMS_HEAD + '''        import torch

        p = torch.tensor(np.asarray(params, dtype=float), requires_grad=True)
        optimizer = torch.optim.RMSprop([p], lr=self.lr, alpha=self.alpha, eps=self.eps)
        p.grad = torch.tensor(np.asarray(grads, dtype=float))
        optimizer.step()
        return p.detach().numpy()
'''}
    outcomes = graded(delegated, hidden=False)
    assert "calls torch.optim" in outcomes["test_rmsprop_first_step"].message


def test_float32_arithmetic_is_named_and_float32_inputs_work():
    float32 = rmsprop(prepare="        p = np.array(params, dtype=np.float32)\n"
                              "        g = np.array(grads, dtype=np.float32)\n")
    fails = failing(graded(float32))
    assert "test_rmsprop_first_step" in fails
    assert all("float32" in message for message in fails.values()), fails
    namespace = {"np": np}
    exec(rmsprop()["rmsprop"], namespace)
    got = namespace["RMSprop"](lr=0.01).step(np.float32([2.0, 1.0]), np.float32([12.0, -3.0]))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [2.0 - 0.1 * 12 / (12 + 1e-7), 1.0 + 0.1 * 3 / (3 + 1e-7)],
                               rtol=1e-12)


def test_objects_that_only_look_like_answers_earn_nothing():
    liar = {"rmsprop": LIARS + RMS_HEAD + "        return AlwaysEqual()\n",
            "hand_step": LIARS + "g1 = v1 = w1 = w1_gd = AlwaysEqual()\n",
            "concepts": LIARS + lying_str("c") + "\n"
                               "first_step_ratio = AlwaysEqual()\nanswer_adagrad = Liar('e')\n"
                               "answer_sqrt = Liar('e')\n"}
    outcomes = graded(liar)
    for grade_id in ("test_hand_step", *RMSPROP_CELLS, "test_concept_first_step",
                     "test_concept_adagrad", "test_concept_sqrt"):
        assert not outcomes[grade_id].passed, grade_id
    assert "should be a number" in outcomes["test_rmsprop_first_step"].message


# --- 3. AdaGrad --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, replace, expected", [
    ("moving average", adagrad(acc="        self.sum = 0.99 * self.sum + 0.01 * g**2\n"),
     {"test_adagrad_steps": "moving average of g²", "test_adagrad_options": "expected"}),
    ("sum not kept", adagrad(acc="        total = self.initial_accumulator_value + g**2\n",
                             ret=ADA_RETURN.replace("self.sum", "total")),
     {"test_adagrad_steps": "sum of all squared gradients", "test_adagrad_options": "expected"}),
    ("eps inside the root", adagrad(ret=ADA_RETURN.replace("np.sqrt(self.sum) + self.eps",
                                                           "np.sqrt(self.sum + self.eps)")),
     {"test_adagrad_steps": "eps inside the square root"}),
    ("lr decay from t", adagrad(lr=ADA_LR.replace("(self.t - 1)", "self.t")),
     {"test_adagrad_options": "uses t - 1"}),
    ("lr decay multiplies",
     adagrad(lr="        lr = self.lr * (1 - (self.t - 1) * self.lr_decay)\n"),
     {"test_adagrad_options": "it does not multiply"}),
    ("lr decay ignored", adagrad(lr="        lr = self.lr\n"),
     {"test_adagrad_options": "lr_decay was ignored"}),
    ("initial value ignored", adagrad(start=ADA_START.replace(
        "np.full_like(p, self.initial_accumulator_value)", "np.zeros_like(p)")),
     {"test_adagrad_options": "initial_accumulator_value was ignored"}),
    ("weight decay ignored", adagrad(decay=""), {"test_adagrad_options": "weight_decay was"}),
    ("weight decay after the sum", adagrad(decay="", acc=ADA_SUM + DECAY),
     {"test_adagrad_options": "before the decay was added"}),
    ("lr read once", adagrad(head=ADA_HEAD.replace("        self.lr = lr\n",
                                                   "        self.lr = lr\n        self.lr0 = lr\n"),
                             lr=ADA_LR.replace("self.lr /", "self.lr0 /")),
     {"test_adagrad_steps": "read self.lr at every step"}),
])
def test_adagrad_mistakes_are_named(name, replace, expected):
    assert_fails(graded(replace), expected)


def test_adagrad_in_other_styles_keeps_full_marks():
    # the decay counted before t grows; the sum kept in place; a list returned
    styled = adagrad(start='''        if self.sum is None:
            self.sum = np.zeros_like(p) + self.initial_accumulator_value
''', acc="        self.sum += g * g\n",
        lr="        lr = self.lr / (1 + self.t * self.lr_decay)\n        self.t += 1\n",
        ret="        return list(p - lr * g / (np.sqrt(self.sum) + self.eps))\n")
    # a list of a 2-D array is a list of rows, which is fine too
    full_marks(styled)


# --- 4. step sizes ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    ('''    grads = np.asarray(grads, dtype=float)
    v, sizes = np.zeros(grads.shape[1]), []
    for g in grads:
        v = alpha * v + (1 - alpha) * g**2
        sizes.append(lr / (v + eps))
    return np.array(sizes)
''', "not by v"),
    ('''    grads = np.asarray(grads, dtype=float)
    v, sizes = np.zeros(grads.shape[1]), []
    for g in grads:
        sizes.append(lr / (np.sqrt(v) + eps))
        v = alpha * v + (1 - alpha) * g**2
    return np.array(sizes)
''', "update v with each row first"),
    ('''    grads = np.asarray(grads, dtype=float)
    v, sizes = np.zeros(grads.shape[1]), []
    for g in grads:
        v = 0.99 * v + 0.01 * g**2
        sizes.append(lr / (np.sqrt(v) + eps))
    return np.array(sizes)
''', "use the alpha you are given"),
])
def test_step_size_mistakes_are_named(body, words):
    assert_fails(graded({"rmsprop_step_sizes": SIZES_HEAD + body}, hidden=False),
                 {"test_rmsprop_step_sizes": words})


def test_step_sizes_as_a_list_of_rows_keep_full_marks_and_a_closed_form_does_not():
    rows = SIZES_HEAD + '''    v, sizes = [0.0] * len(grads[0]), []
    for g in grads:
        v = [alpha * vi + (1 - alpha) * float(gi) ** 2 for vi, gi in zip(v, g)]
        sizes.append([lr / (vi**0.5 + eps) for vi in v])
    return sizes
'''
    assert graded({"rmsprop_step_sizes": rows})["test_rmsprop_step_sizes"].passed
    # v_t = (1 - alpha^t) g² holds only for a constant gradient: right on the visible test only
    closed = SIZES_HEAD + '''    grads = np.asarray(grads, dtype=float)
    t = np.arange(1, len(grads) + 1)[:, None]
    return lr / (np.sqrt(1 - alpha**t) * np.abs(grads) + eps)
'''
    assert graded({"rmsprop_step_sizes": closed}, hidden=False)["test_rmsprop_step_sizes"].passed
    assert not graded({"rmsprop_step_sizes": closed})["test_rmsprop_step_sizes"].passed


# --- 5. concept checks -----------------------------------------------------------------------

@pytest.mark.parametrize("answers, expected", [
    ('first_step_ratio = 1\nanswer_adagrad = "b"\nanswer_sqrt = "b"\n',
     {"test_concept_first_step": "not g²", "test_concept_adagrad": "not by t",
      "test_concept_sqrt": "about units"}),
    ('first_step_ratio = 100\nanswer_adagrad = "a"\nanswer_sqrt = "c"\n',
     {"test_concept_first_step": "square root of 1 - alpha",
      "test_concept_adagrad": "keeps growing", "test_concept_sqrt": "never negative"}),
    ('first_step_ratio = 10\nanswer_adagrad = "d"\nanswer_sqrt = "d"\n',
     {"test_concept_adagrad": "not a decaying average",
      "test_concept_sqrt": "cost has nothing to do with it"}),
])
def test_concept_mistakes_are_explained(answers, expected):
    assert_fails(graded({"concepts": answers}, hidden=False), expected)


def test_concepts_accept_other_spellings():
    answers = 'first_step_ratio = np.float64(10.0)\nanswer_adagrad = " C "\nanswer_sqrt = "A"\n'
    assert failing(graded({"concepts": answers}, hidden=False)) == {}
