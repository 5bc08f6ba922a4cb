"""Loss surfaces used across the chapters, each with its exact gradient and Hessian.

A 1-D landscape takes ``w`` as a number or an array of points (elementwise); its ``grad`` and
``hess`` are the first and second derivatives. A 2-D landscape takes ``w`` of shape ``(..., 2)``
(a point, or a grid of points stacked on the last axis); ``grad`` returns shape ``(..., 2)`` and
``hess`` shape ``(..., 2, 2)``. Everything is float64 NumPy.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Landscape:
    name: str
    formula: str  # LaTeX, for titles and prose
    f: Callable
    grad: Callable
    hess: Callable
    dim: int
    bounds: tuple  # plotting window: (lo, hi) in 1-D, ((x_lo, x_hi), (y_lo, y_hi)) in 2-D
    minima: tuple = field(default=())  # known minimisers, global first

    def __call__(self, w):
        return self.f(w)


def _w(w):
    return np.asarray(w, dtype=float)


def _xy(w):
    w = _w(w)
    if w.shape[-1:] != (2,):
        raise ValueError(f"a 2-D landscape takes points of shape (..., 2), got shape {w.shape}")
    return w[..., 0], w[..., 1]


def _stack(a, b):
    return np.stack(np.broadcast_arrays(a, b), axis=-1)


def _hess2(hxx, hxy, hyy):
    hxx, hxy, hyy = np.broadcast_arrays(hxx, hxy, hyy)
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)


def shifted_square(a: float = 3.0) -> Landscape:
    """(w − a)², minimum 0 at w = a."""
    return Landscape(
        f"(w-{a:g})^2", rf"(w-{a:g})^2",
        f=lambda w: (_w(w) - a) ** 2,
        grad=lambda w: 2 * (_w(w) - a),
        hess=lambda w: np.full_like(_w(w), 2.0),
        dim=1, bounds=(a - 5, a + 5), minima=(a,),
    )


quadratic = Landscape(
    "x^2-4x+5", r"x^2 - 4x + 5",
    f=lambda x: _w(x) ** 2 - 4 * _w(x) + 5,
    grad=lambda x: 2 * _w(x) - 4,
    hess=lambda x: np.full_like(_w(x), 2.0),
    dim=1, bounds=(-3.0, 7.0), minima=(2.0,),
)

tilted_double_well = Landscape(
    "x^4-8x^2+x", r"x^4 - 8x^2 + x",
    f=lambda x: _w(x) ** 4 - 8 * _w(x) ** 2 + _w(x),
    grad=lambda x: 4 * _w(x) ** 3 - 16 * _w(x) + 1,
    hess=lambda x: 12 * _w(x) ** 2 - 16,
    dim=1, bounds=(-3.2, 3.2),
    # roots of 4x^3 - 16x + 1 with 12x^2 - 16 > 0, the deeper (left) one first
    minima=tuple(sorted((r.real for r in np.roots([4, 0, -16, 1]) if 12 * r.real**2 > 16),
                        key=lambda x: x**4 - 8 * x**2 + x)),
)

double_well = Landscape(
    "w^4-2w^2", r"w^4 - 2w^2",
    f=lambda w: _w(w) ** 4 - 2 * _w(w) ** 2,
    grad=lambda w: 4 * _w(w) ** 3 - 4 * _w(w),
    hess=lambda w: 12 * _w(w) ** 2 - 4,
    dim=1, bounds=(-1.8, 1.8), minima=(-1.0, 1.0),
)

gaussian_well = Landscape(
    "1-exp(-w^2/2)", r"1 - e^{-w^2/2}",
    f=lambda w: 1 - np.exp(-_w(w) ** 2 / 2),
    grad=lambda w: _w(w) * np.exp(-_w(w) ** 2 / 2),
    hess=lambda w: (1 - _w(w) ** 2) * np.exp(-_w(w) ** 2 / 2),
    dim=1, bounds=(-5.0, 5.0), minima=(0.0,),
)  # a well whose walls flatten into a plateau at L = 1: tiny gradients far from the minimum


def _ravine_f(w):
    x, y = _xy(w)
    return x**2 + 25 * y**2


ravine = Landscape(
    "w1^2+25w2^2", r"w_1^2 + 25\,w_2^2",
    f=_ravine_f,
    grad=lambda w: _stack(2 * _xy(w)[0], 50 * _xy(w)[1]),
    hess=lambda w: _hess2(np.full_like(_xy(w)[0], 2.0), 0.0, 50.0),
    dim=2, bounds=((-10.0, 10.0), (-3.0, 3.0)), minima=((0.0, 0.0),),
)


def _revenue_loss(w):
    x, y = _xy(w)
    return -(100 * x + 50 * y - x**2 - y**2)


negative_revenue = Landscape(
    "-R(x1,x2)", r"-(100x_1 + 50x_2 - x_1^2 - x_2^2)",
    f=_revenue_loss,
    grad=lambda w: _stack(2 * _xy(w)[0] - 100, 2 * _xy(w)[1] - 50),
    hess=lambda w: _hess2(np.full_like(_xy(w)[0], 2.0), 0.0, 2.0),
    dim=2, bounds=((0.0, 100.0), (-25.0, 75.0)), minima=((50.0, 25.0),),
)


def _rosenbrock_f(w, a=1.0, b=100.0):
    x, y = _xy(w)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def _rosenbrock_grad(w, a=1.0, b=100.0):
    x, y = _xy(w)
    return _stack(-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2))


def _rosenbrock_hess(w, a=1.0, b=100.0):
    x, y = _xy(w)
    return _hess2(2 - 4 * b * (y - x**2) + 8 * b * x**2, -4 * b * x, 2 * b + 0 * x)


rosenbrock = Landscape(
    "Rosenbrock", r"(1-x)^2 + 100\,(y-x^2)^2",
    f=_rosenbrock_f, grad=_rosenbrock_grad, hess=_rosenbrock_hess,
    dim=2, bounds=((-2.0, 2.0), (-1.0, 3.0)), minima=((1.0, 1.0),),
)

# Beale: sum of (c_i - x + x * y**i)**2 for i = 1, 2, 3
_BEALE_C = (1.5, 2.25, 2.625)


def _beale_terms(w):
    x, y = _xy(w)
    return x, y, [(c - x + x * y**i, i) for i, c in enumerate(_BEALE_C, start=1)]


def _beale_f(w):
    _, _, terms = _beale_terms(w)
    return sum(r**2 for r, _ in terms)


def _beale_grad(w):
    x, y, terms = _beale_terms(w)
    gx = sum(2 * r * (y**i - 1) for r, i in terms)
    gy = sum(2 * r * i * x * y ** (i - 1) for r, i in terms)
    return _stack(gx, gy)


def _beale_hess(w):
    x, y, terms = _beale_terms(w)
    hxx = sum(2 * (y**i - 1) ** 2 for _, i in terms)
    hxy = sum(2 * (i * x * y ** (i - 1)) * (y**i - 1) + 2 * r * i * y ** (i - 1) for r, i in terms)
    hyy = sum(2 * (i * x * y ** (i - 1)) ** 2
              + 2 * r * i * (i - 1) * x * y ** max(i - 2, 0) for r, i in terms)
    return _hess2(hxx, hxy, hyy)


beale = Landscape(
    "Beale", r"\sum_{i=1}^{3} (c_i - x + x y^i)^2,\ c = (1.5,\ 2.25,\ 2.625)",
    f=_beale_f, grad=_beale_grad, hess=_beale_hess,
    dim=2, bounds=((-4.5, 4.5), (-4.5, 4.5)), minima=((3.0, 0.5),),
)

saddle = Landscape(
    "x^2-y^2", r"x^2 - y^2",
    f=lambda w: _xy(w)[0] ** 2 - _xy(w)[1] ** 2,
    grad=lambda w: _stack(2 * _xy(w)[0], -2 * _xy(w)[1]),
    hess=lambda w: _hess2(np.full_like(_xy(w)[0], 2.0), 0.0, -2.0),
    dim=2, bounds=((-2.0, 2.0), (-2.0, 2.0)), minima=(),
)

# One tanh unit, tanh(w x + b), fitted to the two points (x, y) = (-1, -0.5) and (1, 0.5) by half
# the summed squared error, as a function of (w, b). Where |w x + b| is large for both points the
# unit saturates: the loss is flat in every direction (a plateau), 2.25 where both outputs have
# the wrong sign. Its one minimum is (atanh(0.5), 0), with loss 0.
_UNIT_X, _UNIT_Y = np.array([-1.0, 1.0]), np.array([-0.5, 0.5])


def _unit_terms(w):
    weight, bias = _xy(w)
    t = np.tanh(weight[..., None] * _UNIT_X + bias[..., None])
    return t, (t - _UNIT_Y) * (1 - t**2)  # the outputs and d(loss)/d(w x + b) per point


def _unit_hess(w):
    t, _ = _unit_terms(w)
    s = (1 - t**2) * (1 - t**2 - 2 * t * (t - _UNIT_Y))  # d²(loss)/d(w x + b)² per point
    return _hess2(np.sum(s * _UNIT_X**2, -1), np.sum(s * _UNIT_X, -1), np.sum(s, -1))


tanh_unit = Landscape(
    "tanh unit", r"\frac{1}{2}\sum_i (\tanh(w x_i + b) - y_i)^2",
    f=lambda w: 0.5 * np.sum((_unit_terms(w)[0] - _UNIT_Y) ** 2, -1),
    grad=lambda w: _stack(np.sum(_unit_terms(w)[1] * _UNIT_X, -1), np.sum(_unit_terms(w)[1], -1)),
    hess=_unit_hess,
    dim=2, bounds=((-5.0, 3.0), (-3.0, 3.0)), minima=((float(np.arctanh(0.5)), 0.0),),
)

ALL = {ls.name: ls for ls in (quadratic, shifted_square(3.0), tilted_double_well, double_well,
                              gaussian_well, ravine, negative_revenue, rosenbrock, beale, saddle,
                              tanh_unit)}
