"""Batch, stochastic and mini-batch gradient descent on least squares (chapter 3)."""

import numpy as np


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator):
    """Yield the index arrays of one epoch: a fresh permutation of range(n_samples) from ``rng``,
    cut into batches of ``batch_size``; the last batch keeps the remainder."""
    if not (isinstance(batch_size, int | np.integer) and batch_size >= 1):
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    order = rng.permutation(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start:start + batch_size]


def mse_loss(w, X, y) -> float:
    return float(np.mean((X @ w - y) ** 2))


def mse_gradient(w, X, y) -> np.ndarray:
    """Gradient of mean((X w - y)^2) with respect to w."""
    return 2 * X.T @ (X @ w - y) / len(y)


def minibatch_gd(X, y, w0, lr: float, batch_size: int, epochs: int, seed: int = 0):
    """Mini-batch gradient descent: one step per batch, ``epochs`` passes over the data.
    Returns (final w, the full-data loss before training and after each epoch)."""
    rng = np.random.default_rng(seed)
    w = np.array(w0, dtype=float)
    losses = [mse_loss(w, X, y)]
    for _ in range(epochs):
        for batch in minibatches(len(y), batch_size, rng):
            w = w - lr * mse_gradient(w, X[batch], y[batch])
        losses.append(mse_loss(w, X, y))
    return w, np.array(losses)


def batch_gd(X, y, w0, lr, epochs, seed=0):
    """Full-batch gradient descent: one step per epoch on all the data."""
    return minibatch_gd(X, y, w0, lr, len(y), epochs, seed)


def sgd(X, y, w0, lr, epochs, seed=0):
    """Stochastic gradient descent: one step per sample."""
    return minibatch_gd(X, y, w0, lr, 1, epochs, seed)


def gradient_noise(X, y, w, batch_size: int, n_batches: int, rng: np.random.Generator) -> float:
    """Root-mean-square distance between mini-batch gradients at ``w`` and the full-data gradient,
    over ``n_batches`` batches of ``batch_size`` samples, each drawn without replacement with
    ``rng.choice`` (the chapter-3 exercise's recipe)."""
    full = mse_gradient(w, X, y)
    squared = []
    for _ in range(n_batches):
        batch = rng.choice(len(y), batch_size, replace=False)
        squared.append(np.sum((mse_gradient(w, X[batch], y[batch]) - full) ** 2))
    return float(np.sqrt(np.mean(squared)))


def gradient_noise_formula(X, y, w, batch_size: int) -> float:
    """The closed form of ``gradient_noise`` for batches drawn without replacement:
    sqrt(sigma^2 / B * (N - B) / (N - 1)), sigma^2 the summed variance of the per-sample
    gradients at ``w``."""
    per_sample = 2 * X * (X @ w - y)[:, None]
    sigma2 = per_sample.var(axis=0).sum()
    n = len(y)
    return float(np.sqrt(sigma2 / batch_size * (n - batch_size) / (n - 1)))


def loglog_slope(x, y) -> float:
    """Slope of the least-squares line through (log x, log y)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
