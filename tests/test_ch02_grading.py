"""Chapter 2's graded cells grade fairly: every named mistake gets its own message, right answers
written in other styles keep full marks, shortcuts earn nothing, and no answer object can pass a
check through its own ``__eq__`` or ``str`` methods.

Each case runs ``source/ch02_loss_landscapes/exercises.ipynb`` in-process
(``tests/exercise_runner``) with some solution cells replaced, and asserts which test cells fail
and what they say."""

from functools import partial

import pytest

from course.checks import FLOAT32_NOTE
from tests.exercise_runner import (
    assert_full_marks,
    assert_wrong_submissions,
    lying_str,
    run_and_assert_fails,
    run_exercises,
    score,
)

CHAPTER = "ch02_loss_landscapes"
TOTAL = 21


fails = partial(run_and_assert_fails, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


# --- part 1: critical points and two steps -------------------------------------------------

@pytest.mark.parametrize("answer, words", [
    ('{-1: "minimum", 0: "saddle", 1: "minimum"}', "makes it a maximum"),
    ('{-1: "minimum", 0: "global maximum", 1: "minimum"}', "only a local maximum"),
    ('{-1: "maximum", 0: "maximum", 1: "maximum"}', "makes them minima"),
    ('{-1: "minimum", 1: "minimum"}', "expected 3 critical points, got 2"),
    ('{-2: "minimum", 0: "maximum", 2: "minimum"}', "there are three roots"),
    ('{complex(1, 1): "minimum", 0: "maximum", -1: "minimum"}', "is not real"),
    ('{-1: 1, 0: "maximum", 1: "minimum"}', "should be text"),
])
def test_critical_point_mistakes_are_named(answer, words):
    fails({"critical_points": f"critical_points = {answer}\n"}, {"test_critical_points": words})


@pytest.mark.parametrize("answer", [
    '{-1: "Minimum ", 0: " MAXIMUM", 1: "minimum"}',
    '{-1.0: "global minimum", 0.0: "local maximum", 1.0: "local  minimum"}',
    "{w: ('maximum' if abs(w) < 0.5 else 'minimum') for w in np.roots([4, 0, -4, 0])}",
    "{complex(-1, 0): 'minimum', complex(0, 0): 'maximum', complex(1, 0): 'minimum'}",
    "{np.float64(-1): np.str_('minimum'), np.int64(0): 'maximum', 1: 'minimum'}",
])
def test_critical_points_in_other_styles_keep_full_marks(answer):
    full_marks({"critical_points": f"critical_points = {answer}\n"})


def test_critical_points_that_lie_earn_nothing():
    liars = lying_str("maximum") + '''
class Items(dict):
    def items(self):
        return [(-1.0, "minimum"), (0.0, "maximum"), (1.0, "minimum")]

critical_points = Items({-1.0: Liar("saddle"), 0.0: Liar("saddle"), 1.0: Liar("saddle")})
'''
    fails({"critical_points": liars}, {"test_critical_points": "makes it a maximum"})


@pytest.mark.parametrize("steps, words", [
    ("w2 = 2 - 0.01 * (4 * 2**3 - 4 * 2)", "1.76 is w1"),
    ("w1 = 2 + 0.01 * 24\nw2 = w1 + 0.01 * (4 * w1**3 - 4 * w1)", "did you add the gradient"),
    ("w1 = 2 - 0.01 * 32\nw2 = w1 - 0.01 * 4 * w1**3", "keep the -4w term"),
    ("w1 = 2 - 0.01 * (32 - 4)\nw2 = w1 - 0.01 * (4 * w1**3 - 2 * w1)", "is 4w, not 2w"),
    ("w2 = 1.6", "w1 = 2 - 0.01·L'(2) = 1.76"),
])
def test_two_steps_mistakes_are_named(steps, words):
    fails({"two_steps": steps + "\n"}, {"test_two_steps": words})


@pytest.mark.parametrize("steps", [
    "from fractions import Fraction\nw1 = Fraction(176, 100)\n"
    "w2 = w1 - Fraction(1, 100) * (4 * w1**3 - 4 * w1)",
    "w2 = 1.6123290",
    "w2 = np.float32(1.61232896)",
])
def test_two_steps_in_other_styles_keep_full_marks(steps):
    full_marks({"two_steps": steps + "\n"})


# --- part 2: the ravine --------------------------------------------------------------------

RAVINE = '''
def ravine_gradient(w):
    return {gradient}


def ravine_hessian():
    return {hessian}
'''


@pytest.mark.parametrize("gradient, hessian, words", [
    ("np.array([w[0], 25 * w[1]])", "np.diag([2.0, 50.0])", "keep the factor 2"),
    ("np.array([2 * w[0], 25 * w[1]])", "np.diag([2.0, 50.0])", "is 50 w2"),
    ("np.array([2 * w[0], 50 * w[1]])", "np.diag([1.0, 25.0])", "differentiate twice"),
])
def test_ravine_mistakes_are_named(gradient, hessian, words):
    fails({"ravine": RAVINE.format(gradient=gradient, hessian=hessian)}, {"test_ravine": words})


def test_ravine_in_lists_keeps_full_marks():
    full_marks({"ravine": RAVINE.format(gradient="[2.0 * w[0], 50.0 * w[1]]",
                                        hessian="[[2, 0], [0, 50]]")})


def test_ravine_hard_coded_fails_the_hidden_test():
    fails({"ravine": RAVINE.format(gradient="np.array([2.0, 50.0])", hessian="np.diag([2, 50])")},
          {"test_ravine": "ravine_gradient(["})


# --- part 3: condition number and the largest stable step ----------------------------------

CURVATURE = '''
def condition_number(hessian):
    e = np.linalg.eigvalsh(np.asarray(hessian, dtype=float))
    return {kappa}


def max_stable_lr(hessian):
    e = np.linalg.eigvalsh(np.asarray(hessian, dtype=float))
    return {lr}
'''


@pytest.mark.parametrize("kappa, lr, words", [
    ("e[0] / e[-1]", "2 / e[-1]", "put the largest on top"),
    ("e[-1] / e[0]", "2 / e[0]", "not 2 / 2"),
    ("e[-1] / e[0]", "1 / e[-1]", "the stability limit is 2 / lambda_max"),
])
def test_curvature_mistakes_are_named(kappa, lr, words):
    fails({"curvature": CURVATURE.format(kappa=kappa, lr=lr)}, {"test_curvature": words})


def test_curvature_from_the_diagonal_fails_the_hidden_test_with_a_hint():
    diagonal = ("def condition_number(hessian):\n    d = np.diag(hessian)\n"
                "    return d.max() / d.min()\n\n\ndef max_stable_lr(hessian):\n"
                "    return 2 / np.diag(hessian).max()\n")
    fails({"curvature": diagonal}, {"test_curvature": "not the diagonal"})


def test_stability_limit_from_the_diagonal_fails_the_hidden_test_with_a_hint():
    diagonal_lr = CURVATURE.format(kappa="e[-1] / e[0]", lr="2 / np.max(np.diag(hessian))")
    fails({"curvature": diagonal_lr}, {"test_curvature": "not the largest diagonal entry"})


def test_curvature_in_float32_is_told_so():
    float32 = CURVATURE.format(kappa="e[-1] / e[0]", lr="2 / e[-1]").replace(
        "dtype=float", "dtype=np.float32")
    fails({"curvature": float32}, {"test_curvature": FLOAT32_NOTE})


@pytest.mark.parametrize("source", [
    "def condition_number(hessian):\n    return float(np.linalg.cond(hessian))\n\n\n"
    "def max_stable_lr(hessian):\n    return float(2 / max(np.linalg.eigvalsh(hessian)))\n",
    CURVATURE.format(kappa="float(max(e) / min(e))", lr="2.0 / float(max(e))"),
])
def test_curvature_in_other_styles_keeps_full_marks(source):
    full_marks({"curvature": source})


# --- part 4: iterations_to_reduce ----------------------------------------------------------

ITERATIONS = '''
import math

def iterations_to_reduce(eigenvalues, factor):
    lam = np.asarray(eigenvalues, dtype=float)
    lr = {lr}
    rho = np.max(np.abs(1 - lr * lam))
    if rho == 0:
        return 1
    return {steps}
'''
BEST = "2 / (lam.min() + lam.max())"


@pytest.mark.parametrize("lr, steps, words", [
    ("1 / lam.max()", "math.ceil(math.log(factor) / (-2 * math.log(rho)))",
     "the count at lr = 1 / lambda_max"),
    (BEST, "math.ceil(math.log(factor) / (-math.log(rho)))", "shrinks by rho² per step, not rho"),
    (BEST, "math.floor(math.log(factor) / (-2 * math.log(rho)))", "round up: 345 steps"),
    (BEST, "math.log(factor) / (-2 * math.log(rho))", "round up with math.ceil"),
])
def test_iterations_mistakes_are_named(lr, steps, words):
    fails({"iterations_to_reduce": ITERATIONS.format(lr=lr, steps=steps)},
          {"test_iterations_to_reduce": words})


def test_iterations_without_the_equal_eigenvalue_case_fail_the_hidden_test_with_a_hint():
    # log(0) = -inf: the formula then gives 0 steps
    no_rho_zero = ("def iterations_to_reduce(eigenvalues, factor):\n"
                   "    lam = np.asarray(eigenvalues, dtype=float)\n"
                   "    rho = np.max(np.abs(1 - 2 / (lam.min() + lam.max()) * lam))\n"
                   "    return int(np.ceil(np.log(factor) / (-2 * np.log(rho))))\n")
    fails({"iterations_to_reduce": no_rho_zero}, {"test_iterations_to_reduce": "rho = 0"})


@pytest.mark.parametrize("source", [
    # count the steps: the loss factor rho^(2k) until it is at most 1 / factor
    '''
def iterations_to_reduce(eigenvalues, factor):
    lam = [float(v) for v in eigenvalues]
    lr = 2 / (min(lam) + max(lam))
    rho = max(abs(1 - lr * v) for v in lam)
    k, left = 1, rho**2
    while left > 1 / factor * (1 + 1e-12):
        k, left = k + 1, left * rho**2
    return k
''',
    ITERATIONS.format(lr=BEST, steps="float(np.ceil(np.log(factor) / (-2 * np.log(rho))))"),
])
def test_iterations_in_other_styles_keep_full_marks(source):
    full_marks({"iterations_to_reduce": source})


def test_iterations_hard_coded_fail_the_hidden_test():
    shortcut = ("def iterations_to_reduce(eigenvalues, factor):\n"
                "    return 346 if factor > 1e3 else 29\n")
    fails({"iterations_to_reduce": shortcut},  # a hidden case: the visible ones pass
          {"test_iterations_to_reduce": "iterations_to_reduce([4. 4.], 10) = 1, got 29: with "
                                        "equal eigenvalues rho = 0"})


# --- part 5: newton_step -------------------------------------------------------------------

NEWTON = "def newton_step(w, grad, hess):\n    return {step}\n"


@pytest.mark.parametrize("step, words", [
    ("w - hess @ grad", "that multiplies the gradient by H"),
    ("w + np.linalg.solve(hess, grad)", "step against the gradient"),
    ("w - grad", "that is a gradient step with lr 1"),
    ("w - grad / np.diag(hess)", "only when H is diagonal"),
])
def test_newton_mistakes_are_named(step, words):
    fails({"newton_step": NEWTON.format(step=step)}, {"test_newton_step": words})


def test_newton_that_moves_w_is_named():
    in_place = ("def newton_step(w, grad, hess):\n    w -= np.linalg.solve(hess, grad)\n"
                "    return w\n")
    fails({"newton_step": in_place}, {"test_newton_step": "changed the arrays passed to it"})


@pytest.mark.parametrize("step", [
    "np.asarray(w) - np.linalg.inv(hess) @ grad",
    "[float(v) for v in w - np.linalg.solve(hess, grad)]",
    "np.linalg.solve(hess, hess @ w - grad)",
])
def test_newton_in_other_styles_keeps_full_marks(step):
    full_marks({"newton_step": NEWTON.format(step=step)})


def test_newton_hard_coded_fails_the_hidden_test():
    shortcut = NEWTON.format(step="np.array([0.0, 0.0]) if w[0] == -9 else np.array([0.6, 1.2])")
    fails({"newton_step": shortcut}, {"test_newton_step": "newton_step with a 3x3 Hessian"})


# --- part 6: random_restarts ---------------------------------------------------------------

RESTARTS = '''
def random_restarts(f, grad, starts, lr, steps):
    ends = []
    for x in starts:
        x = float(x)
        for _ in range(steps):
            x = x - lr * grad(x)
        ends.append(x)
{choose}
'''


@pytest.mark.parametrize("choose, words", [
    # H2: the smallest end point, whatever f says; right on x^4 - 8x^2 + x, wrong on its mirror
    ("    return min(e for e in ends if e == e and abs(e) != float('inf'))",
     "the lowest loss f, not the smallest x"),
    ("    return max(ends, key=lambda e: -f(e))", "skip end points that are inf or nan"),
    ("    ends = np.array(ends)\n    return float(ends[np.argmin(f(ends))])",
     "skip end points that are inf or nan"),
    ("    return max(ends, key=f)", "that is the shallower valley"),
])
def test_random_restarts_mistakes_are_named(choose, words):
    fails({"random_restarts": RESTARTS.format(choose=choose)}, {"test_random_restarts": words})


@pytest.mark.parametrize("choose", [
    # H1: a loop over Python floats survives the diverging starts of every test
    "    finite = [e for e in ends if e == e and abs(e) != float('inf')]\n"
    "    return min(finite, key=f)",
    "    ends = np.array(ends)\n    return float(ends[np.nanargmin(f(ends))])",
])
def test_random_restarts_in_other_styles_keep_full_marks(choose):
    full_marks({"random_restarts": RESTARTS.format(choose=choose)})


def test_random_restarts_that_ignore_f_fail():
    own_formula = RESTARTS.format(
        choose="    finite = [e for e in ends if e == e and abs(e) < 1e300]\n"
               "    return min(finite, key=lambda x: x**4 - 8 * x**2 + x)")
    fails({"random_restarts": own_formula}, {"test_random_restarts": "not the smallest x"})


def test_random_restarts_hard_coded_fail_the_visible_test():
    fails({"random_restarts": "def random_restarts(f, grad, starts, lr, steps):\n"
                              "    return -2.0305466\n"},
          {"test_random_restarts": "random_restarts from 1 and 3"})


# --- part 7: concept checks ----------------------------------------------------------------

@pytest.mark.parametrize("grade_id, answer, words", [
    ("concept_a", 'answer_a = "b"', "lowers the left valley"),
    ("concept_a", 'answer_a = "c"', "with it they are not"),
    ("concept_a", 'answer_a = "d"', "that point is a maximum"),
    ("concept_b", 'answer_b = "a"', "-2 is a negative curvature"),
    ("concept_b", 'answer_b = "b"', "2 is a positive curvature"),
    ("concept_b", 'answer_b = "d"', "flat in every direction"),
    ("concept_c", 'answer_c = "a"', "-0.95 each step"),
    ("concept_c", 'answer_c = "c"', "below 2/50 = 0.04"),
    ("concept_c", 'answer_c = "d"', "0.922, a positive factor"),
    ("concept_d", "best_lr = 1 / 100", "balances both"),
    ("concept_d", "best_lr = 0.02", "keep 3 significant figures"),
    ("concept_e", 'answer_e = "a"', "a zero gradient alone is not a minimum"),
    ("concept_e", 'answer_e = "c"', "never moves again"),
    ("concept_e", 'answer_e = "d"', "lands exactly on w = 0"),
    ("concept_f", 'answer_f = "a"', "every point with w1 = -w2 minimises it"),
    ("concept_f", 'answer_f = "c"', "it has two valleys"),
    ("concept_f", 'answer_f = "d"', "the valley its start belongs to"),
])
def test_concept_mistakes_are_named(grade_id, answer, words):
    fails({grade_id: answer + "\n"}, {f"test_{grade_id}": words})


def test_concepts_in_other_styles_keep_full_marks():
    full_marks({"concept_a": 'answer_a = "A"\n', "concept_b": 'answer_b = " c "\n',
                "concept_d": "best_lr = 0.0198\n", "concept_e": 'answer_e = "B"\n'})


def test_concept_answers_that_lie_earn_nothing():
    liar = lying_str("b")
    outcomes = run_exercises(CHAPTER, {"concept_e": liar + 'answer_e = Liar("a")\n',
                                       "concept_f": "answer_f = object()\n"})
    assert not outcomes["test_concept_e"].passed and not outcomes["test_concept_f"].passed


# --- the whole notebook --------------------------------------------------------------------

def test_the_source_earns_full_marks():
    assert score(run_exercises(CHAPTER)) == TOTAL


def test_the_known_wrong_submissions_score_as_they_declare():
    # the same records go through real nbgrader in tests/test_roundtrip.py; here, in-process
    from tests.submissions.ch02_loss_landscapes import WRONG

    assert_wrong_submissions(CHAPTER, WRONG)
