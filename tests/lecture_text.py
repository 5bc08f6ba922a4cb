"""What a committed lecture notebook printed, for the tests that recompute its numbers."""

import re
from pathlib import Path

import nbformat

SOURCE = Path(__file__).resolve().parents[1] / "source"


def printed_text(chapter: str) -> str:
    """All stream text of ``source/<chapter>/lecture.ipynb`` as committed, leaving out the cells
    marked ``# NBVAL_IGNORE_OUTPUT`` (their text may differ from run to run). A cell tagged
    ``nbval-ignore-output`` stays in: its last digits differ between CPUs, and the chapter's
    test checks its numbers to a tolerance (CONTRIBUTING.md)."""
    notebook = nbformat.read(SOURCE / chapter / "lecture.ipynb", as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   if "NBVAL_IGNORE_OUTPUT" not in cell.source
                   for output in cell.get("outputs", []) if output.output_type == "stream")


def shown(printed: str, pattern: str):
    """The groups of the one match of ``pattern`` in the printed text (a string for one group)."""
    found = re.findall(pattern, printed)
    assert len(found) == 1, f"expected one printed line matching {pattern!r}, found {found}"
    return found[0]
