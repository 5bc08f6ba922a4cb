"""The nbgrader round trip of every chapter under ``source/ch*/``, with nbgrader's real CLI.

Per chapter, in a temporary course directory: ``generate_assignment`` (its output must equal the
committed ``release/<chapter>/``), then ONE ``autograde`` call for all the chapter's submissions:

- ``ref_source``: the source notebooks themselves: full marks, and no cell raises;
- ``ref_solved``: the release with every solution cell answered as in the source: full marks;
- ``ref_loud``: the same, with every RuntimeWarning printed each time: still full marks, so a
  right answer that overflows (a divergence demo, a hidden test with a huge step) costs nothing;
- ``ref_untouched``: the release as a student gets it: 0;
- every ``Wrong`` of ``tests/submissions/<chapter>.py``: its score, its failing test cells, and
  the words each of their messages holds.

Scores come from the gradebook, messages from the autograded notebooks. The tests of a chapter
form one class, so under ``--dist loadscope`` each chapter is autograded once, on one worker.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import is_grade, is_solution

from autograder import paths
from autograder.assignments import chapters, grade_id, graded_notebooks
from autograder.course_dir import generate_assignment, load_config, make_course_dir, run_nbgrader
from autograder.worker import cell_message
from coursetools.build_submission import build_submission
from tests.submissions import Wrong, load_wrong

CHAPTERS = chapters(paths.SOURCE)
WRONG = load_wrong()
SOURCE, SOLVED, LOUD, UNTOUCHED = "ref_source", "ref_solved", "ref_loud", "ref_untouched"
# Makes every RuntimeWarning (NumPy's overflow, invalid value, ...) print each time it happens,
# not once per line of code: whatever a right answer warns about must stay out of test cells.
WARN_EVERY_TIME = 'import warnings\nwarnings.simplefilter("always", RuntimeWarning)\n'


@dataclass
class Cell:
    score: float
    max_score: float
    message: str  # "<Error>: <message>" of each error, and any text sent to stderr

    @property
    def failed(self) -> bool:
        return self.score < self.max_score


@dataclass
class Autograded:
    release_dir: Path               # what generate_assignment produced today
    max_score: float
    totals: dict[str, float]        # student -> score
    cells: dict[str, dict[str, Cell]]             # student -> grade_id -> result
    notebooks: dict[str, list[nbformat.NotebookNode]]  # student -> autograded notebooks


def warning_every_time(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    first = next((c for c in notebook.cells if is_solution(c) and c.cell_type == "code"), None)
    if first is not None:
        first.source = WARN_EVERY_TIME + first.source
    return notebook


def submissions(chapter: Path, release_dir: Path) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """student -> notebook name -> notebook, for every submission of the chapter."""
    names = [f"{stem}.ipynb" for stem in graded_notebooks(chapter)]
    source = {n: nbformat.read(chapter / n, as_version=4) for n in names}
    released = {n: nbformat.read(release_dir / n, as_version=4) for n in names}
    subs = {
        SOURCE: source,
        SOLVED: {n: build_submission(released[n], source[n]) for n in names},
        LOUD: {n: warning_every_time(build_submission(released[n], source[n])) for n in names},
        UNTOUCHED: released,
    }
    grade_ids = {n: {grade_id(c) for c in released[n].cells if grade_id(c)} for n in names}
    for wrong in WRONG.get(chapter.name, []):
        assert wrong.name not in subs, f"{wrong.name!r} is a reserved submission name"
        homeless = set(wrong.replace) - set().union(*grade_ids.values())
        assert not homeless, f"{chapter.name}/{wrong.name}: no cell with grade_id {homeless}"
        try:
            subs[wrong.name] = {
                n: build_submission(released[n], source[n],
                                    {k: v for k, v in wrong.replace.items() if k in grade_ids[n]})
                for n in names
            }
        except ValueError as err:
            raise ValueError(f"{chapter.name}/{wrong.name}: {err}") from err
    return subs


def autograde_chapter(chapter: Path, course_dir: Path) -> Autograded:
    course_dir = make_course_dir(course_dir, [chapter])
    release_dir = generate_assignment(course_dir, chapter.name)
    subs = submissions(chapter, release_dir)
    for student, notebooks in subs.items():
        folder = course_dir / "submitted" / student / chapter.name
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            nbformat.write(nb, folder / name)

    started = time.perf_counter()
    run_nbgrader(course_dir, "autograde", chapter.name, "--force")
    seconds = time.perf_counter() - started

    config = load_config(course_dir).CourseDirectory
    totals, cells, notebooks = {}, {}, {}
    with Gradebook(config.db_url, config.course_id) as gradebook:
        max_score = gradebook.find_assignment(chapter.name).max_score
        for student, submitted in subs.items():
            totals[student] = gradebook.find_submission(chapter.name, student).score
            autograded = course_dir / "autograded" / student / chapter.name
            notebooks[student] = [nbformat.read(autograded / name, as_version=4)
                                  for name in submitted]
            messages = {grade_id(c): cell_message(c)
                        for nb in notebooks[student] for c in nb.cells if is_grade(c)}
            cells[student] = {
                grade.name: Cell(grade.score, grade.max_score, messages.get(grade.name, ""))
                for nb_name in submitted
                for grade in gradebook.find_submission_notebook(
                    Path(nb_name).stem, chapter.name, student).grades
            }
    count = sum(len(nbs) for nbs in subs.values())
    print(f"{chapter.name}: autograded {count} notebooks in {seconds:.1f} s "
          f"({seconds / count:.1f} s per notebook)")
    return Autograded(release_dir, max_score, totals, cells, notebooks)


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def failures(cells: dict[str, Cell]) -> str:
    return "; ".join(f"{gid} ({c.score:g}/{c.max_score:g}): {c.message or 'no message'}"
                     for gid, c in cells.items() if c.failed) or "none"


def pytest_generate_tests(metafunc):
    if "wrong" in metafunc.fixturenames:
        wrong = WRONG.get(metafunc.cls.chapter.name, [])
        metafunc.parametrize("wrong", wrong, ids=[w.name for w in wrong])


def test_every_wrong_list_names_a_chapter():
    assert set(WRONG) <= {ch.name for ch in CHAPTERS}, "a tests/submissions file has no chapter"


@pytest.fixture(scope="class")
def result(request, tmp_path_factory) -> Autograded:
    """The autograded chapter of the requesting class, computed once per class."""
    chapter = request.cls.chapter
    return autograde_chapter(chapter, tmp_path_factory.mktemp(chapter.name))


class ChapterRoundTrip:
    """The round trip of one chapter. Each chapter gets a subclass (below), and
    ``pytest -n 2 --dist loadscope`` sends a class to one worker: one autograde per chapter."""

    chapter: Path

    def test_release_is_what_nbgrader_generates_today(self, result):
        generated = files_under(result.release_dir)
        committed = files_under(paths.RELEASE / self.chapter.name)
        stale = sorted(name for name in generated.keys() | committed.keys()
                       if generated.get(name) != committed.get(name))
        assert not stale, (f"release/{self.chapter.name}: {stale} differ from what nbgrader "
                           "generates: run `make release`")

    def test_source_scores_full_marks(self, result):
        assert result.max_score > 0
        for student in (SOURCE, SOLVED, LOUD):
            assert result.totals[student] == result.max_score, (
                f"{student}: {result.totals[student]:g}/{result.max_score:g}, failing: "
                f"{failures(result.cells[student])}")

    def test_source_executes_cleanly(self, result):
        """No cell of the source notebooks raises.

        Text on stderr outside test cells is allowed: a divergence demo may show NumPy's warnings.
        """
        errors = [(i, cell_message(cell)) for nb in result.notebooks[SOURCE]
                  for i, cell in enumerate(nb.cells)
                  if any(out.output_type == "error" for out in cell.get("outputs", []))]
        assert not errors, f"cells (index, error) that raise: {errors}"

    def test_test_cells_show_no_result(self, result):
        """nbgrader takes a number a test cell shows as its partial score, and any other value
        as full marks: a test cell must end in a statement, not an expression."""
        shown = [grade_id(c) for nb in result.notebooks[SOURCE] for c in nb.cells
                 if is_grade(c)
                 and any(out.output_type == "execute_result" for out in c.get("outputs", []))]
        assert not shown, f"test cells that show a value (nbgrader grades it): {shown}"

    def test_untouched_release_scores_zero(self, result):
        assert result.totals[UNTOUCHED] == 0, (
            f"the untouched release earns {result.totals[UNTOUCHED]:g}: cells that pass without "
            f"an answer: {[gid for gid, c in result.cells[UNTOUCHED].items() if c.score > 0]}")

    def test_wrong_submission(self, wrong: Wrong, result):
        cells = result.cells[wrong.name]
        failed = {gid for gid, cell in cells.items() if cell.failed}
        assert failed == set(wrong.fails), (
            f"{wrong.name} ({wrong.mistake}): expected {sorted(wrong.fails)} to fail, "
            f"got {failures(cells)}")
        for gid, words in wrong.fails.items():
            assert words.lower() in cells[gid].message.lower(), (
                f"{wrong.name}: the message of {gid} should say {words!r}, it says: "
                f"{cells[gid].message!r}")
        assert result.totals[wrong.name] == pytest.approx(wrong.score), (
            f"{wrong.name} ({wrong.mistake}) scores {result.totals[wrong.name]:g}, "
            f"expected {wrong.score:g}; failing: {failures(cells)}")


for _chapter in CHAPTERS:
    globals()[f"Test_{_chapter.name}"] = type(
        f"Test_{_chapter.name}", (ChapterRoundTrip,), {"chapter": _chapter})
