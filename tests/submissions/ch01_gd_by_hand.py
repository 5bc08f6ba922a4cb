"""Known-wrong submissions of chapter 1 (gradient descent by hand): 22 points in all.

Points per test cell: test_gd_step 2, test_run_gd 3, test_hand_steps 3, test_classify_run 3,
test_line_mse_gradients 3, test_numerical_gradient 2, six concept checks 1 each. ``run_gd`` calls
the student's ``gd_step``, so a wrong step also costs the run; the other cells test one thing
each. ``tests/test_ch01_grading.py`` proves each message in-process; these go through nbgrader.
"""

from tests.submissions import Wrong

_CLASSIFY_TAIL = '''
    if abs(error[-1]) <= tol:
        return "converged"
    signs = np.sign(error[-4:])
    if len(signs) == 4 and np.all(signs[1:] * signs[:-1] < 0):
        return "oscillating"
    return "slow"
'''

WRONG = [
    Wrong(
        name="gradient_added",
        mistake="gd_step adds the gradient instead of subtracting it",
        replace={"gd_step": "def gd_step(w, grad, lr):\n    return w + lr * grad\n"},
        score=17,
        fails={"test_gd_step": "add the gradient instead of subtracting",
               "test_run_gd": "did you add the gradient"},
    ),
    Wrong(
        name="trajectory_one_step_short",
        mistake="run_gd takes n_steps - 1 steps",
        replace={"run_gd": '''
def run_gd(grad_fn, w0, lr, n_steps):
    w = w0
    path = [w]
    for _ in range(n_steps - 1):
        w = gd_step(w, grad_fn(w), lr)
        path.append(w)
    return np.array(path)
'''},
        score=19,
        fails={"test_run_gd": "one step short"},
    ),
    Wrong(
        name="derivative_missing_factor_2",
        mistake="the hand steps use w - 4 as the derivative of (w - 4)^2",
        replace={"hand_steps": '''
w1 = 0 - 0.2 * (0 - 4)
w2 = w1 - 0.2 * (w1 - 4)
w3 = w2 - 0.2 * (w2 - 4)
'''},
        score=19,
        fails={"test_hand_steps": "forget the factor 2"},
    ),
    Wrong(
        name="mse_gradient_without_mean",
        mistake="the MSE gradient sums over the houses instead of averaging",
        replace={"line_mse_gradients": '''
def line_mse_gradients(w, b, x, y):
    error = w * x + b - y
    return 2 * np.sum(error * x), 2 * np.sum(error)
'''},
        score=19,
        fails={"test_line_mse_gradients": "sum instead of taking the mean"},
    ),
    Wrong(
        name="divergence_called_oscillation",
        mistake="classify_run tests for sign flips before testing for divergence",
        replace={"classify_run": '''
def classify_run(path, w_star, tol=1e-3):
    error = np.asarray(path, dtype=float) - w_star
    signs = np.sign(error[-4:])
    if abs(error[-1]) > tol and len(signs) == 4 and np.all(signs[1:] * signs[:-1] < 0):
        return "oscillating"
    if not np.all(np.isfinite(error)) or abs(error[-1]) > abs(error[0]):
        return "diverged"
    if abs(error[-1]) <= tol:
        return "converged"
    return "slow"
'''},
        score=19,
        fails={"test_classify_run": "test for divergence before testing for oscillation"},
    ),
    Wrong(
        name="nan_not_seen_as_divergence",
        mistake="classify_run compares distances only, and nan compares False",
        replace={"classify_run": '''
def classify_run(path, w_star, tol=1e-3):
    error = np.asarray(path, dtype=float) - w_star
    if abs(error[-1]) > abs(error[0]):
        return "diverged"''' + _CLASSIFY_TAIL},
        score=19,
        fails={"test_classify_run": "reached inf and nan"},
    ),
    Wrong(
        name="numerical_gradient_divides_by_h",
        mistake="the central difference is divided by h instead of 2h",
        replace={"numerical_gradient": '''
def numerical_gradient(f, w, h=1e-5):
    w = np.asarray(w, dtype=float)
    grad = np.zeros_like(w)
    for i in range(w.size):
        step = np.zeros_like(w)
        step[i] = h
        grad[i] = (f(w + step) - f(w - step)) / h
    return grad
'''},
        score=20,
        fails={"test_numerical_gradient": "divide the difference by 2h"},
    ),
    Wrong(
        name="seed_quiz_answer_w1",
        mistake="answers the quiz with w1 = 3.0 instead of w2 = 4.2",
        replace={"concept_a": 'answer_a = "a"\n'},
        score=21,
        fails={"test_concept_a": "3.0 is w1"},
    ),
    Wrong(
        name="gd_step_in_place",
        mistake="gd_step changes w in place (w -= lr * grad) and returns it",
        replace={"gd_step": "def gd_step(w, grad, lr):\n    w -= lr * grad\n    return w\n"},
        score=17,
        fails={"test_gd_step": "changed the arrays passed to it",
               "test_run_gd": "every point of the trajectory is the last one"},
    ),
    Wrong(
        name="numerical_gradient_forward_difference",
        mistake="numerical_gradient uses the forward difference (f(w + h e) - f(w)) / h",
        replace={"numerical_gradient": '''
def numerical_gradient(f, w, h=1e-5):
    w = np.asarray(w, dtype=float)
    return np.array([(f(w + h * e) - f(w)) / h for e in np.eye(w.size)])
'''},
        score=20,
        fails={"test_numerical_gradient": "that is the forward difference"},
    ),
    Wrong(
        name="classify_run_answer_equal_to_everything",
        mistake="classify_run returns an object whose __eq__ always says True",
        replace={"classify_run": '''
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

def classify_run(path, w_star, tol=1e-3):
    return Anything()
'''},
        score=19,
        fails={"test_classify_run": "should be text"},
    ),
    Wrong(
        name="right_in_another_style",
        mistake="none: lists, loops, Python floats and in-place updates on copies",
        replace={
            "gd_step": "def gd_step(w, grad, lr):\n    new = np.array(w, dtype=float)\n"
                       "    new -= lr * np.asarray(grad, dtype=float)\n"
                       "    return float(new) if new.ndim == 0 else new\n",
            "run_gd": "def run_gd(grad_fn, w0, lr, n_steps):\n"
                      "    path = [np.array(w0, dtype=float)]\n"
                      "    for _ in range(n_steps):\n"
                      "        path.append(gd_step(path[-1], grad_fn(path[-1]), lr))\n"
                      "    return [np.asarray(p).tolist() for p in path]\n",
            "hand_steps": "w1, w2, w3 = 8 / 5, 64 / 25, 392 / 125\n",
            "classify_run": "def classify_run(path, w_star, tol=1e-3):\n"
                            "    e = [float(p) - w_star for p in path]\n"
                            "    if any(x != x or abs(x) == float('inf') for x in e) "
                            "or abs(e[-1]) > abs(e[0]):\n"
                            "        return 'Diverged'\n"
                            "    if abs(e[-1]) <= tol:\n        return ' converged '\n"
                            "    last = e[-4:]\n"
                            "    if len(last) == 4 and all(a * b < 0\n"
                            "                              for a, b in zip(last, last[1:])):\n"
                            "        return 'OSCILLATING'\n    return 'slow'\n",
            "line_mse_gradients": "def line_mse_gradients(w, b, x, y):\n    dw = db = 0.0\n"
                                  "    for xi, yi in zip(x, y):\n        e = w * xi + b - yi\n"
                                  "        dw += 2 * e * xi / len(x)\n"
                                  "        db += 2 * e / len(x)\n"
                                  "    return [dw, db]\n",
            "concept_a": 'answer_a = "B "\n', "concept_b": "critical_lr = 2 // 2\n",
            "concept_d": "best_point = [50, 25]\n",
        },
        score=22,
    ),
]
