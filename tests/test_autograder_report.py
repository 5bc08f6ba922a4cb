"""The class report and the Canvas import: a small class built from the corpus assignment and
known-wrong submissions is graded, and the report must say what a person computes from the
class by hand; each named mistake comes from the message ``course.checks`` really gives.
"""

import csv

import nbformat
import numpy as np
import pytest

from autograder import grade, lms, report
from autograder.corpus import cases
from autograder.jobs import CellResult, GradeCell, Row
from autograder.report import NO_HINT, named_mistake
from course.checks import (
    as_float_array,
    check_choice,
    check_close,
    check_label,
    check_same_steps,
)
from tests.grading_helpers import LIMITS

pytestmark = pytest.mark.xdist_group("autograder")

ADD = "did you add the gradient?"  # the corpus's named mistake of test_gd_step
# student -> (what they handed in, the row it must get)
CLASS = {
    "ada": ({}, 10),                                                # all right
    "bo": ({"gd_step": cases.WRONG_GD_STEP}, 6),                    # adds the gradient
    "cy": ({"gd_step": cases.WRONG_GD_STEP, "answer": "answer = 'a'"}, 4),
    "di": ({"answer": "answer = 'c'"}, 8),
    "ed": ({"gd_step": "def gd_step(w, grad, lr):\n    raise NotImplementedError()\n"}, 6),
}


def _message(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        check(*args, **kwargs)
    return f"AssertionError: {failure.value}"


@pytest.mark.parametrize("message, mistake", [
    (_message(check_close, "w1", 1.4, 0.6, mistakes=[(1.4, ADD)]), ADD),
    (_message(check_close, "w", np.full((3, 2), 1.4), np.full((3, 2), 0.6),
              mistakes=[(np.full((3, 2), 1.4), ADD)]), ADD),  # the same name for an array
    (_message(check_close, "w1", 0.5, 0.6), NO_HINT),
    (_message(check_close, "w1", 0.5, 0.6, hint="look at the sign"), "look at the sign"),
    (_message(check_choice, "answer", "a", "b", explanations={"a": "too small to diverge"}),
     "too small to diverge"),
    (_message(check_choice, "answer", "c", "b"), "answered 'c'"),
    (_message(check_label, "kind", "maximum", "minimum",
              mistakes={"maximum": "the Hessian is positive definite"}),
     "the Hessian is positive definite"),
    (_message(as_float_array, None, "w1"),
     "w1 is None: did you forget to `return` it, or to assign it?"),
    ("NotImplementedError: ", "raised NotImplementedError"),
    ("NameError: name 'w1' is not defined", "raised NameError: name 'w1' is not defined"),
    ("the cell wrote to stderr, which nbgrader counts as a failure:\nRuntimeWarning: overflow",
     "wrote to stderr (nbgrader counts a warning as a failure)"),
])
def test_a_message_is_named_by_its_hint(message, mistake):
    assert named_mistake(message) == mistake


class _Doubling:
    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        return np.asarray(params, float) - 2 * self.lr * np.asarray(grads, float)


class _SGD(_Doubling):
    def step(self, params, grads):
        return np.asarray(params, float) - self.lr * np.asarray(grads, float)


def test_a_step_by_step_comparison_is_named_by_its_hint():
    message = _message(check_same_steps, "sgd", _Doubling(0.1), _SGD(0.1), [1.0, -2.0],
                       lambda p: 2 * p, hint="the step is lr * g, not 2 lr * g")
    assert named_mistake(message) == "the step is lr * g, not 2 lr * g"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    for student, (replace, _) in CLASS.items():
        target = root / "subs" / student / cases.ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write(cases.submission(replace), target / cases.NOTEBOOK)
    cases.build_corpus(root / "subs", {}, [c for c in cases.CASES
                                           if c.name in {"malformed_json", "os_exit"}])
    roster = root / "canvas-export.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Week 1 (123)\n"
                      "    Points Possible,,,,,10\n"
                      "\"Lovelace, Ada\",4711,ada,ada@uni.example,Tuesday,\n")
    assert grade.main([str(root / "subs"), str(root / "out"), "--source", str(cases.SOURCE),
                       "--quiet", "--workers", "2", "--wall", str(LIMITS.wall_s),
                       "--cell-timeout", str(LIMITS.cell_timeout_s),
                       "--canvas-roster", str(roster)]) == 0
    return root / "out"


def test_the_class_is_graded_as_expected(graded):
    with open(graded / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    for student, (_, score) in CLASS.items():
        assert (rows[student]["status"], float(rows[student]["score"])) == ("graded", score)
    assert rows["malformed_json"]["status"] == rows["os_exit"]["status"] == "failed"


def test_the_report_says_what_the_class_got(graded):
    scores = [score for _, score in CLASS.values()]  # the scored ones: 10, 6, 4, 8, 6
    text = (graded / "report.md").read_text()
    assert (f"Mean {np.mean(scores):.2f}, median {np.median(scores):g} of 10 points, over the "
            "5 scored submissions.") in text
    assert "7 submissions: 5 graded, 2 failed." in text
    # test_gd_step passes for ada and di only; test_answer for ada, bo and ed
    assert "| test_gd_step | 4 | 40 % (2 of 5) |" in text
    assert "| test_answer | 2 | 60 % (3 of 5) |" in text
    # bo and cy add the gradient; ed's gd_step raises; cy and di answer a wrong letter
    assert f"| 40 % (2 of 5) | test_gd_step | {ADD} |" in text
    # ed's answer left out is counted on its own, not among the mistakes
    assert "raised NotImplementedError" not in text
    assert "### Answers left out\n\n| test cell | submissions |\n| --- | --- |\n" \
           "| test_gd_step | 20 % (1 of 5) |\n" in text
    assert "| 20 % (1 of 5) | test_answer | answered 'a' |" in text
    assert "| 20 % (1 of 5) | test_answer | answered 'c' |" in text
    for student in ("malformed_json", "os_exit"):
        assert f"| {student} | failed | 0 |" in text
    assert "not valid JSON" in text and "stopped before the end" in text
    page = (graded / "report.html").read_text()
    assert f"<td>{ADD}</td>" in page and 'src="report-ch99_corpus.png"' in page
    assert (graded / "report-ch99_corpus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_canvas_import_has_canvas_columns_and_only_graded_scores(graded):
    with open(graded / lms.CANVAS_FILE, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                        cases.ASSIGNMENT]
    by_id = {r[2]: r for r in table[1:]}
    assert by_id["ada"] == ["Lovelace, Ada", "4711", "ada", "ada@uni.example", "Tuesday", "10"]
    assert by_id["bo"] == ["bo", "", "bo", "", "", "6"]  # not in the roster
    assert by_id["os_exit"][-1] == ""  # failed: left for a person to decide
    assert len(table) == 1 + len(CLASS) + 2


def test_answers_left_out_have_their_own_table_and_named_mistakes_rank_first_among_equals(
        tmp_path):
    cell = GradeCell("test_step", "test", 2.0, "")

    def row(student, message):
        return Row(student, "hw", 0.0, 2.0, "graded",
                   cells=(CellResult("exercises.ipynb", "test_step", 0.0, 2.0, message),))

    no_hint = "AssertionError: expected w = 0.6, got 0.7"
    rows = [row("a", no_hint), row("b", "AssertionError: expected w = 0.6, got 1.4: " + ADD),
            row("c", "NotImplementedError: "),
            row("d", "AssertionError: w is None: did you forget to `return` it, or to assign it?")]
    md, _ = report.write(tmp_path, rows, {"hw": {"exercises.ipynb": {"test_step": cell}}})
    assert (f"| 25 % (1 of 4) | test_step | {ADD} |\n"
            f"| 25 % (1 of 4) | test_step | {NO_HINT} |\n") in md.read_text()
    assert "| test_step | 50 % (2 of 4) |" in md.read_text()
    assert "is None" not in md.read_text() and "NotImplementedError" not in md.read_text()
