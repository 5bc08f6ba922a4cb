"""Building submissions from a release notebook and the answers of its source."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursetools.build_submission import build_submission, without_solution_markers
from tests.submissions import Wrong


def cell(source, grade_id, *, solution=False, grade=False):
    c = new_code_cell(source)
    c.metadata.nbgrader = {"grade_id": grade_id, "solution": solution, "grade": grade,
                           "locked": not solution, "schema_version": 3}
    return c


SOURCE = new_notebook(cells=[
    new_code_cell("import numpy as np"),
    cell("def f(w):\n    ### BEGIN SOLUTION\n    return 2 * w\n    ### END SOLUTION", "f",
         solution=True),
    cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS",
         "test_f", grade=True),
])
RELEASE = new_notebook(cells=[
    new_code_cell("import numpy as np"),
    cell("def f(w):\n    # YOUR CODE HERE\n    raise NotImplementedError()", "f", solution=True),
    cell("assert f(1) == 2", "test_f", grade=True),
])


def test_markers_go_and_the_answer_stays_indented():
    assert without_solution_markers("def f(w):\n    ### BEGIN SOLUTION\n    return 2 * w\n"
                                    "    ### END SOLUTION") == "def f(w):\n    return 2 * w"
    assert without_solution_markers("x = 1  # BEGIN SOLUTION is explained below") == (
        "x = 1  # BEGIN SOLUTION is explained below")


def test_solved_submission_answers_from_the_source_and_keeps_the_release_tests():
    built = build_submission(RELEASE, SOURCE)
    assert [c.source for c in built.cells] == [
        "import numpy as np", "def f(w):\n    return 2 * w", "assert f(1) == 2"]
    assert built.cells[1].metadata == RELEASE.cells[1].metadata
    assert RELEASE.cells[1].source.endswith("raise NotImplementedError()")  # left untouched


def test_replace_writes_the_wrong_answer():
    built = build_submission(RELEASE, SOURCE, {"f": "def f(w):\n    return w"})
    assert built.cells[1].source == "def f(w):\n    return w"


@pytest.mark.parametrize(("replace", "words"), [
    ({"test_f": "pass"}, "not a solution cell"),
    ({"g": "pass"}, "no cell with grade_id 'g'"),
])
def test_replace_accepts_only_solution_cells(replace, words):
    with pytest.raises(ValueError, match=words):
        build_submission(RELEASE, SOURCE, replace)


def test_a_release_answer_missing_from_the_source_is_an_error():
    stale = nbformat.from_dict(RELEASE)
    stale.cells.append(cell("# YOUR CODE HERE", "h", solution=True))
    with pytest.raises(ValueError, match="make release"):
        build_submission(stale, SOURCE)


@pytest.mark.parametrize("fields", [
    {"name": "Bad Name"},
    {"replace": {}},
    {"score": -1},
    {"fails": {"test_f": ""}},
])
def test_wrong_records_reject_bad_fields(fields):
    good = {"name": "doubled", "mistake": "m", "replace": {"f": "pass"}, "score": 1.0,
            "fails": {"test_f": "expected"}}
    with pytest.raises(ValueError):
        Wrong(**(good | fields))
