"""Build a student submission from a release notebook: the answers of the source, or wrong ones.

The round-trip tests and the autograder's corpus use it to make "a student who solved every
exercise" and "a student who made one known mistake" out of the committed notebooks.
"""

import copy
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.utils import is_solution

from autograder.assignments import grade_id

# nbgrader's solution delimiters; the lines holding them are dropped, what is between them kept.
_SOLUTION_MARKER = re.compile(r"^[ \t]*(?:#+|//|%)?[ \t]*(?:BEGIN|END) SOLUTION[ \t]*$")


def without_solution_markers(source: str) -> str:
    """``source`` with the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines removed."""
    return "\n".join(line for line in source.split("\n") if not _SOLUTION_MARKER.match(line))


def solution_sources(source_notebook: NotebookNode) -> dict[str, str]:
    """Every solution cell of a source notebook, by grade_id, with its markers removed."""
    return {
        grade_id(cell): without_solution_markers(cell.source)
        for cell in source_notebook.cells
        if is_solution(cell)
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
    cells = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    for gid in replace:
        if gid not in cells:
            raise ValueError(f"the notebook has no cell with grade_id {gid!r}; "
                             f"its solution cells are {sorted(answers)}")
        if not is_solution(cells[gid]):
            raise ValueError(f"cell {gid!r} is not a solution cell: a student cannot "
                             "change it (autograde restores it from the source)")
    for cell in release.cells:
        if not is_solution(cell):
            continue
        gid = grade_id(cell)
        if gid not in answers:
            raise ValueError(f"solution cell {gid!r} of the release is not in the source: "
                             "is the release out of date? (make release)")
        cell.source = replace.get(gid, answers[gid])
    return release


def _read(notebook: NotebookNode | str | Path) -> NotebookNode:
    if isinstance(notebook, NotebookNode):
        return copy.deepcopy(notebook)  # never edit the caller's notebook
    return nbformat.read(notebook, as_version=4)
