"""What the test cells of the exercise notebooks call.

Every check first turns the student's answer into a trusted type, once: a NumPy float array
(``as_float_array``), an ``int`` (``as_int``) or an exact ``str`` (``as_text``), and compares only
that copy. So only real numbers and real text earn points: an object whose ``__eq__`` always says
True, whose ``__float__`` changes its mind, or a ``str`` subclass whose ``strip`` lies, earns
nothing. A failed check raises ``AssertionError`` with a message that says what was expected, what
came, and, when the answer matches a known mistake, what the mistake probably was.
"""

import contextlib
import warnings
from collections.abc import Iterable

import numpy as np

__all__ = ["as_float_array", "as_int", "as_text", "check_close", "check_choice", "check_label",
           "check_true", "quiet", "TorchOptimizer", "check_same_steps", "checked_step",
           "from_scratch"]

FLOAT32_NOTE = ("your numbers agree to about 7 significant digits, as float32 arithmetic rounds: "
                "the tests compare in float64, so work with np.asarray(x, dtype=float)")


def _show(x, digits: int = 6) -> str:
    a = np.asarray(x)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    with np.printoptions(precision=digits, threshold=12, linewidth=100):
        return np.array2string(a, separator=", ")


def _show_both(expected, got) -> tuple[str, str]:
    """Both values, with enough digits to tell them apart (6 unless they print alike)."""
    for digits in (6, 10, 17):
        shown = _show(expected, digits), _show(got, digits)
        if shown[0] != shown[1]:
            break
    return shown


def _float32_rounding(raw, got: np.ndarray, expected: np.ndarray) -> bool:
    """Whether ``got`` is ``expected`` computed in float32: close to it, and made of float32
    numbers (or handed back as a float32 array) where ``expected`` is not."""
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    if float(np.max(np.abs(got - expected), initial=0.0)) > 1e-4 * scale:
        return False
    def single(a):
        return np.array_equal(a.astype(np.float32).astype(float), a)
    handed_float32 = isinstance(raw, np.ndarray | np.floating) and raw.dtype in (
        np.float32, np.float16)
    return (handed_float32 or single(got)) and not single(expected)


def as_float_array(value, name: str = "the answer", *, shape=None, finite=True,
                   nonfinite: str | None = None) -> np.ndarray:
    """``value`` as a float array, or an ``AssertionError`` that says why it cannot be one;
    ``nonfinite`` is what to add when it holds NaN or inf (the likely cause)."""
    if value is None:
        raise AssertionError(f"{name} is None: did you forget to `return` it, or to assign it?")
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
        message = f"{name} contains NaN or inf: {_show(arr)}"
        raise AssertionError(f"{message}: {nonfinite}" if nonfinite else message)
    return arr


def as_int(value, name: str = "the answer") -> int:
    """``value`` as a Python ``int`` (a whole number given as an int, a NumPy integer or a whole
    float), or an ``AssertionError`` that says why it is not one."""
    if isinstance(value, bool | np.bool_):
        raise AssertionError(f"{name} should be a whole number, got {value!r}")
    if isinstance(value, int | np.integer):
        return int.__index__(value) if isinstance(value, int) else int(value)
    arr = as_float_array(value, name, shape=())
    if arr != np.round(arr):
        raise AssertionError(f"{name} should be a whole number, got {_show(arr)}")
    return int(arr)


def as_text(value, name: str = "the answer") -> str:
    """``value`` as an exact ``str`` (the characters of a ``str`` or ``str`` subclass, none of its
    methods called), or an ``AssertionError`` that says it is not text."""
    if value is None:
        raise AssertionError(f"{name} is None: did you forget to `return` it, or to assign it?")
    if not isinstance(value, str):
        raise AssertionError(f"{name} should be text (a str), got {type(value).__name__}")
    return str.__str__(value)  # an exact str copy: no method of a subclass is called


def check_close(name: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                mistakes: Iterable[tuple[object, str]] = (), hint: str | None = None,
                nonfinite: str | None = None) -> None:
    """Assert that ``got`` equals ``expected`` within ``rtol``/``atol``.

    ``mistakes`` pairs the answer a known mistake gives with what to tell the student about it:
    ``check_close("w1", w1, 0.6, mistakes=[(-0.6, "did you add the gradient?")])``.
    ``hint`` is said whenever the check fails and no known mistake matched; ``nonfinite`` when
    the answer holds NaN or inf where the expected value does not.
    """
    expected = np.asarray(expected, dtype=float)
    finite = bool(np.all(np.isfinite(expected)))
    arr = as_float_array(got, name, shape=expected.shape, finite=finite, nonfinite=nonfinite)
    if np.allclose(arr, expected, rtol=rtol, atol=atol, equal_nan=True):
        return
    shown_expected, shown_got = _show_both(expected, arr)
    message = f"expected {name} = {shown_expected}, got {shown_got}"
    for wrong, why in mistakes:
        wrong = np.asarray(wrong, dtype=float)
        if wrong.shape == arr.shape and np.allclose(arr, wrong, rtol=rtol, atol=atol):
            raise AssertionError(f"{message}: {why}")
    if _float32_rounding(got, arr, expected):
        hint = FLOAT32_NOTE
    raise AssertionError(f"{message}: {hint}" if hint else message)


def check_choice(name: str, got, expected: str, options: str = "abcd",
                 explanations: dict[str, str] | None = None) -> None:
    """Assert a multiple-choice answer: one letter among ``options``, case-insensitive.

    ``explanations`` maps wrong letters to a hint about why that option is tempting but wrong.
    """
    letter = str.__str__(got).strip().lower() if isinstance(got, str) else None
    if letter is None or letter not in list(options):
        shown = repr(str.__str__(got)) if isinstance(got, str) else type(got).__name__
        raise AssertionError(
            f"{name} should be one of the letters {', '.join(map(repr, options))}, got {shown}"
        )
    if letter != expected:
        why = (explanations or {}).get(letter)
        raise AssertionError(f"{name}: {letter!r} is not right" + (f": {why}" if why else ""))


def check_label(name: str, got, expected: str, *, mistakes: dict[str, str] | None = None,
                hint: str | None = None) -> None:
    """Assert a word answer (``"diverged"``, ``"minimum"``), ignoring case and surrounding spaces.

    ``mistakes`` maps a wrong word to what to tell the student about it; ``hint`` is said when
    the answer is wrong and no known mistake matched.
    """
    word = as_text(got, name).strip().lower()
    if word == expected:
        return
    message = f"{name}: expected {expected!r}, got {word!r}"
    why = (mistakes or {}).get(word, hint)
    raise AssertionError(f"{message}: {why}" if why else message)


def check_true(condition, message: str) -> None:
    """Assert a yes/no property of the answer, with the message to show when it fails.

    ``condition`` must be a real ``bool`` computed from trusted values (what ``as_float_array``,
    ``as_int`` or ``as_text`` returned), never from a comparison with the student's own object.
    """
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


# --- Optimizers side by side (chapters 5-8) ---------------------------------------------------
# A student's optimizer and a trusted one (a ``course.reference`` optimizer passed in by a hidden
# test, or ``TorchOptimizer``) run on the same problem, step by step; the first step where they
# part is reported in words. This module never imports ``course.reference`` itself.


class TorchOptimizer:
    """A ``torch.optim`` optimizer behind the course's ``step(params, grads) -> new params``.

    ``TorchOptimizer(torch.optim.Adam, lr=0.1, betas=(0.9, 0.999))``; ``lr`` is required and may
    be changed between steps, as with the course's optimizers. Works in float64. A class that is
    not one of torch.optim's (a student's MyAdam) is built and stepped inside
    ``from_scratch(on_optimizer=True)``: it may build on torch.optim.Optimizer, not on Adam.
    """

    def __init__(self, optimizer_class, **hyper):
        if "lr" not in hyper:
            raise ValueError("TorchOptimizer needs lr=...")
        self.optimizer_class, self.hyper, self.lr = optimizer_class, hyper, hyper["lr"]
        self._param = self._optimizer = None

    def step(self, params, grads):
        import torch  # only the callers that compare with torch pay for importing it

        p = torch.tensor(np.asarray(params, dtype=float), dtype=torch.float64)
        torchs = self.optimizer_class in vars(torch.optim).values()
        with contextlib.nullcontext() if torchs else from_scratch(
                getattr(self.optimizer_class, "__name__", "the optimizer"), on_optimizer=True):
            if self._param is None:
                self._param = p.clone().requires_grad_(True)
                self._optimizer = self.optimizer_class([self._param], **self.hyper)
            with torch.no_grad():
                self._param.copy_(p)
            self._param.grad = torch.tensor(np.asarray(grads, dtype=float), dtype=torch.float64)
            self._optimizer.param_groups[0]["lr"] = self.lr
            self._optimizer.step()
        return self._param.detach().numpy().copy()


@contextlib.contextmanager
def from_scratch(what: str = "step", *, on_optimizer: bool = False):
    """Switch ``torch.optim`` off while the student's code runs, for exercises that ask for an
    update written out by hand: constructing a torch optimizer (or a subclass of one), or
    stepping one built earlier, raises an ``AssertionError`` that says so. With
    ``on_optimizer``, ``torch.optim.Optimizer`` itself stays on, for an optimizer written by
    hand on it (chapter 8's MyAdam). Everything is restored afterwards."""
    import torch.optim  # a dependency of the course; imported here so the switch cannot miss it

    asks = ("its own update, on torch.optim.Optimizer" if on_optimizer
            else "the update written out in NumPy")

    def refuse(*args, **kwargs):
        raise AssertionError(f"{what} calls torch.optim: this exercise asks for {asks}")

    classes = [c for c in vars(torch.optim).values()
               if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
               and not (on_optimizer and c is torch.optim.Optimizer)]
    saved = [(c, name, vars(c)[name]) for c in classes for name in ("__init__", "step")
             if name in vars(c)]
    try:
        for c, name, _ in saved:
            setattr(c, name, refuse)
        yield
    finally:
        for c, name, method in saved:
            setattr(c, name, method)


def checked_step(optimizer, params, grads, name: str = "step"):
    """One ``optimizer.step`` on float64 copies of ``params`` and ``grads``, inside ``quiet()``
    and ``from_scratch()``; asserts first that the step left both copies as they were, then
    returns what it returned, untouched, for ``check_close``."""
    given_p = as_float_array(params, "the parameters")
    given_g = as_float_array(grads, "the gradients")
    kept_p, kept_g = given_p.copy(), given_g.copy()
    with quiet(), from_scratch(name):
        returned = optimizer.step(given_p, given_g)
    if not (np.array_equal(given_p, kept_p) and np.array_equal(given_g, kept_g)):
        raise AssertionError(f"{name} changed the arrays passed to it: compute the new parameters "
                             "in a new array (np.array(params, dtype=float) makes a copy) and "
                             "leave params and grads as they were")
    return returned


def check_same_steps(name: str, student, reference, params, grad_fn, *, steps: int = 100,
                     lr_at=None, rtol: float = 1e-9, atol: float = 1e-12,
                     hint: str | None = None, nonfinite: str | None = None) -> None:
    """Run two fresh optimizers side by side and assert they take the same steps.

    Both start from ``params``; at step ``k`` (counted from 1) each gets ``grad_fn`` of its own
    current parameters. ``lr_at(k)``, when given, sets ``o.lr`` of both before step ``k`` (a
    learning-rate drop mid-run tells a buffer holding ``lr * g`` from one holding ``g``).
    The student's step must return a new array and leave its inputs untouched. On the first
    step that differs the message says which step, what the learning rate did, what was
    expected and what came, then ``hint`` (``nonfinite`` instead when the student's step gave
    NaN or inf).
    """
    p_student = p_reference = np.array(params, dtype=float)
    previous_lr = None
    for k in range(1, steps + 1):
        lr_note = ""
        if lr_at is not None:
            lr = lr_at(k)
            if previous_lr is not None and lr != previous_lr:
                lr_note = f" (the first step after the learning rate changed from {previous_lr:g}"\
                          f" to {lr:g})"
            student.lr = reference.lr = previous_lr = lr
        p_reference = np.asarray(reference.step(p_reference, grad_fn(p_reference)), dtype=float)
        given_p, given_g = p_student.copy(), np.asarray(grad_fn(p_student), dtype=float)
        kept_p, kept_g = given_p.copy(), given_g.copy()
        with quiet():
            returned = student.step(given_p, given_g)
        if not (np.array_equal(given_p, kept_p) and np.array_equal(given_g, kept_g)):
            raise AssertionError(f"{name}: step {k} changed the arrays passed to it; "
                                 "compute new parameters and return them instead")
        got = as_float_array(returned, f"{name} after step {k}", shape=p_reference.shape,
                             nonfinite=nonfinite)
        if not np.allclose(got, p_reference, rtol=rtol, atol=atol):
            where = {1: f"step 1{lr_note} differs",
                     2: f"step 1 agrees, step 2{lr_note} does not"}.get(
                k, f"steps 1 to {k - 1} agree, step {k}{lr_note} does not")
            gap = float(np.max(np.abs(got - p_reference)))
            shown_expected, shown_got = _show_both(p_reference, got)
            message = (f"{name}: {where}: expected {shown_expected}, got {shown_got} "
                       f"(largest difference {gap:.3g})")
            note = FLOAT32_NOTE if _float32_rounding(returned, got, p_reference) else hint
            raise AssertionError(f"{message}: {note}" if note else message)
        p_student = got
