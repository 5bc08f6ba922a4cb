"""tests/exercise_runner.py reports what nbgrader would: a cell fails when it raises or writes to
stderr, every cell runs, hidden tests can be left out."""

import pytest

from tests.exercise_runner import failing, run_exercises, score

ADDED = "def gd_step(w, grad, lr):\n    return w + lr * grad\n"


def test_the_source_earns_full_marks():
    outcomes = run_exercises("ch01_gd_by_hand")
    assert failing(outcomes) == {} and score(outcomes) == 22


def test_a_replaced_answer_fails_with_its_message_and_the_rest_still_runs():
    outcomes = run_exercises("ch01_gd_by_hand", {"gd_step": ADDED})
    assert "did you add the gradient" in outcomes["test_gd_step"].message
    assert outcomes["test_line_mse_gradients"].passed
    assert score(outcomes) < 22


def test_hidden_tests_can_be_left_out():
    hard_coded = ("def gd_step(w, grad, lr):\n"
                  "    return 0.6 if np.ndim(w) == 0 else np.array([0.0, -1.0])\n")
    visible = run_exercises("ch01_gd_by_hand", {"gd_step": hard_coded}, hidden=False)
    graded = run_exercises("ch01_gd_by_hand", {"gd_step": hard_coded})
    assert visible["test_gd_step"].passed and not graded["test_gd_step"].passed


def test_text_on_stderr_in_a_test_cell_fails_it():
    loud = ("import sys\n\ndef gd_step(w, grad, lr):\n"
            "    print('loud', file=sys.stderr)\n    return w - lr * grad\n")
    outcomes = run_exercises("ch01_gd_by_hand", {"gd_step": loud})
    assert not outcomes["test_gd_step"].passed
    assert set(outcomes["test_gd_step"].message.split()) == {"loud"}


def test_a_warning_in_a_cell_reaches_its_stderr_as_in_a_fresh_kernel():
    # the chapters' test cells run the student's code inside quiet(), so this is read from
    # the runner's cell itself: a warning shows (once per place, as a kernel shows it)
    from tests.exercise_runner import _run

    error, stderr = _run("import warnings\nfor _ in range(3):\n"
                         "    warnings.warn('left in', UserWarning)\n", {}, "cell")
    assert error == "" and stderr.count("UserWarning: left in") == 1, stderr


def test_skipped_cells_do_not_run():
    outcomes = run_exercises("ch01_gd_by_hand", {"gd_step": ADDED}, skip={"test_gd_step"})
    assert "test_gd_step" not in outcomes and outcomes["test_line_mse_gradients"].passed


def test_assert_fails_names_the_cells_and_their_words():
    from tests.exercise_runner import assert_fails

    outcomes = run_exercises("ch01_gd_by_hand", {"gd_step": ADDED}, hidden=False)
    failed = set(failing(outcomes))
    assert_fails(outcomes, dict.fromkeys(failed, "add the gradient"))
    with pytest.raises(AssertionError):
        assert_fails(outcomes, {})
    with pytest.raises(AssertionError):
        assert_fails(outcomes, dict.fromkeys(failed, "words it does not hold"))
