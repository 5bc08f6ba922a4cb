"""Every landscape's value, gradient and Hessian against torch.autograd at random points."""

import numpy as np
import pytest
import torch

from course import landscapes

ALL = list(landscapes.ALL.values())


def torch_f(landscape, w):
    """The landscape's formula rebuilt in torch from its name (independent of the NumPy code)."""
    if landscape.dim == 1:
        x = w
        return {"x^2-4x+5": x**2 - 4 * x + 5, "(w-3)^2": (x - 3) ** 2,
                "x^4-8x^2+x": x**4 - 8 * x**2 + x, "w^4-2w^2": x**4 - 2 * x**2,
                "1-exp(-w^2/2)": 1 - torch.exp(-x**2 / 2)}[landscape.name]
    x, y = w[0], w[1]
    return {
        "w1^2+25w2^2": x**2 + 25 * y**2,
        "-R(x1,x2)": -(100 * x + 50 * y - x**2 - y**2),
        "Rosenbrock": (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        "Beale": (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
        + (2.625 - x + x * y**3) ** 2,
        "x^2-y^2": x**2 - y**2,
        "tanh unit": 0.5 * ((torch.tanh(-x + y) + 0.5) ** 2 + (torch.tanh(x + y) - 0.5) ** 2),
    }[landscape.name]


@pytest.mark.parametrize("landscape", ALL, ids=lambda ls: ls.name)
def test_value_gradient_hessian_match_autograd(landscape):
    rng = np.random.default_rng(0)
    for _ in range(10):
        point = rng.uniform(-2, 2, size=() if landscape.dim == 1 else (2,))
        w = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        value = torch_f(landscape, w)
        (grad,) = torch.autograd.grad(value, w)
        hess = torch.autograd.functional.hessian(lambda v: torch_f(landscape, v),
                                                 torch.tensor(point, dtype=torch.float64))
        np.testing.assert_allclose(landscape.f(point), value.item(), rtol=1e-12)
        np.testing.assert_allclose(landscape.grad(point), grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(landscape.hess(point), hess.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("landscape", [ls for ls in ALL if ls.dim == 2], ids=lambda ls: ls.name)
def test_2d_landscapes_work_on_grids(landscape):
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3)), axis=-1)
    assert landscape.f(grid).shape == (3, 4)
    assert landscape.grad(grid).shape == (3, 4, 2)
    assert landscape.hess(grid).shape == (3, 4, 2, 2)
    np.testing.assert_allclose(landscape.grad(grid)[1, 2], landscape.grad(grid[1, 2]))
    with pytest.raises(ValueError, match="shape"):
        landscape.f(np.zeros(3))


@pytest.mark.parametrize("landscape", [ls for ls in ALL if ls.minima], ids=lambda ls: ls.name)
def test_stated_minima_are_minima(landscape):
    for minimum in landscape.minima:
        m = np.asarray(minimum, dtype=float)
        np.testing.assert_allclose(landscape.grad(m), 0, atol=1e-9)
        hess = np.atleast_2d(landscape.hess(m))
        assert np.all(np.linalg.eigvalsh(hess) > 0), f"{landscape.name}: {m} is not a minimum"


def test_tilted_double_well_lists_the_global_minimum_first():
    ls = landscapes.tilted_double_well
    left, right = ls.minima
    assert ls.f(left) < ls.f(right)
    grid = np.linspace(-4, 4, 400001)
    assert abs(grid[np.argmin(ls.f(grid))] - left) < 1e-4


def test_saddle_has_no_minimum_and_mixed_curvature():
    eig = np.linalg.eigvalsh(landscapes.saddle.hess(np.zeros(2)))
    assert eig[0] < 0 < eig[1]
    assert landscapes.saddle.minima == ()
