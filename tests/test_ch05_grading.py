"""Chapter 5's grading, proved fair: every named mistake gets its message, right answers written in
other styles keep full marks, shortcuts and lying objects earn nothing.

Each case replaces solution cells of ``source/ch05_momentum/exercises.ipynb`` and runs it
in-process (``tests/exercise_runner.py``), hidden tests included, as nbgrader scores it. The
expected values in the notebook's ``mistakes=`` lists are not copied here: a case writes the
mistake as code, and the test asserts that the message the notebook gives for it is the one for
that mistake. ``test_every_named_mistake_is_reached`` then proves that no message of the notebook
is left that no mistake here produces.
"""

import ast
import re

import nbformat
import pytest

from tests.exercise_runner import SOURCE, cell_source, failing, run_exercises, score
from tests.submissions.ch05_momentum import (
    DECAY,
    DIRECTION,
    FIRST,
    HEAD,
    LATER,
    SGD_CELLS,
    SGD_POINTS,
    SGD_VELOCITY_FORM,
    SGD_WRAPPING_TORCH,
    TOTAL,
    WRONG,
    sgd,
    steps_cell,
)

CHAPTER = "ch05_momentum"

_RUNS = {}


def outcomes(replace, hidden=True):
    """The notebook's outcomes with ``replace``; each case runs once per test process."""
    key = (tuple(sorted(replace.items())), hidden)
    if key not in _RUNS:
        _RUNS[key] = run_exercises(CHAPTER, replace, hidden=hidden)
    return _RUNS[key]


# --- the source, and right answers in other styles ------------------------------------------------

def test_the_source_earns_full_marks_quietly():
    got = outcomes({})
    assert failing(got) == {} and score(got) == TOTAL


RIGHT = {
    "returns_lists": sgd(ret="        return (p - self.lr * g).tolist()\n"),
    "python_floats_in_place_on_copies": {"sgd": '''class SGD:
    """Works element by element on Python floats, in place on its own copies, keeps a history."""

    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.buffers = None
        self.n_steps = 0
        self.lr_history = []

    def step(self, params, grads):
        shape = np.shape(params)
        p = [float(x) for x in np.ravel(params)]
        g = [float(x) for x in np.ravel(grads)]
        for i in range(len(p)):
            g[i] += self.weight_decay * p[i]
        if self.momentum:
            if self.buffers is None:
                self.buffers = list(g)
            else:
                for i in range(len(g)):
                    self.buffers[i] *= self.momentum
                    self.buffers[i] += (1 - self.dampening) * g[i]
            if self.nesterov:
                g = [gi + self.momentum * bi for gi, bi in zip(g, self.buffers)]
            else:
                g = list(self.buffers)
        for i in range(len(p)):
            p[i] -= self.lr * g[i]
        self.n_steps += 1
        self.lr_history.append(self.lr)
        return np.reshape(p, shape)
'''},
    "velocity_sign_convention_returning_lists": {"sgd": SGD_VELOCITY_FORM},
    "nesterov_from_two_buffers": sgd(
        first='''        if self.momentum:
            previous = np.zeros_like(g) if self.buf is None else self.buf
            if self.buf is None:
                self.buf = g.copy()
''',
        direction=("            g = ((1 + self.momentum) * self.buf - self.momentum * previous"
                   " if self.nesterov else self.buf)\n")),
    "while_loop_float_count": steps_cell('''    w, k = list(start), 0.0
    while ravine.f(np.array(w)) >= tol:
        if k == max_steps:
            return None
        w = optimizer.step(np.array(w), ravine.grad(np.array(w)))
        k += 1
    return k
'''),
    "numpy_integer_count": steps_cell('''    w = np.asarray(start, dtype=float)
    losses = [ravine.f(w)]
    while losses[-1] >= tol and len(losses) <= max_steps:
        w = optimizer.step(w, ravine.grad(w))
        losses.append(ravine.f(w))
    below = np.flatnonzero(np.array(losses) < tol)
    return below[0] if below.size else None
'''),
    "answers_in_other_types": {"concepts": '''window_099 = np.float64(100)
answer_limit = " C"
answer_forms = "B "
lr_edge = 3 / 50
beta_kappa_100 = np.float32(81 / 121)
'''},
}


@pytest.mark.parametrize("name", RIGHT)
def test_right_answers_in_other_styles_keep_full_marks(name):
    got = outcomes(RIGHT[name])
    assert failing(got) == {} and score(got) == TOTAL


# --- named mistakes: each gets its message --------------------------------------------------------

MISTAKES = {
    # the known-wrong submissions of the round trip, then more
    **{wrong.name: (wrong.replace, wrong.fails) for wrong in WRONG if wrong.fails},
    # hand steps: each value is what the slip gives, worked out as the student would
    "hand_slips": ({"hand_steps": "g1 = 10.0\nb1 = 0.1 * 20\nw1 = 10 + 0.1 * 20\ng2 = 16.0\n"
                                  "b2 = 0.9 * 20 + 0.1 * 16\nw2 = 8 - 0.1 * 16\nw2_gd = 4.6\n"},
                   {"test_hand_steps": "derivative of w² is 2w"}),
    "hand_b1_average": ({"hand_steps": "g1 = 20.0\nb1 = (1 - 0.9) * g1\nw1 = 8.0\ng2 = 16.0\n"
                                       "b2 = 34.0\nw2 = 4.6\nw2_gd = 6.4\n"},
                        {"test_hand_steps": "not (1 - mu) * g1"}),
    "hand_uphill": ({"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 10 + 0.1 * b1\ng2 = 16.0\n"
                                   "b2 = 34.0\nw2 = 4.6\nw2_gd = 6.4\n"},
                    {"test_hand_steps": "subtract it"}),
    "hand_b2_average": ({"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\n"
                                       "b2 = 0.9 * b1 + (1 - 0.9) * g2\nw2 = 4.6\nw2_gd = 6.4\n"},
                        {"test_hand_steps": "average form"}),
    "hand_b2_forgets_buffer": ({"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\n"
                                              "b2 = g2\nw2 = 4.6\nw2_gd = 6.4\n"},
                               {"test_hand_steps": "keeps mu times the old buffer"}),
    "hand_w2_plain": ({"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\nb2 = 34.0\n"
                                     "w2 = w1 - 0.1 * g2\nw2_gd = 6.4\n"},
                      {"test_hand_steps": "the second step uses b2"}),
    "hand_w2_gd_is_momentum": ({"hand_steps": "g1 = 20.0\nb1 = 20.0\nw1 = 8.0\ng2 = 16.0\n"
                                              "b2 = 34.0\nw2 = 4.6\nw2_gd = 8 - 0.1 * 34\n"},
                               {"test_hand_steps": "that is the momentum run"}),
    # SGD: the first buffer, the sign, the state, the learning rate
    "first_buffer_averaged": (sgd(first=FIRST.replace("g.copy()", "(1 - self.momentum) * g")),
                              {"test_momentum_first_steps": "not (1 - mu) * g",
                               "test_momentum_lr_drop": "expected", "test_dampening": "expected",
                               "test_sgd_weight_decay": "expected", "test_nesterov": "expected"}),
    "new_gradient_subtracted": (sgd(later=LATER.replace("+ (1 - self.dampening) * g",
                                                        "- (1 - self.dampening) * g")),
                                {"test_momentum_first_steps": "not mu * b - g",
                                 "test_momentum_lr_drop": "expected",
                                 "test_dampening": "the new gradient is added to the buffer",
                                 "test_sgd_weight_decay": "expected",
                                 "test_nesterov": "update the buffer first"}),
    "old_buffer_negated": (sgd(later=LATER.replace("self.momentum * self.buf",
                                                   "-self.momentum * self.buf")),
                           {"test_momentum_first_steps": "not -mu * b + g",
                            "test_momentum_lr_drop": "expected",
                            "test_dampening": "the old buffer keeps its sign",
                            "test_sgd_weight_decay": "expected",
                            "test_nesterov": "update the buffer first"}),
    # SGD: dampening, weight decay
    "dampening_ignored": (sgd(later=LATER.replace("(1 - self.dampening) * g", "g")),
                          {"test_dampening": "dampening was ignored"}),
    "weight_decay_only_without_momentum": (
        sgd(decay="        if self.weight_decay and not self.momentum:\n"
                  "            g = g + self.weight_decay * p\n"),
        {"test_sgd_weight_decay": "ignored when momentum is on"}),
    "weight_decay_decoupled": (sgd(decay="        p = p * (1 - self.lr * self.weight_decay)\n"),
                               {"test_sgd_weight_decay": "before it enters the buffer"}),
    # Nesterov
    "nesterov_ignored": (sgd(direction="            g = self.buf\n"),
                         {"test_nesterov": "that is plain momentum"}),
    "nesterov_mu_missing": (
        sgd(direction=DIRECTION.replace("self.momentum * self.buf", "self.buf")),
        {"test_nesterov": "the factor mu is missing"}),
    "nesterov_look_ahead_without_the_new_gradient": (sgd(
        first=FIRST.replace("        if self.momentum:\n", "        if self.momentum:\n"
                            "            old = self.buf\n"),
        direction="            g = (g + self.momentum * (self.buf if old is None else "
                  "self.momentum * old)) if self.nesterov else self.buf\n"),
        {"test_nesterov": "update the buffer first"}),
    # plain steps
    "plain_step_uphill": (sgd(decay=DECAY + "        if not self.momentum:\n"
                                            "            return p + self.lr * g\n"),
                          {"test_momentum_first_steps": "return params - lr * grads",
                           "test_sgd_weight_decay": "went uphill"}),
    "plain_step_missing": (sgd(decay=DECAY + "        if not self.momentum:\n"
                                             "            return p\n"),
                           {"test_momentum_first_steps": "plain gradient descent",
                            "test_sgd_weight_decay": "expected"}),
    # steps to converge
    "steps_one_too_few": (steps_cell('''    w = np.array(start, dtype=float)
    for k in range(1, max_steps + 1):
        w = optimizer.step(w, ravine.grad(w))
        if ravine.f(w) < tol:
            return k - 1
    return None
'''), {"test_steps_to_converge": "one step too few"}),
    "steps_returns_max_steps": (steps_cell('''    w = np.array(start, dtype=float)
    for k in range(max_steps + 1):
        if ravine.f(w) < tol:
            return k
        w = optimizer.step(w, ravine.grad(w))
    return max_steps
'''), {"test_steps_to_converge": "return None"}),
    "steps_always_take_one": (steps_cell('''    w = np.array(start, dtype=float)
    for k in range(1, max_steps + 1):
        w = optimizer.step(w, ravine.grad(w))
        if ravine.f(w) < tol:
            return k
    return None
'''), {"test_steps_to_converge": "needs 0 steps, not 1"}),
    # concept checks
    "concepts_first_slips": ({"concepts": 'window_099 = 0.01\nanswer_limit = "a"\n'
                                          'answer_forms = "a"\nlr_edge = 2 / 50\n'
                                          'beta_kappa_100 = 9 / 11\n'},
                             {"test_concept_window": "not 1 - mu",
                              "test_concept_limit": "plain gradient descent",
                              "test_concept_forms": "the buffer still holds the old lr",
                              "test_concept_lr_edge": "plain gradient descent's bound",
                              "test_concept_tuned_beta": "mu is its square"}),
    "concepts_second_slips": ({"concepts": 'window_099 = 1 / (1 - 0.9)\nanswer_limit = "b"\n'
                                           'answer_forms = "c"\nlr_edge = (1 + 0.5) / 50\n'
                                           'beta_kappa_100 = (100 - 1) / (100 + 1)\n'},
                              {"test_concept_window": "the window of mu = 0.9",
                               "test_concept_limit": "the buffer adds up",
                               "test_concept_forms": "v = lr * b",
                               "test_concept_lr_edge": "the factor 2 is missing",
                               "test_concept_tuned_beta": "gradient descent's rate"}),
    "concepts_third_slips": ({"concepts": 'window_099 = 100\nanswer_limit = "d"\n'
                                          'answer_forms = "d"\nlr_edge = 2 * (1 - 0.5) / 50\n'
                                          'beta_kappa_100 = ((100 - 1) / (100 + 1)) ** 2\n'},
                             {"test_concept_limit": "converges for mu < 1",
                              "test_concept_forms": "not where lr sits",
                              "test_concept_lr_edge": "1 + mu, not 1 - mu",
                              "test_concept_tuned_beta": "not kappa"}),
}


@pytest.mark.parametrize("wrong", WRONG, ids=[wrong.name for wrong in WRONG])
def test_the_round_trips_known_wrong_submissions_score_the_same_here(wrong):
    assert score(outcomes(wrong.replace)) == wrong.score


@pytest.mark.parametrize("name", MISTAKES)
def test_a_named_mistake_fails_exactly_its_cells_with_its_message(name):
    replace, expected = MISTAKES[name]
    got = failing(outcomes(replace))
    assert set(got) == set(expected), got
    for cell, words in expected.items():
        assert words in got[cell], (cell, got[cell])


def test_changing_params_in_place_is_named_first_in_every_cell():
    # the student's first values are right; the tests must say what is wrong before any value
    in_place = sgd(head=HEAD.replace("p = np.array(params, dtype=float)", "p = params"),
                   ret="        p -= self.lr * g\n        return p\n")
    got = failing(outcomes(in_place))
    assert set(got) == set(SGD_CELLS)
    for message in got.values():
        assert message.startswith("AssertionError: step changed the arrays passed to it"), message
    assert score(outcomes(in_place)) == TOTAL - SGD_POINTS


def test_float32_is_named_before_grading_and_loses_the_sgd_points():
    single = sgd(head=HEAD.replace("dtype=float)", "dtype=np.float32)"),
                 ret="        return (p - np.float32(self.lr) * g).astype(np.float32)\n")
    # the visible plain step is checked to 12 digits: make check already names float32
    visible = failing(outcomes(single, hidden=False))
    assert set(visible) == {"test_momentum_first_steps"}, visible
    assert "a step without momentum" in visible["test_momentum_first_steps"]
    assert "float32" in visible["test_momentum_first_steps"]
    got = failing(outcomes(single))
    assert set(got) == set(SGD_CELLS)
    for cell, message in got.items():
        assert "float32" in message and "dtype=float" in message, message
        if cell != "test_momentum_first_steps":  # the others fail in their hidden steps
            assert "step 1 differs:" in message and "does not" not in message, message


def test_the_check_same_steps_messages_read_well():
    # a Nesterov that steps along the old buffer after the learning-rate drop only: "step 41"
    late = sgd(direction=DIRECTION.replace("g + self.momentum * self.buf",
                                           "(g + self.momentum * self.buf) * (self.lr / 0.1 "
                                           "if self.lr < 0.1 else 1)"))
    message = failing(outcomes(late))["test_nesterov"]
    assert "steps 1 to 40 agree, step 41 (the first step after the learning rate changed from " \
           "0.1 to 0.01) does not" in message, message


# --- shortcuts and lying objects earn nothing ---------------------------------------------------

TORCH_WRAPPERS = {
    "torch_optim_sgd": SGD_WRAPPING_TORCH,
    "course_torch_optimizer_built_early": '''import torch
from course.checks import TorchOptimizer


class SGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self.inner = TorchOptimizer(torch.optim.SGD, lr=lr, momentum=momentum,
                                    dampening=dampening, nesterov=nesterov,
                                    weight_decay=weight_decay)
        self.inner.step(np.zeros(1), np.zeros(1))  # the torch optimizer is built before any test
        self.lr = lr

    def step(self, params, grads):
        self.inner.lr = self.lr
        return self.inner.step(params, grads)
''',
}


@pytest.mark.parametrize("name", TORCH_WRAPPERS)
def test_handing_the_update_to_torch_optim_earns_no_sgd_points(name):
    got = outcomes({"sgd": TORCH_WRAPPERS[name]})
    assert set(failing(got)) == set(SGD_CELLS)
    for message in failing(got).values():
        assert "calls torch.optim" in message, message
    assert score(got) == TOTAL - SGD_POINTS


SHORTCUTS = {
    "hard_coded_counts": steps_cell('''    if not np.any(start):
        return 0
    return 126 if max_steps >= 126 else None
'''),
    "gradient_descent_closed_form": steps_cell('''    # plain GD's closed form
    # (whatever the optimizer)
    lr = optimizer.lr
    for k in range(max_steps + 1):
        w1, w2 = start[0] * (1 - 2 * lr) ** k, start[1] * (1 - 50 * lr) ** k
        if w1**2 + 25 * w2**2 < tol:
            return k
    return None
'''),
}


SHORTCUT_MESSAGES = {
    "hard_coded_counts": "got 126: run the optimizer you are given, from start, and count its "
                         "steps",
    # the closed form of gradient descent overflows on the hidden momentum run (|1 - 50 lr| > 1)
    "gradient_descent_closed_form": "OverflowError: (34, 'Numerical result out of range')",
}


@pytest.mark.parametrize("name", SHORTCUTS)
def test_a_shortcut_for_the_step_count_passes_the_visible_test_but_earns_nothing(name):
    assert failing(outcomes(SHORTCUTS[name], hidden=False)) == {}
    got = failing(outcomes(SHORTCUTS[name]))
    assert set(got) == {"test_steps_to_converge"}
    assert SHORTCUT_MESSAGES[name] in got["test_steps_to_converge"]


LIAR = '''class Liar(float):
    """Equal to everything, true, and a different number each time it is read."""
    reads = 0

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False  # noqa: E731
    __hash__ = float.__hash__

    def __float__(self):
        Liar.reads += 1
        return 1e9 * Liar.reads

    def __index__(self):
        return 126

    def __array__(self, dtype=None, copy=None):
        return np.array([8.0])


class LyingText(str):
    def strip(self, *args):
        return "c"

    def lower(self):
        return "c"

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__
'''


def test_lying_objects_earn_nothing():
    got = outcomes({
        "hand_steps": LIAR + "g1 = b1 = w1 = g2 = b2 = w2 = w2_gd = Liar(0.5)\n",
        "sgd": LIAR + sgd(ret="        return Liar(0.5)\n")["sgd"],
        "steps_to_converge": LIAR + "def steps_to_converge(optimizer, start, tol=1e-6, "
                                    "max_steps=10_000):\n    return Liar(0.5)\n",
        "concepts": LIAR + 'window_099 = lr_edge = beta_kappa_100 = Liar(0.5)\n'
                           'answer_limit = LyingText("x")\nanswer_forms = LyingText("x")\n',
    })
    assert score(got) == 0, failing(got)


# --- the prompts say what to return ---------------------------------------------------------------

def _markdown(grade_id):
    return " ".join(cell_source(CHAPTER, grade_id).split())


def test_prompts_state_type_and_precision():
    assert "return a new NumPy float64 array" in _markdown("sgd_intro")
    assert "Work in float64" in _markdown("sgd_intro")
    assert "torch.optim" in _markdown("sgd_intro")
    assert "as an `int`" in _markdown("converge_intro")
    concepts = _markdown("concepts_intro")
    for number, name in enumerate(["window_099", "answer_limit", "answer_forms", "lr_edge",
                                   "beta_kappa_100"], start=1):
        assert f"**Question {number}** (`{name}`" in concepts


def test_the_source_solution_takes_float32_inputs_in_float64():
    import numpy as np

    namespace = {"np": np}
    exec(cell_source(CHAPTER, "sgd"), namespace)
    step = namespace["SGD"](lr=0.1, momentum=0.9).step
    got = step(np.array([1.0, 2.0], dtype=np.float32), np.array([0.1, 0.3], dtype=np.float32))
    assert got.dtype == np.float64
    exact = np.array([1.0, 2.0]) - 0.1 * np.array([0.1, 0.3], dtype=np.float32).astype(float)
    np.testing.assert_allclose(got, exact, rtol=1e-15)


# --- no message of the notebook is left unproved --------------------------------------------------

def _messages(node) -> list[str]:
    """The literal texts of a mistake message, a hint or an explanation (f-strings left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


def named_messages() -> dict[str, list[str]]:
    """Every message a test cell of the chapter gives for a named mistake: the texts of its
    ``mistakes=`` pairs, ``hint=`` and ``explanations=``, by test cell."""
    nb = nbformat.read(SOURCE / CHAPTER / "exercises.ipynb", as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        texts = []
        for call in ast.walk(ast.parse(cell.source)):
            if not isinstance(call, ast.Call):
                continue
            for keyword in call.keywords:
                if keyword.arg == "mistakes":
                    texts += [t for pair in keyword.value.elts for t in _messages(pair.elts[1])]
                elif keyword.arg == "hint":
                    texts += _messages(keyword.value)
                elif keyword.arg == "explanations":
                    texts += [t for v in keyword.value.values for t in _messages(v)]
        found[meta["grade_id"]] = texts
    return found


def test_every_named_mistake_is_reached():
    produced = {}
    for replace, _ in MISTAKES.values():
        for cell, message in failing(outcomes(replace)).items():
            produced.setdefault(cell, []).append(message)
    for cell, texts in named_messages().items():
        for text in texts:
            assert any(text in re.sub(r"\s+", " ", m) for m in produced.get(cell, [])), (
                f"{cell}: no case of this file produces {text!r}")
