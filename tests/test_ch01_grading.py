"""Chapter 1's graded cells grade fairly: every named mistake gets its own message, right answers
written in other styles keep full marks, shortcuts earn nothing, and no answer object can pass a
check through its own ``__eq__`` or ``str`` methods.

Each case runs ``source/ch01_gd_by_hand/exercises.ipynb`` in-process (``tests/exercise_runner``)
with some solution cells replaced, and asserts which test cells fail and what they say."""

from functools import partial

import pytest

from tests.exercise_runner import (
    assert_full_marks,
    assert_wrong_submissions,
    lying_str,
    run_and_assert_fails,
    run_exercises,
    score,
)

CHAPTER = "ch01_gd_by_hand"
TOTAL = 22

CORRECT_GD_STEP = "def gd_step(w, grad, lr):\n    return w - lr * grad\n"


fails = partial(run_and_assert_fails, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


def gd_step_cell(body):
    return f"def gd_step(w, grad, lr):\n    {body}\n"


# --- part 1: gd_step -----------------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    ("return w + lr * grad", "did you add the gradient instead of subtracting it?"),
    ("return w - grad", "multiply the gradient by the learning rate: w - lr * grad"),
    ("return w - grad - lr", "do not subtract lr itself"),
    ("return (w - grad) * lr", "not (w - grad) * lr"),
])
def test_gd_step_mistakes_are_named(body, words):
    outcomes = run_exercises(CHAPTER, {"gd_step": gd_step_cell(body)}, hidden=False)
    assert words in outcomes["test_gd_step"].message


def test_gd_step_in_place_is_named_at_once_and_not_blamed_on_the_maths():
    in_place = "def gd_step(w, grad, lr):\n    w -= lr * grad\n    return w\n"
    fails({"gd_step": in_place}, {
        "test_gd_step": "gd_step changed the arrays passed to it",
        # run_gd keeps the array gd_step changed: the trajectory repeats its last point
        "test_run_gd": "every point of the trajectory is the last one"}, hidden=False)


def test_gd_step_hidden_expected_value_is_computed_before_the_students_code():
    # an in-place step on a copy the student made is right, and the hidden test must agree
    copy_then_in_place = ("def gd_step(w, grad, lr):\n    new = np.array(w, dtype=float)\n"
                          "    new -= lr * np.asarray(grad, dtype=float)\n    return new\n")
    full_marks({"gd_step": copy_then_in_place})


@pytest.mark.parametrize("body", [
    "return w - lr * grad",                                          # plain, Python floats
    "return np.subtract(w, np.multiply(lr, grad))",
    "return float(w - lr * grad) if np.ndim(w) == 0 else list(np.ravel(w - lr * grad))"
    " if np.ndim(w) == 1 else w - lr * grad",                         # floats and lists
    "return (np.asarray(w, np.float32) - np.float32(lr) * np.asarray(grad, np.float32))",
])
def test_gd_step_in_other_styles_keeps_full_marks(body):
    full_marks({"gd_step": gd_step_cell(body)})


def test_gd_step_hard_coded_answers_fail_the_hidden_test():
    shortcut = gd_step_cell("return 0.6 if np.ndim(w) == 0 else np.array([0.0, -1.0])")
    fails({"gd_step": shortcut}, {"test_gd_step": "gd_step on random inputs",
                                  "test_run_gd": "expected"})


# --- part 2: run_gd ------------------------------------------------------------------------

RUN_GD = '''
def run_gd(grad_fn, w0, lr, n_steps):
{body}
'''


@pytest.mark.parametrize("body, words", [
    ("    w = w0\n    path = [w]\n    for _ in range(n_steps - 1):\n"
     "        w = gd_step(w, grad_fn(w), lr)\n        path.append(w)\n    return np.array(path)",
     "the trajectory is one step short, or is missing w0"),
    ("    w, path = w0, []\n    for _ in range(n_steps):\n        w = gd_step(w, grad_fn(w), lr)\n"
     "        path.append(w)\n    return np.array(path)",
     "the trajectory is one step short, or is missing w0"),
    ("    w = np.array(w0, dtype=float)\n    path = [w]\n    for _ in range(n_steps):\n"
     "        w -= lr * grad_fn(w)\n        path.append(w)\n    return np.array(path)",
     "every point of the trajectory is the last one"),
    ("    w = w0\n    path = [np.copy(w)]\n    for _ in range(n_steps):\n"
     "        w -= lr * grad_fn(w)\n        path.append(np.copy(w))\n    return np.array(path)",
     "run_gd changed the w0 passed to it"),
])
def test_run_gd_mistakes_are_named(body, words):
    outcomes = run_exercises(CHAPTER, {"run_gd": RUN_GD.format(body=body)}, hidden=False)
    assert words in outcomes["test_run_gd"].message


def test_run_gd_with_an_added_gradient_says_so():
    outcomes = run_exercises(CHAPTER, {"gd_step": gd_step_cell("return w + lr * grad")})
    assert "did you add the gradient?" in outcomes["test_run_gd"].message


@pytest.mark.parametrize("body", [
    # a list of Python floats and lists
    "    w = w0\n    path = [w]\n    for _ in range(n_steps):\n"
    "        w = gd_step(w, grad_fn(w), lr)\n        path.append(np.asarray(w).tolist())\n"
    "    return path",
    # preallocated, filled in place on its own array
    "    w = np.array(w0, dtype=float)\n    path = np.empty((n_steps + 1,) + w.shape)\n"
    "    path[0] = w\n    for k in range(n_steps):\n        w -= lr * grad_fn(w)\n"
    "        path[k + 1] = w\n    return path",
    # a copy of each point
    "    w = np.array(w0, dtype=float)\n    path = [w.copy()]\n    for _ in range(n_steps):\n"
    "        w -= lr * grad_fn(w)\n        path.append(w.copy())\n    return np.stack(path)",
])
def test_run_gd_in_other_styles_keeps_full_marks(body):
    full_marks({"run_gd": RUN_GD.format(body=body)})


def test_run_gd_hard_coded_answers_fail_the_hidden_test():
    shortcut = RUN_GD.format(body="    return np.array([0.0, 0.6, 1.08, 1.464]) "
                                  "if np.ndim(w0) == 0 "
                                  "else np.array([[1.0, 1.0], [0.98, 0.5], [0.9604, 0.25]])")
    fails({"run_gd": shortcut}, {"test_run_gd": "run_gd on w1² + 25 w2² for 0 steps"})


# --- part 3: three steps by hand -----------------------------------------------------------

@pytest.mark.parametrize("steps, words", [
    ("w1 = 0 - 0.2 * (0 - 4)\nw2 = w1 - 0.2 * (w1 - 4)\nw3 = w2 - 0.2 * (w2 - 4)\n",
     "did you forget the factor 2?"),
    ("w1 = 0 + 0.4 * (0 - 4)\nw2 = w1 + 0.4 * (w1 - 4)\nw3 = w2 + 0.4 * (w2 - 4)\n",
     "subtract eta * L'(w)"),
    ("w1 = w2 = w3 = 0 - 0.4 * (0 - 4)\n", "each step starts where the previous one ended"),
])
def test_hand_steps_mistakes_are_named_for_all_three_steps(steps, words):
    message = fails({"hand_steps": steps}, {"test_hand_steps": words})["test_hand_steps"].message
    assert "(w1, w2, w3)" in message


def test_hand_steps_under_other_names_are_missing_not_stale():
    # test_gd_step's own results are private (_w1): a student's w_1 cannot meet a stale w1
    other_names = "w_1 = 1.6\nw_2 = 2.56\nw_3 = 3.136\n"
    message = fails({"hand_steps": other_names},
                    {"test_hand_steps": "name 'w1' is not defined"})["test_hand_steps"].message
    assert "0.6" not in message


@pytest.mark.parametrize("steps", [
    "w1 = 1.6\nw2 = 2.56\nw3 = 3.136\n",
    "w1, w2, w3 = 8 / 5, 64 / 25, 392 / 125\n",
    "w1 = np.float64(1.6)\nw2 = np.array(2.56)\nw3 = 3.13600001\n",
])
def test_hand_steps_in_other_styles_keep_full_marks(steps):
    full_marks({"hand_steps": steps})


# --- part 4: classify_run ------------------------------------------------------------------

CLASSIFY = '''
def classify_run(path, w_star, tol=1e-3):
    error = np.asarray(path, dtype=float) - w_star
{checks}
'''
DIVERGED = ("    if not np.all(np.isfinite(error)) or abs(error[-1]) {cmp} abs(error[0]):\n"
            "        return 'diverged'\n")
CONVERGED = "    if abs(error[-1]) <= tol:\n        return 'converged'\n"
OSCILLATING = ("    signs = np.sign(error[-4:])\n"
               "    if len(signs) == 4 and np.all(signs[1:] * signs[:-1] < 0):\n"
               "        return 'oscillating'\n")


def classify(*parts, tail="    return 'slow'\n"):
    return CLASSIFY.format(checks="".join(parts) + tail)


@pytest.mark.parametrize("source, words", [
    (classify(OSCILLATING, DIVERGED.format(cmp=">"), CONVERGED),
     "test for divergence before testing for oscillation"),
    (classify(DIVERGED.format(cmp=">="), CONVERGED, OSCILLATING),
     "diverged means strictly farther (>)"),
    (classify("    if abs(error[-1]) > abs(error[0]):\n        return 'diverged'\n", CONVERGED,
              OSCILLATING),
     "nan compares False with everything"),
])
def test_classify_run_mistakes_are_named(source, words):
    fails({"classify_run": source}, {"test_classify_run": words})


def test_classify_run_reading_three_points_as_three_steps_fails_the_hidden_short_path():
    # "changes sign at each of the last three steps" needs four points; a sign test on the last
    # three points calls [0, 3, 1.5] (errors -2, 1, -0.5) oscillating
    three_points = OSCILLATING.replace("error[-4:]", "error[-3:]").replace("== 4", "== 3")
    fails({"classify_run": classify(DIVERGED.format(cmp=">"), CONVERGED, three_points)},
          {"test_classify_run": "classify_run([0.0, 3.0, 1.5], 2.0)"})


@pytest.mark.parametrize("source", [
    # upper case and spaces, NumPy strings, plain Python lists and loops
    classify(DIVERGED.format(cmp=">"), CONVERGED, OSCILLATING, tail="    return ' Slow '\n"),
    classify(DIVERGED.format(cmp=">"), CONVERGED, OSCILLATING, tail="    return np.str_('slow')\n"),
    '''
def classify_run(path, w_star, tol=1e-3):
    errors = [float(p) - w_star for p in path]
    if any(e != e or abs(e) == float("inf") for e in errors) or abs(errors[-1]) > abs(errors[0]):
        return "Diverged"
    if abs(errors[-1]) <= tol:
        return "Converged"
    last = errors[-4:]
    if len(last) == 4 and all(a * b < 0 for a, b in zip(last, last[1:])):
        return "Oscillating"
    return "Slow"
''',
])
def test_classify_run_in_other_styles_keeps_full_marks(source):
    full_marks({"classify_run": source})


LIARS = {
    "an object whose __eq__ always says True": '''
class Always:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
    def __repr__(self):
        return "'converged'"

def classify_run(path, w_star, tol=1e-3):
    return Always()
''',
    "a str whose comparisons and methods lie": '''
class Liar(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
    def strip(self, *args):
        return self
    def lower(self):
        return self
    def __str__(self):
        return "converged"

def classify_run(path, w_star, tol=1e-3):
    return Liar("no idea")
''',
}


@pytest.mark.parametrize("source", LIARS.values(), ids=LIARS.keys())
def test_classify_run_lying_objects_earn_nothing(source):
    outcomes = run_exercises(CHAPTER, {"classify_run": source})
    assert not outcomes["test_classify_run"].passed
    assert score(outcomes) == TOTAL - 3


# --- part 5: line_mse_gradients ------------------------------------------------------------

MSE = '''
def line_mse_gradients(w, b, x, y):
    error = w * x + b - y
    return {dw}, {db}
'''


@pytest.mark.parametrize("dw, db, words", [
    ("2 * np.sum(error * x)", "2 * np.sum(error)", "did you sum instead of taking the mean?"),
    ("np.mean(error * x)", "np.mean(error)", "the derivative of the square brings a factor 2"),
    ("-2 * np.mean(error * x)", "-2 * np.mean(error)", "prediction minus target"),
    ("2 * np.mean(error)", "2 * np.mean(error)", "multiplies each error by its own x_i"),
    ("2 * np.mean(error) * np.mean(x)", "2 * np.mean(error)", "not the product of the two means"),
])
def test_line_mse_gradients_mistakes_are_named(dw, db, words):
    fails({"line_mse_gradients": MSE.format(dw=dw, db=db)}, {"test_line_mse_gradients": words})


@pytest.mark.parametrize("source", [
    MSE.format(dw="2 * np.dot(error, x) / len(x)", db="2 * error.sum() / len(x)"),
    "def line_mse_gradients(w, b, x, y):\n    e = w * x + b - y\n"
    "    return [float(2 * np.mean(e * x)), float(2 * np.mean(e))]\n",
    "def line_mse_gradients(w, b, x, y):\n    dw = db = 0.0\n    for xi, yi in zip(x, y):\n"
    "        e = w * xi + b - yi\n        dw += 2 * e * xi / len(x)\n        db += 2 * e / len(x)\n"
    "    return np.array([dw, db])\n",
])
def test_line_mse_gradients_in_other_styles_keep_full_marks(source):
    full_marks({"line_mse_gradients": source})


def test_line_mse_gradients_hard_coded_fails_the_hidden_test():
    shortcut = "def line_mse_gradients(w, b, x, y):\n    return -404000.0, -184.0\n"
    fails({"line_mse_gradients": shortcut},
          {"test_line_mse_gradients": "line_mse_gradients on 3 random points"})


# --- part 6: numerical_gradient ------------------------------------------------------------

NUMGRAD = '''
def numerical_gradient(f, w, h=1e-5):
    w = np.asarray(w, dtype=float)
    grad = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        grad[i] = {formula}
    return grad
'''


@pytest.mark.parametrize("formula, words", [
    ("(f(w + e) - f(w)) / h", "that is the forward difference"),
    ("(f(w) - f(w - e)) / h", "that is the backward difference"),
    ("(f(w + e) - f(w - e)) / h", "divide the difference by 2h"),
])
def test_numerical_gradient_mistakes_are_named_in_the_visible_test(formula, words):
    fails({"numerical_gradient": NUMGRAD.format(formula=formula)},
          {"test_numerical_gradient": words}, hidden=False)


def test_numerical_gradient_with_another_wrong_formula_gets_the_formula():
    fails({"numerical_gradient": NUMGRAD.format(formula="(f(w + e) - f(w - e)) / (4 * h)")},
          {"test_numerical_gradient": "use (f(w + h e_i) - f(w - h e_i)) / (2h)"}, hidden=False)


def test_numerical_gradient_that_ignores_h_fails_the_hidden_test_with_a_hint():
    ignores_h = NUMGRAD.format(formula="(f(w + e / h * 1e-5) - f(w - e / h * 1e-5)) / 2e-5")
    fails({"numerical_gradient": ignores_h},
          {"test_numerical_gradient": "use the h passed to numerical_gradient"})


def test_numerical_gradient_that_moves_w_is_named():
    moves_w = '''
def numerical_gradient(f, w, h=1e-5):
    grad = np.zeros_like(w)
    for i in range(w.size):
        w[i] += h
        up = f(w)
        w[i] -= 2 * h
        grad[i] = (up - f(w)) / (2 * h)
    return grad
'''
    fails({"numerical_gradient": moves_w},
          {"test_numerical_gradient": "numerical_gradient changed the w passed to it"})


def test_numerical_gradient_in_float32_is_told_to_use_float64():
    float32 = NUMGRAD.format(formula="(f(w + e) - f(w - e)) / (2 * h)").replace(
        "dtype=float", "dtype=np.float32")
    fails({"numerical_gradient": float32}, {"test_numerical_gradient": "work in float64"})


@pytest.mark.parametrize("source", [
    # perturb in place, then restore by arithmetic (off by an ulp at most) or exactly
    '''
def numerical_gradient(f, w, h=1e-5):
    grad = np.zeros_like(w)
    for i in range(len(w)):
        w[i] += h
        up = f(w)
        w[i] -= 2 * h
        down = f(w)
        w[i] += h
        grad[i] = (up - down) / (2 * h)
    return grad
''',
    '''
def numerical_gradient(f, w, h=1e-5):
    grad = []
    for i in range(len(w)):
        old = w[i]
        w[i] = old + h
        up = f(w)
        w[i] = old - h
        down = f(w)
        w[i] = old
        grad.append((up - down) / (2 * h))
    return grad
''',
    "def numerical_gradient(f, w, h=1e-5):\n"
    "    return np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(len(w))])\n",
])
def test_numerical_gradient_in_other_styles_keeps_full_marks(source):
    full_marks({"numerical_gradient": source})


# --- part 7: concept checks ----------------------------------------------------------------

@pytest.mark.parametrize("grade_id, answer, words", [
    ("concept_a", 'answer_a = "a"', "3.0 is w1"),
    ("concept_a", 'answer_a = "d"', "two steps do not reach it"),
    ("concept_b", "critical_lr = 0.5", "lands on the minimum in one step"),
    ("concept_b", "critical_lr = 2", "2 is f'' itself"),
    ("concept_b", "critical_lr = 0.9", "each step multiplies the distance"),
    ("concept_c", 'answer_c = "a"', "every later step is nan too"),
    ("concept_c", 'answer_c = "c"', "overshoots even more"),
    ("concept_d", "best_point = (100, 50)", "solve 100 - 2 x1 = 0"),
    ("concept_e", "steepest = (-3, -4)", "divide it by its length, 5"),
    ("concept_e", "steepest = (0.6, 0.8)", "steepest ascent"),
    ("concept_e", "steepest = (-0.8, -0.6)", "u = -grad / |grad|"),
    ("concept_f", 'answer_f = "a"', "the difference is noise"),
    ("concept_f", 'answer_f = "b"', "best h of the forward difference"),
    ("concept_f", 'answer_f = "d"', "about 2e-3"),
])
def test_concept_mistakes_are_named(grade_id, answer, words):
    fails({grade_id: answer + "\n"}, {f"test_{grade_id}": words})


def test_concepts_in_other_styles_keep_full_marks():
    full_marks({"concept_a": 'answer_a = " B "\n', "concept_b": "critical_lr = 2 // 2\n",
                "concept_c": 'answer_c = "b"\n', "concept_d": "best_point = [50, 25]\n",
                "concept_e": "steepest = -np.array([3.0, 4.0]) / 5\n",
                "concept_f": 'answer_f = "C"\n'})


def test_concept_answers_that_lie_earn_nothing():
    liar = lying_str("b")
    outcomes = run_exercises(CHAPTER, {"concept_a": liar + 'answer_a = Liar("a")\n',
                                       "concept_c": "answer_c = object()\n"})
    assert not outcomes["test_concept_a"].passed and not outcomes["test_concept_c"].passed


# --- the whole notebook --------------------------------------------------------------------

def test_the_source_earns_full_marks_and_the_stubs_nothing():
    assert score(run_exercises(CHAPTER)) == TOTAL
    stubs = {"gd_step": "def gd_step(w, grad, lr):\n    raise NotImplementedError()\n",
             "run_gd": "def run_gd(grad_fn, w0, lr, n_steps):\n    raise NotImplementedError()\n",
             "hand_steps": "w1 = w2 = w3 = None\n",
             "classify_run": "def classify_run(path, w_star, tol=1e-3):\n"
                             "    raise NotImplementedError()\n",
             "line_mse_gradients": "def line_mse_gradients(w, b, x, y):\n"
                                   "    raise NotImplementedError()\n",
             "numerical_gradient": "def numerical_gradient(f, w, h=1e-5):\n"
                                   "    raise NotImplementedError()\n",
             "concept_a": 'answer_a = ""\n', "concept_b": "critical_lr = None\n",
             "concept_c": 'answer_c = ""\n', "concept_d": "best_point = None\n",
             "concept_e": "steepest = None\n", "concept_f": 'answer_f = ""\n'}
    assert score(run_exercises(CHAPTER, stubs)) == 0


def test_the_known_wrong_submissions_score_as_they_declare():
    # the same records go through real nbgrader in tests/test_roundtrip.py; here, in-process
    from tests.submissions.ch01_gd_by_hand import WRONG

    assert_wrong_submissions(CHAPTER, WRONG)
