"""course.checks: only real numbers earn points, and failures say what went wrong."""

import warnings

import numpy as np
import pytest

from course.checks import as_float_array, check_choice, check_close, check_true, quiet


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
