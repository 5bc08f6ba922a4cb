"""The reference mini-batch iterator and the three gradient-descent variants (chapter 3)."""

import numpy as np
import pytest
import torch

from course.reference import minibatch as mb


def epochs_of(n, batch_size, seed, epochs):
    rng = np.random.default_rng(seed)
    return [list(mb.minibatches(n, batch_size, rng)) for _ in range(epochs)]


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (7, 7), (5, 1), (3, 10)])
def test_every_sample_once_per_epoch_and_last_batch_kept(n, batch_size):
    for batches in epochs_of(n, batch_size, seed=0, epochs=3):
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        sizes = [len(b) for b in batches]
        assert sizes[:-1] == [batch_size] * (len(sizes) - 1)
        assert sizes[-1] == (n % batch_size or min(batch_size, n))


def test_shuffles_every_epoch_and_is_seeded():
    first = epochs_of(50, 8, seed=1, epochs=2)
    again = epochs_of(50, 8, seed=1, epochs=2)
    other = epochs_of(50, 8, seed=2, epochs=1)
    order = [np.concatenate(e) for e in first]
    again = [np.concatenate(e) for e in again]
    assert all(np.array_equal(a, b) for a, b in zip(order, again, strict=True))
    assert not np.array_equal(order[0], order[1])
    assert not np.array_equal(order[0], np.concatenate(other[0]))
    assert not np.array_equal(order[0], np.arange(50))


@pytest.mark.parametrize("bad", [0, -1, 2.0])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        list(mb.minibatches(10, bad, np.random.default_rng(0)))


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(23, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=23)


def test_gradient_matches_torch_autograd(data):
    X, y = data
    w = torch.tensor([0.3, -0.1, 2.0], dtype=torch.float64, requires_grad=True)
    loss = torch.mean((torch.from_numpy(X) @ w - torch.from_numpy(y)) ** 2)
    loss.backward()
    np.testing.assert_allclose(mb.mse_gradient(w.detach().numpy(), X, y), w.grad.numpy(),
                               rtol=1e-12)
    assert mb.mse_loss(w.detach().numpy(), X, y) == pytest.approx(loss.item(), rel=1e-12)


def test_minibatch_gd_matches_torch_sgd_on_the_same_batches(data):
    X, y = data
    rng = np.random.default_rng(9)
    batches = [b for _ in range(4) for b in mb.minibatches(len(y), 5, rng)]
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for b in batches:
        optimizer.zero_grad()
        torch.mean((Xt[b] @ w - yt[b]) ** 2).backward()
        optimizer.step()
    w_ref, losses = mb.minibatch_gd(X, y, np.zeros(3), 0.05, 5, 4, seed=9)
    np.testing.assert_allclose(w_ref, w.detach().numpy(), rtol=1e-12)
    assert len(losses) == 5 and losses[-1] == pytest.approx(mb.mse_loss(w_ref, X, y))


def test_batch_gd_is_the_closed_form_iteration(data):
    X, y = data
    # w_{k+1} = w_k - lr * 2/n X^T (X w_k - y) is affine: w_k - w* = (I - lr*2/n X^T X)^k (w_0 - w*)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    A = np.eye(3) - 0.1 * 2 / len(y) * X.T @ X
    w, _ = mb.batch_gd(X, y, np.zeros(3), 0.1, 30)
    np.testing.assert_allclose(w, w_star + np.linalg.matrix_power(A, 30) @ -w_star, rtol=1e-10)


def test_sgd_takes_one_step_per_sample(data):
    X, y = data
    rng = np.random.default_rng(0)
    w = np.zeros(3)
    for (i,) in mb.minibatches(len(y), 1, rng):
        w = w - 0.01 * 2 * X[i] * (X[i] @ w - y[i])
    np.testing.assert_allclose(mb.sgd(X, y, np.zeros(3), 0.01, 1, seed=0)[0], w, rtol=1e-12)


def test_noise_and_slope():
    assert mb.loglog_slope([1, 10, 100], [3.0, 0.3, 0.03]) == pytest.approx(-1.0)
    rng = np.random.default_rng(42)
    X = rng.normal(size=(1000, 3))
    y = X @ np.array([2.0, -1.5, 0.5]) + 0.5 * rng.normal(size=1000)
    sizes = [1, 2, 4, 8, 16, 32, 64]
    rng = np.random.default_rng(1)
    noise = [mb.gradient_noise(X, y, np.zeros(3), b, 2000, rng) for b in sizes]
    assert abs(mb.loglog_slope(sizes, noise) + 0.5) < 0.05
    # drawn without replacement: half the data per batch has sqrt(499/999) of the noise of
    # batches drawn with replacement, which the slope above cannot tell apart
    half = mb.gradient_noise(X, y, np.zeros(3), 500, 2000, rng)
    assert half == pytest.approx(mb.gradient_noise_formula(X, y, np.zeros(3), 500), rel=0.04)


def test_noise_formula_by_exact_enumeration():
    # every batch of 2 of 5 samples, equally likely: the mean squared distance, by brute force
    from itertools import combinations

    rng = np.random.default_rng(3)
    X, y, w = rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=2)
    full = mb.mse_gradient(w, X, y)
    squared = [np.sum((mb.mse_gradient(w, X[list(b)], y[list(b)]) - full) ** 2)
               for b in combinations(range(5), 2)]
    assert mb.gradient_noise_formula(X, y, w, 2) == pytest.approx(np.sqrt(np.mean(squared)),
                                                                  rel=1e-12)
