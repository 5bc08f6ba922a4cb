"""Curvature and what it says about gradient descent (chapter 2): critical points, the largest
stable learning rate, the condition number, the best fixed step on a quadratic and the number of
steps it needs, Newton's step, and random restarts on a landscape with several minima."""

import math

import numpy as np


def classify_critical_point(second_derivative: float) -> str:
    """"minimum" if f'' > 0, "maximum" if f'' < 0, "undetermined" if f'' = 0 (1-D)."""
    if second_derivative > 0:
        return "minimum"
    if second_derivative < 0:
        return "maximum"
    return "undetermined"


def _eigenvalues(hessian) -> np.ndarray:
    h = np.asarray(hessian, dtype=float)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or not np.allclose(h, h.T):
        raise ValueError(f"a Hessian is a symmetric square matrix, got shape {h.shape}")
    return np.linalg.eigvalsh(h)


def _positive_eigenvalues(hessian) -> np.ndarray:
    eig = _eigenvalues(hessian)
    if eig[0] <= 0:
        raise ValueError(f"the Hessian is not positive definite: eigenvalues {eig}")
    return eig


def condition_number(hessian) -> float:
    """lambda_max / lambda_min of a positive-definite Hessian."""
    eig = _positive_eigenvalues(hessian)
    return float(eig[-1] / eig[0])


def max_stable_lr(hessian) -> float:
    """2 / lambda_max: gradient descent on the quadratic converges for every lr below it."""
    return float(2.0 / _eigenvalues(hessian)[-1])


def best_fixed_lr(eigenvalues) -> float:
    """2 / (lambda_min + lambda_max): the step that contracts the slowest direction fastest."""
    eig = np.asarray(eigenvalues, dtype=float)
    return float(2.0 / (eig.min() + eig.max()))


def iterations_to_reduce(eigenvalues, factor: float, lr: float | None = None) -> int:
    """Steps of gradient descent on 0.5 w^T H w (H with these eigenvalues) that cut the loss by
    ``factor`` from any start: each component is multiplied by |1 - lr*lambda| per step, the loss
    by the square of the largest such factor. ``lr`` defaults to the best fixed step."""
    eig = np.asarray(eigenvalues, dtype=float)
    lr = best_fixed_lr(eig) if lr is None else lr
    rate = float(np.max(np.abs(1 - lr * eig)))
    if rate >= 1:
        raise ValueError(f"lr = {lr:g} does not converge on eigenvalues {eig}")
    if rate == 0:
        return 1
    return math.ceil(math.log(factor) / (-2 * math.log(rate)) - 1e-12)


def newton_step(w, grad, hess) -> np.ndarray:
    """w - H^{-1} grad: the minimum of the quadratic model of the loss at w (H positive
    definite)."""
    _positive_eigenvalues(hess)
    return np.asarray(w, dtype=float) - np.linalg.solve(np.asarray(hess, dtype=float),
                                                        np.asarray(grad, dtype=float))


def random_restarts(f, grad, starts, lr: float, steps: int):
    """Gradient descent from every start; returns (best end point, all end points)."""
    ends = []
    with np.errstate(all="ignore"):
        for w in np.asarray(starts, dtype=float):
            for _ in range(steps):
                w = w - lr * grad(w)
            ends.append(w)
    ends = np.array(ends)
    losses = np.where(np.isfinite(ends), f(ends), np.inf)
    return float(ends[np.argmin(losses)]), ends
