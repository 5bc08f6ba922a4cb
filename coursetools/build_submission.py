"""Build a student submission from a release notebook: the answers of the source, or wrong ones.

The round-trip tests and the autograder's corpus use it to make "a student who solved every
exercise" and "a student who made one known mistake" out of the committed notebooks.
"""

import copy
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

# nbgrader's solution delimiters; the lines holding them are dropped, what is between them kept.
_SOLUTION_MARKER = re.compile(r"^[ \t]*(?:#+|//|%)?[ \t]*(?:BEGIN|END) SOLUTION[ \t]*$")


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution_cell(cell: NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def without_solution_markers(source: str) -> str:
    """``source`` with the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines removed."""
    return "\n".join(line for line in source.split("\n") if not _SOLUTION_MARKER.match(line))


def solution_sources(source_notebook: NotebookNode) -> dict[str, str]:
    """Every solution cell of a source notebook, by grade_id, with its markers removed."""
    return {
        _grade_id(cell): without_solution_markers(cell.source)
        for cell in source_notebook.cells
        if is_solution_cell(cell)
    }


def build_submission(release_notebook: NotebookNode | str | Path,
                     source_notebook: NotebookNode | str | Path,
                     replace: dict[str, str] | None = None) -> NotebookNode:
    """The release notebook with every solution cell answered as in the source notebook.

    ``replace`` then maps solution-cell grade_ids to the source a (wrong) student wrote there.
    Raises ``ValueError`` for a grade_id that is not a solution cell of the release notebook:
    test cells cannot be replaced, since autograding restores them from the source.
    """
    release = _read(release_notebook)
    answers = solution_sources(_read(source_notebook))
    replace = dict(replace or {})
    cells = {_grade_id(cell): cell for cell in release.cells if _grade_id(cell)}
    for grade_id in replace:
        if grade_id not in cells:
            raise ValueError(f"the notebook has no cell with grade_id {grade_id!r}; "
                             f"its solution cells are {sorted(answers)}")
        if not is_solution_cell(cells[grade_id]):
            raise ValueError(f"cell {grade_id!r} is not a solution cell: a student cannot "
                             "change it (autograde restores it from the source)")
    for cell in release.cells:
        if not is_solution_cell(cell):
            continue
        grade_id = _grade_id(cell)
        if grade_id not in answers:
            raise ValueError(f"solution cell {grade_id!r} of the release is not in the source: "
                             "is the release out of date? (make release)")
        cell.source = replace.get(grade_id, answers[grade_id])
    return release


def _read(notebook: NotebookNode | str | Path) -> NotebookNode:
    if isinstance(notebook, NotebookNode):
        return copy.deepcopy(notebook)  # never edit the caller's notebook
    return nbformat.read(notebook, as_version=4)
