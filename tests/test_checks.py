"""course.checks: only real numbers earn points, and failures say what went wrong."""

import warnings

import numpy as np
import pytest

from course.checks import (
    FLOAT32_NOTE,
    TorchOptimizer,
    as_float_array,
    as_int,
    as_text,
    check_choice,
    check_close,
    check_label,
    check_same_steps,
    check_true,
    checked_step,
    from_scratch,
    quiet,
)


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_right_answers_pass():
    check_close("w1", 0.6000000001, 0.6)
    check_close("path", [0.0, 0.6], np.array([0.0, 0.6]))
    check_close("n", np.float32(2.5), 2.5)
    check_choice("answer", " B ", "b")
    check_true(np.bool_(True), "never shown")


@pytest.mark.parametrize("bad, words", [
    (AlwaysEqual(), "should be a number"),
    (None, "forget to `return`"),
    ("0.6", "text"),
    (np.nan, "NaN or inf"),
    ([0.6, 0.6], "shape"),
    (object(), "should be a number"),
])
def test_non_answers_fail_clearly(bad, words):
    with pytest.raises(AssertionError, match=words):
        check_close("w1", bad, 0.6)


def test_known_mistake_is_named_and_hint_is_given_otherwise():
    with pytest.raises(AssertionError, match=r"expected w1 = 0\.6, got -0\.6: did you add"):
        check_close("w1", -0.6, 0.6, mistakes=[(-0.6, "did you add the gradient?")])
    with pytest.raises(AssertionError, match="got 0.5: try again$"):
        check_close("w1", 0.5, 0.6, mistakes=[(-0.6, "did you add")], hint="try again")


def test_choice_and_true():
    for not_a_letter in ("e", "", "ab", None):
        with pytest.raises(AssertionError, match="one of the letters"):
            check_choice("answer", not_a_letter, "b")
    with pytest.raises(AssertionError, match="'a' is not right: too early"):
        check_choice("answer", "a", "b", explanations={"a": "too early"})
    with pytest.raises(AssertionError, match="not a bool"):
        check_true(AlwaysEqual(), "not a bool")


def test_as_float_array_copies_and_checks_shape():
    source = [1, 2]
    arr = as_float_array(source, shape=(2,))
    assert arr.dtype == float and arr.tolist() == [1.0, 2.0]
    assert np.isinf(as_float_array([np.inf], finite=False)).all()


def test_quiet_silences_numpy_and_python_warnings(recwarn):
    with quiet():
        np.array([1e308]) * 10
        np.array([np.inf]) - np.inf
        warnings.warn("hidden", RuntimeWarning, stacklevel=1)
    assert len(recwarn) == 0


# --- Objects that lie: each check converts the answer once to a trusted type -----------------

class LyingStr(str):
    """Text whose own methods all say what a check would like to hear."""

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__

    def strip(self, *args):
        return LyingStr("b")

    def lower(self):
        return LyingStr("b")

    def __str__(self):
        return "b"


class FloatThatChangesItsMind:
    """The wrong number the first time it is asked, the right one after."""

    def __init__(self, wrong, right):
        self.answers = [wrong, right]

    def __float__(self):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class ArrayThatAgrees(np.ndarray):
    """A float array whose comparisons and ufuncs always report a match."""

    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.shape(inputs[0]), dtype=bool)

    def __array_function__(self, func, types, args, kwargs):
        return True


class TruthyObject:
    def __bool__(self):
        return True

    def __str__(self):
        return "b"

    def __float__(self):
        return 0.6


def test_lying_str_earns_nothing():
    for check in (lambda got: check_choice("answer", got, "b"),
                  lambda got: check_label("kind", got, "b")):
        with pytest.raises(AssertionError, match="'zzz'"):
            check(LyingStr("zzz"))
    assert type(as_text(LyingStr("zzz"))) is str and as_text(LyingStr("zzz")) == "zzz"


def test_objects_that_only_look_like_answers_earn_nothing():
    with pytest.raises(AssertionError, match="letters"):
        check_choice("answer", TruthyObject(), "b")
    with pytest.raises(AssertionError, match="should be text"):
        check_label("kind", TruthyObject(), "b")
    with pytest.raises(AssertionError, match="should be text"):
        check_label("kind", AlwaysEqual(), "minimum")
    with pytest.raises(AssertionError, match="message"):
        check_true(TruthyObject(), "message")
    with pytest.raises(AssertionError, match="should be a number"):
        as_int(AlwaysEqual(), "steps")


def test_a_number_is_read_once():
    with pytest.raises(AssertionError, match="got 0"):
        check_close("w1", FloatThatChangesItsMind(0.0, 0.6), 0.6)
    pair = [FloatThatChangesItsMind(0.0, 0.6), FloatThatChangesItsMind(0.0, 0.6)]
    with pytest.raises(AssertionError, match=r"got \[0\., 0\.\]"):
        check_close("w", pair, [0.6, 0.6])


def test_an_array_subclass_cannot_vouch_for_itself():
    liar = np.array([0.0, 0.0]).view(ArrayThatAgrees)
    with pytest.raises(AssertionError, match="expected w"):
        check_close("w", liar, [0.6, 0.6])
    assert type(as_float_array(liar)) is np.ndarray


def test_as_int_takes_whole_numbers_only():
    assert as_int(3) == 3 and as_int(np.int64(3)) == 3 and as_int(3.0) == 3
    assert type(as_int(np.int64(3))) is int
    for bad, words in [(2.5, "whole number"), (True, "whole number"), (None, "None"),
                       ("3", "text")]:
        with pytest.raises(AssertionError, match=words):
            as_int(bad, "steps")


def test_check_label_ignores_case_and_space_and_names_mistakes():
    check_label("kind", " Minimum ", "minimum")
    with pytest.raises(AssertionError, match="expected 'diverged', got 'oscillating': test for "):
        check_label("run", "oscillating", "diverged", mistakes={"oscillating": "test for x"})
    with pytest.raises(AssertionError, match="got 'slow': read the rule$"):
        check_label("run", "slow", "diverged", hint="read the rule")


# --- Messages a student can act on ------------------------------------------------------------

def test_values_that_print_alike_are_shown_with_more_digits():
    with pytest.raises(AssertionError, match=r"expected w = 1\.9, got 1\.900000119"):
        check_close("w", np.float64(1.900000119), 1.9, rtol=1e-10)
    with pytest.raises(AssertionError, match=r"expected w = 0\.6, got 0\.5$"):
        check_close("w", 0.5, 0.6)


def test_float32_rounding_is_named():
    expected = np.array([0.1, 1 / 3, -2.7182818284])
    for got in (expected.astype(np.float32), expected.astype(np.float32).tolist()):
        with pytest.raises(AssertionError) as failure:
            check_close("w", got, expected, rtol=1e-10, hint="the rng hint")
        assert FLOAT32_NOTE in str(failure.value) and "rng" not in str(failure.value)
    with pytest.raises(AssertionError, match="the rng hint$"):  # a real mistake keeps its hint
        check_close("w", expected * 1.01, expected, rtol=1e-10, hint="the rng hint")
    with pytest.raises(AssertionError, match="the rng hint$"):  # far off, even if in float32
        check_close("w", np.float32(0.5), 0.6, hint="the rng hint")


class Float32SGD:
    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        params, grads = np.asarray(params, np.float32), np.asarray(grads, np.float32)
        return params - np.float32(self.lr) * grads


class SGD:
    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        return np.asarray(params, float) - self.lr * np.asarray(grads, float)


class SGDFromStep(SGD):
    """Right for the first ``right`` steps, then steps twice as far."""

    def __init__(self, lr, right):
        super().__init__(lr)
        self.right, self.k = right, 0

    def step(self, params, grads):
        self.k += 1
        return super().step(params, grads if self.k <= self.right else 2 * np.asarray(grads))


def test_check_same_steps_says_which_step_in_words():
    grad = lambda p: 2 * p  # noqa: E731
    for right, words in [(0, r"sgd: step 1 differs: expected"),
                         (1, r"sgd: step 1 agrees, step 2 does not: expected"),
                         (3, r"sgd: steps 1 to 3 agree, step 4 does not: expected")]:
        with pytest.raises(AssertionError, match=words):
            check_same_steps("sgd", SGDFromStep(0.1, right), SGD(0.1), [1.0, -2.0], grad)


def test_check_same_steps_names_float32():
    with pytest.raises(AssertionError) as failure:
        check_same_steps("sgd", Float32SGD(0.1), SGD(0.1), [0.3, -2.7], lambda p: 2 * p,
                         hint="look at the buffer")
    assert str(failure.value).endswith(FLOAT32_NOTE)


class InPlaceSGD(SGD):
    def step(self, params, grads):
        params -= self.lr * grads
        return params


class TorchSGD(SGD):
    """Hands the step to torch.optim.SGD, built on its first step or ahead of time."""

    def __init__(self, lr, build_now=False):
        super().__init__(lr)
        self.optimizer = self.build() if build_now else None

    def build(self):
        import torch

        self.param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        return torch.optim.SGD([self.param], lr=self.lr)

    def step(self, params, grads):
        import torch

        self.optimizer = self.optimizer or self.build()
        with torch.no_grad():
            self.param.copy_(torch.as_tensor(params))
        self.param.grad = torch.as_tensor(grads, dtype=torch.float64)
        self.optimizer.step()
        return self.param.detach().numpy().copy()


def test_checked_step_passes_copies_and_returns_what_the_step_returned():
    params, grads = [1.0, -2.0], np.array([0.5, 4.0])
    got = checked_step(SGD(0.1), params, grads)
    np.testing.assert_allclose(got, [0.95, -2.4])
    assert params == [1.0, -2.0] and grads.tolist() == [0.5, 4.0]
    single = checked_step(Float32SGD(0.1), params, grads)
    assert single.dtype == np.float32  # untouched, so check_close can name float32


def test_checked_step_names_a_step_that_changes_its_inputs_first():
    with pytest.raises(AssertionError, match="^step changed the arrays passed to it"):
        checked_step(InPlaceSGD(0.1), [1.0], [2.0])


def test_from_scratch_switches_torch_optim_off_and_back_on():
    import torch

    for build_now in (False, True):
        with pytest.raises(AssertionError, match="calls torch.optim"):
            checked_step(TorchSGD(0.1, build_now=build_now), [1.0], [2.0])
    with from_scratch():
        pass
    np.testing.assert_allclose(TorchSGD(0.1).step(np.array([1.0]), np.array([2.0])), [0.8])
    assert torch.optim.Adam.step.__name__ == "step"


def test_a_students_torch_optimizer_may_build_on_optimizer_and_on_nothing_else():
    import torch

    class OwnSGD(torch.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    p.sub_(group["lr"] * p.grad)

    class Borrowed(torch.optim.SGD):
        pass

    class Wrapping(torch.optim.Optimizer):
        def __init__(self, params, lr):
            params = list(params)
            super().__init__(params, {"lr": lr})
            self.inner = torch.optim.SGD(params, lr=lr)

        def step(self):
            self.inner.step()

    np.testing.assert_allclose(TorchOptimizer(OwnSGD, lr=0.1).step([1.0], [2.0]), [0.8])
    for borrowing in (Borrowed, Wrapping):
        with pytest.raises(AssertionError, match=f"^{borrowing.__name__} calls torch.optim: this "
                           "exercise asks for its own update, on torch.optim.Optimizer$"):
            TorchOptimizer(borrowing, lr=0.1).step([1.0], [2.0])
    # torch's own, the reference beside it, runs as it is; and the switch is off again
    np.testing.assert_allclose(TorchOptimizer(torch.optim.SGD, lr=0.1).step([1.0], [2.0]), [0.8])
    assert torch.optim.SGD([torch.zeros(1)], lr=0.1).param_groups[0]["lr"] == 0.1


def test_nan_or_inf_is_explained_when_a_cause_is_known():
    with pytest.raises(AssertionError, match=r"^w1 contains NaN or inf: nan: add 1 to t first$"):
        check_close("w1", np.nan, 0.6, hint="other", nonfinite="add 1 to t first")
    with pytest.raises(AssertionError, match=r"^w1 contains NaN or inf: nan$"):
        check_close("w1", np.nan, 0.6, hint="other")

    class NaNFromStep2(SGD):
        def step(self, params, grads):
            self.k = getattr(self, "k", 0) + 1
            return super().step(params, grads) * (np.nan if self.k == 2 else 1.0)

    with pytest.raises(AssertionError, match=r"sgd after step 2 contains NaN or inf: .*: t first$"):
        check_same_steps("sgd", NaNFromStep2(0.1), SGD(0.1), [1.0], lambda p: 2 * p,
                         hint="other", nonfinite="t first")


# --- Every check against every kind of lie ------------------------------------------------------
# Each liar is made for the right answer it claims to be, and holds (or gives when first asked)
# a wrong one. A check must read the answer once, as a trusted type, so every pair fails.

class _Agreeable:
    """Equal to anything, and true."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __bool__(self):
        return True


class _SecondThoughts:
    """A wrong number when first asked (as float, int or index), the right one after."""

    def __init__(self, right):
        self.right, self.asked = right, 0

    def _answer(self, cast):
        self.asked += 1
        return cast(self.right) if self.asked > 1 else cast(0)

    def __float__(self):
        return self._answer(float)

    def __int__(self):
        return self._answer(int)

    __index__ = __int__


class _ArrayOnSecondThoughts:
    """``__array__`` gives zeros when first asked, the right array after."""

    def __init__(self, right):
        self.right, self.asked = right, 0

    def __array__(self, dtype=None, copy=None):
        self.asked += 1
        values = np.asarray(self.right, dtype=float) if self.asked > 1 else np.zeros(
            np.shape(self.right))
        return values.astype(dtype) if dtype is not None else values


def _eq_subclass(right):
    """A subclass of the right answer's own type, holding a wrong value, equal to anything."""
    if isinstance(right, str):
        return type("LyingText", (str,), {"__eq__": lambda s, o: True,
                                          "__hash__": str.__hash__})("zzz")
    if isinstance(right, bool | int):
        return type("LyingInt", (int,), {"__eq__": lambda s, o: True,
                                         "__hash__": int.__hash__})(0)
    if np.ndim(right) == 0:
        return type("LyingFloat", (float,), {"__eq__": lambda s, o: True,
                                             "__hash__": float.__hash__})(0.0)
    agreeing = type("LyingArray", (np.ndarray,), {"__eq__": lambda s, o: np.ones(s.shape, bool)})
    return np.zeros(np.shape(right)).view(agreeing)


LIARS = {
    "__eq__ of an object": lambda right: _Agreeable(),
    "__eq__ of a subclass": _eq_subclass,
    "__float__": lambda right: ([_SecondThoughts(v) for v in np.ravel(right)] if np.ndim(right)
                                else _SecondThoughts(right)),
    "__array__": _ArrayOnSecondThoughts,
    "__array__ of a subclass": lambda right: np.zeros(np.shape(right)).view(ArrayThatAgrees),
    "__str__": lambda right: LyingStr("zzz"),
}


class _LyingSGD:
    """An optimizer whose step hands back a liar for the right new parameters."""

    def __init__(self, lr, liar):
        self.lr, self.liar = lr, liar

    def step(self, params, grads):
        return self.liar(np.asarray(params, float) - self.lr * np.asarray(grads, float))


CHECKS = {  # each gives the liar made for its right answer to one check
    "as_float_array": lambda liar: check_true(
        bool(np.all(as_float_array(liar(0.6)) == 0.6)), "as_float_array believed it"),
    "as_int": lambda liar: check_true(as_int(liar(3)) == 3, "as_int believed it"),
    "as_text": lambda liar: check_true(as_text(liar("b")) == "b", "as_text believed it"),
    "check_close": lambda liar: check_close("w1", liar(0.6), 0.6),
    "check_close on arrays": lambda liar: check_close("w", liar(np.array([0.6, -1.2])),
                                                      [0.6, -1.2]),
    "check_choice": lambda liar: check_choice("answer", liar("b"), "b"),
    "check_label": lambda liar: check_label("kind", liar("minimum"), "minimum"),
    "check_true": lambda liar: check_true(liar(True), "check_true believed it"),
    "check_same_steps": lambda liar: check_same_steps(
        "sgd", _LyingSGD(0.1, liar), SGD(0.1), [1.0, -2.0], lambda p: 2 * p, steps=3),
}


def test_every_check_of_the_module_is_attacked():
    import course.checks

    public = {name for name in course.checks.__all__
              if name.startswith(("as_", "check_"))}
    assert public <= {name.split()[0] for name in CHECKS}


@pytest.mark.parametrize("liar", LIARS.values(), ids=LIARS)
@pytest.mark.parametrize("attack", CHECKS.values(), ids=CHECKS)
def test_no_lying_answer_passes_a_check(attack, liar):
    with pytest.raises(AssertionError):
        attack(liar)


@pytest.mark.parametrize("attack", CHECKS.values(), ids=CHECKS)
def test_the_honest_answer_passes_each_attack(attack):
    attack(lambda right: right)  # so a liar fails for its lie alone
