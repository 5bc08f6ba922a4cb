"""Known-wrong submissions of chapter 2 (loss landscapes): 21 points in all.

Points per test cell: test_critical_points 2, test_two_steps 1, test_ravine 2, test_curvature 3,
test_iterations_to_reduce 3, test_newton_step 2, test_random_restarts 2, six concept checks 1
each. Every cell tests one solution cell, so each mistake costs exactly its own cell.
``tests/test_ch02_grading.py`` proves each message in-process; these go through nbgrader.
"""

from tests.submissions import Wrong

_CONDITION = '''
def condition_number(hessian):
    eigenvalues = np.linalg.eigvalsh(np.asarray(hessian, dtype=float))
    return eigenvalues[-1] / eigenvalues[0]

'''

_ITERATIONS = '''
def iterations_to_reduce(eigenvalues, factor):
    eigenvalues = np.asarray(eigenvalues, dtype=float)
    lr = {lr}
    rho = np.max(np.abs(1 - lr * eigenvalues))
    return int(np.ceil(np.log(factor) / ({power} * np.log(rho))))
'''

_RESTARTS = '''
def random_restarts(f, grad, starts, lr, steps):
    ends = []
    for x in np.asarray(starts, dtype=float):
        for _ in range(steps):
            x = x - lr * grad(x)
        ends.append(x)
    ends = np.array(ends)
'''

WRONG = [
    Wrong(
        name="maximum_called_saddle",
        mistake="labels the critical point w = 0 of w^4 - 2w^2 a saddle",
        replace={"critical_points": 'critical_points = {-1: "minimum", 0: "saddle", '
                                    '1: "minimum"}\n'},
        score=19,
        fails={"test_critical_points": "makes it a maximum"},
    ),
    Wrong(
        name="stability_from_smallest_eigenvalue",
        mistake="max_stable_lr uses the smallest eigenvalue, 2 / lambda_min",
        replace={"curvature": _CONDITION + '''
def max_stable_lr(hessian):
    return 2.0 / np.linalg.eigvalsh(np.asarray(hessian, dtype=float))[0]
'''},
        score=18,
        fails={"test_curvature": "largest eigenvalue, 2 / 50"},
    ),
    Wrong(
        name="condition_number_from_diagonal",
        mistake="reads the eigenvalues off the diagonal, right only for a diagonal Hessian",
        replace={"curvature": '''
def condition_number(hessian):
    d = np.diag(np.asarray(hessian, dtype=float))
    return d.max() / d.min()


def max_stable_lr(hessian):
    return 2.0 / np.diag(np.asarray(hessian, dtype=float)).max()
'''},
        score=18,
        fails={"test_curvature": "not the diagonal"},
    ),
    Wrong(
        name="seed_step_one_over_lambda_max",
        mistake="counts steps at lr = 1 / lambda_max, the seed's 'optimal' step",
        replace={"iterations_to_reduce": _ITERATIONS.format(lr="1 / eigenvalues.max()",
                                                            power="-2")},
        score=18,
        fails={"test_iterations_to_reduce": "best fixed step is 2 / (lambda_min + lambda_max)"},
    ),
    Wrong(
        name="loss_rate_not_squared",
        mistake="lets the loss shrink by rho per step instead of rho squared",
        replace={"iterations_to_reduce": _ITERATIONS.format(
            lr="2 / (eigenvalues.min() + eigenvalues.max())", power="-1")},
        score=18,
        fails={"test_iterations_to_reduce": "sum of squares"},
    ),
    Wrong(
        name="restart_picks_diverged_start",
        mistake="random_restarts takes argmin over losses that may be nan",
        replace={"random_restarts": _RESTARTS + "    return float(ends[np.argmin(f(ends))])\n"},
        score=19,
        fails={"test_random_restarts": "skip end points that are inf or nan"},
    ),
    Wrong(
        name="seed_global_minimum_on_the_right",
        mistake="believes the seed: the global minimum of x^4 - 8x^2 + x near x = 2",
        replace={"concept_a": 'answer_a = "b"\n'},
        score=20,
        fails={"test_concept_a": "lowers the left valley"},
    ),
    Wrong(
        name="best_lr_one_over_lambda_max",
        mistake="gives 1 / lambda_max as the best fixed learning rate",
        replace={"concept_d": "best_lr = 1 / 100\n"},
        score=20,
        fails={"test_concept_d": "balances both"},
    ),
    Wrong(
        name="restart_smallest_end_point",
        mistake="random_restarts returns the smallest finite end point, ignoring f",
        replace={"random_restarts": _RESTARTS
                 + "    return float(np.min(ends[np.isfinite(ends)]))\n"},
        score=19,
        fails={"test_random_restarts": "not the smallest x"},
    ),
    Wrong(
        name="two_steps_gradient_added",
        mistake="the two hand steps add the gradient",
        replace={"two_steps": "w1 = 2 + 0.01 * 24\nw2 = w1 + 0.01 * (4 * w1**3 - 4 * w1)\n"},
        score=20,
        fails={"test_two_steps": "add the gradient"},
    ),
    Wrong(
        name="newton_divides_by_the_diagonal",
        mistake="newton_step divides the gradient by the Hessian's diagonal",
        replace={"newton_step": "def newton_step(w, grad, hess):\n"
                                "    return w - grad / np.diag(hess)\n"},
        score=19,
        fails={"test_newton_step": "only when H is diagonal"},
    ),
    Wrong(
        name="curvature_in_float32",
        mistake="the eigenvalues are computed in float32",
        replace={"curvature": _CONDITION.replace("dtype=float", "dtype=np.float32") + '''
def max_stable_lr(hessian):
    return 2.0 / np.linalg.eigvalsh(np.asarray(hessian, dtype=np.float32))[-1]
'''},
        score=18,
        fails={"test_curvature": "float32"},
    ),
    Wrong(
        name="right_in_another_style",
        mistake="none: Python floats in a loop, word labels with other spellings, lists",
        replace={
            "critical_points": 'critical_points = {-1: "Local minimum", 0: " maximum", '
                               '1: "global minimum"}\n',
            "ravine": "def ravine_gradient(w):\n    return [2.0 * w[0], 50.0 * w[1]]\n\n\n"
                      "def ravine_hessian():\n    return [[2, 0], [0, 50]]\n",
            "random_restarts": '''
def random_restarts(f, grad, starts, lr, steps):
    ends = []
    for x in starts:
        x = float(x)
        for _ in range(steps):
            x = x - lr * grad(x)
        if x == x and abs(x) != float("inf"):
            ends.append(x)
    return min(ends, key=f)
''',
            "concept_d": "best_lr = 0.0198\n",
        },
        score=21,
    ),
]
