"""What the test cells of the exercise notebooks call.

Every check turns the student's answer into a NumPy float array first and checks its type, shape
and finiteness, so only real numbers earn points (an object whose ``__eq__`` always says True
earns nothing). A failed check raises ``AssertionError`` with a message that says what was
expected, what came, and, when the answer matches a known mistake, what the mistake probably was.
"""

import contextlib
import warnings
from collections.abc import Iterable

import numpy as np

__all__ = ["as_float_array", "check_close", "check_choice", "check_true", "quiet"]


def _show(x) -> str:
    a = np.asarray(x)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return np.array2string(a, precision=6, threshold=12, separator=", ")


def as_float_array(value, name: str = "the answer", *, shape=None, finite=True) -> np.ndarray:
    """``value`` as a float array, or an ``AssertionError`` that says why it cannot be one."""
    if value is None:
        raise AssertionError(f"{name} is None: did you forget to `return` it?")
    if isinstance(value, str | bytes):
        raise AssertionError(f"{name} should be a number or an array, got the text {value!r}")
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise AssertionError(
            f"{name} should be a number or an array of numbers, got {type(value).__name__}"
        ) from err
    if shape is not None and arr.shape != tuple(shape):
        raise AssertionError(f"{name} should have shape {tuple(shape)}, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise AssertionError(f"{name} contains NaN or inf: {_show(arr)}")
    return arr


def check_close(name: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                mistakes: Iterable[tuple[object, str]] = (), hint: str | None = None) -> None:
    """Assert that ``got`` equals ``expected`` within ``rtol``/``atol``.

    ``mistakes`` pairs the answer a known mistake gives with what to tell the student about it:
    ``check_close("w1", w1, 0.6, mistakes=[(-0.6, "did you add the gradient?")])``.
    ``hint`` is said whenever the check fails and no known mistake matched.
    """
    expected = np.asarray(expected, dtype=float)
    finite = bool(np.all(np.isfinite(expected)))
    arr = as_float_array(got, name, shape=expected.shape, finite=finite)
    if np.allclose(arr, expected, rtol=rtol, atol=atol, equal_nan=True):
        return
    message = f"expected {name} = {_show(expected)}, got {_show(arr)}"
    for wrong, why in mistakes:
        wrong = np.asarray(wrong, dtype=float)
        if wrong.shape == arr.shape and np.allclose(arr, wrong, rtol=rtol, atol=atol):
            raise AssertionError(f"{message}: {why}")
    raise AssertionError(f"{message}: {hint}" if hint else message)


def check_choice(name: str, got, expected: str, options: str = "abcd",
                 explanations: dict[str, str] | None = None) -> None:
    """Assert a multiple-choice answer: one letter among ``options``, case-insensitive.

    ``explanations`` maps wrong letters to a hint about why that option is tempting but wrong.
    """
    if not isinstance(got, str) or got.strip().lower() not in options:
        raise AssertionError(
            f"{name} should be one of the letters {', '.join(map(repr, options))}, got {got!r}"
        )
    letter = got.strip().lower()
    if letter != expected:
        why = (explanations or {}).get(letter)
        raise AssertionError(f"{name}: {letter!r} is not right" + (f": {why}" if why else ""))


def check_true(condition, message: str) -> None:
    """Assert a yes/no property of the answer, with the message to show when it fails."""
    if condition is not True and condition is not np.True_:
        raise AssertionError(message)


@contextlib.contextmanager
def quiet():
    """Silence NumPy's floating-point warnings (overflow, invalid value) and Python warnings.

    Diverging gradient descent warns exactly when it should; nbgrader marks a test cell failed
    when anything reaches stderr, so test cells run student code inside ``with quiet():``.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
