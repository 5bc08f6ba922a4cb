"""The red-team corpus, graded as one class: every hostile or broken submission gets the score,
status and reason it must, the batch never stops, nothing outside the grader's folder changes,
feedback never shows a hidden test, and a re-run grades only what changed.

bubblewrap is required: without it these tests fail (they never skip), since grading untrusted
code unsandboxed is the thing they exist to prevent.
"""

import csv
import hashlib
import shutil
import socket
from pathlib import Path

import nbformat
import pytest

from autograder import grade, paths
from autograder.corpus import cases
from autograder.jobs import COLUMNS, Limits
from tests.grading_helpers import LIMITS, TIMEOUT_LIMITS, edit, grader_copy, last_run

pytestmark = pytest.mark.xdist_group("autograder")  # one grading batch at a time on 2 cores

# What the corpus batch grades from, and the repository's source/ and release/, which
# python3_kernel reads and write_outside aims at
PROTECTED = [cases.SOURCE, cases.RELEASE, paths.SOURCE, paths.RELEASE]


def _fingerprint(folders: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders if folder.exists()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the corpus in two batches: the cases meant to run out of time with the short wall
    limit, the others with one that no load makes them reach. Return the rows by case name, the
    batches and the fingerprints."""
    root = tmp_path_factory.mktemp("corpus")
    before = _fingerprint(PROTECTED)
    rows, batches = {}, []
    with socket.socket() as server:  # a server on the grader's loopback, for the network case
        server.bind(("127.0.0.1", 0))
        server.listen()
        context = {"source": paths.SOURCE, "release": paths.RELEASE,
                   "port": server.getsockname()[1]}
        for name, limits in (("submissions", LIMITS), ("timeouts", TIMEOUT_LIMITS)):
            mine = [c for c in cases.CASES if (c.status == "timed_out") == (name == "timeouts")]
            cases.build_corpus(root / name, context, mine)
            batches.append(grade.Batch(root / name, root / f"out-{name}", cases.SOURCE,
                                       limits=limits, quiet=True))
            rows |= {r.student_id: r for r in grade.grade(batches[-1])}
    return {"rows": rows, "root": root, "batches": batches, "batch": batches[0],
            "before": before, "after": _fingerprint(PROTECTED)}


def test_corpus_is_large_enough():
    assert len(cases.CASES) >= 25
    assert len({c.name for c in cases.CASES}) == len(cases.CASES)


@pytest.mark.parametrize("case", cases.CASES, ids=lambda c: c.name)
def test_case_gets_its_grade(graded, case):
    row = graded["rows"][case.name]
    assert (row.score, row.status) == (case.score, case.status), row.reason
    assert row.max_score == 10
    assert case.reason.lower() in row.reason.lower()
    if case.status == "graded":
        assert row.reason == ""


def test_grades_csv_has_one_row_per_submission(graded):
    table = []
    for batch in graded["batches"]:
        with open(batch.out / "grades.csv", newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == COLUMNS
            table += list(reader)
    assert sorted(r["student_id"] for r in table) == sorted(c.name for c in cases.CASES)
    assert {r["status"] for r in table} == {"graded", "failed", "timed_out", "flagged"}


def test_grading_changes_nothing_outside_its_folder(graded):
    assert graded["after"] == graded["before"]
    assert not (paths.RELEASE / "PWNED.txt").exists()
    assert not Path("/PWNED.txt").exists()


def test_feedback_never_shows_hidden_tests(graded):
    source = nbformat.read(cases.SOURCE / cases.ASSIGNMENT / cases.NOTEBOOK, as_version=4)
    hidden = [line.strip() for cell in source.cells
              for part in cell.source.split("### BEGIN HIDDEN TESTS")[1:]
              for line in part.split("### END HIDDEN TESTS")[0].splitlines()
              if len(line.strip()) > 15]
    assert hidden, "the corpus assignment should have hidden tests"
    pages = sorted(page for batch in graded["batches"]
                   for page in (batch.out / "feedback").rglob("*.html"))
    assert len(pages) == len(cases.CASES)
    for page in pages:
        text = page.read_text()
        assert "HIDDEN TESTS" not in text
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page} shows hidden test code {leaked}"


def test_feedback_gives_the_visible_message(graded):
    page = graded["batch"].out / "feedback" / "nan_return" / cases.ASSIGNMENT / "exercises.html"
    text = page.read_text()
    assert "6 / 10" in text
    assert "NaN" in text and "test_gd_step" in text


def test_a_second_run_grades_only_what_changed(graded, tmp_path, monkeypatch):
    # A small class of its own, so this test does not depend on the corpus run's state.
    subs = tmp_path / "subs"
    for name in ("right", "nan_return", "untouched"):
        shutil.copytree(graded["root"] / "submissions" / name, subs / name)
    batch = grade.Batch(subs, tmp_path / "out", cases.SOURCE, workers=2, limits=LIMITS,
                        quiet=True)
    first = grade.grade(batch)
    assert grade.grade(batch) == first
    assert last_run(batch) == ([], 3)
    copy = grader_copy(tmp_path, monkeypatch)  # editing a course tool re-grades nothing
    edit(copy, "coursetools/lectures.py")
    assert grade.grade(batch) == first
    assert last_run(batch) == ([], 3)
    shutil.copyfile(subs / "right" / cases.ASSIGNMENT / cases.NOTEBOOK,
                    subs / "untouched" / cases.ASSIGNMENT / cases.NOTEBOOK)
    rows = {r.student_id: r for r in grade.grade(batch)}
    assert last_run(batch) == ([f"untouched/{cases.ASSIGNMENT}"], 2)
    assert rows["untouched"].score == 10
    batch.force = True
    grade.grade(batch)
    assert len(last_run(batch)[0]) == 3


def test_real_chapters_grade_as_expected(tmp_path):
    """Every chapter under source/ with a release: the right answers plus an import of
    course.reference get full marks and are flagged for that import and nothing else, so the
    real chapter code (plots, torch, data) raises no false alarm."""
    chapter_cases = [c for c in cases.chapter_cases(paths.SOURCE, paths.RELEASE)
                     if c.status == "flagged"]
    if not chapter_cases:
        pytest.skip("no chapter under source/ has a release yet")
    cases.build_corpus(tmp_path / "subs", {}, chapter_cases)
    batch = grade.Batch(tmp_path / "subs", tmp_path / "out", paths.SOURCE,
                        limits=Limits(wall_s=120, cell_timeout_s=60), quiet=True)
    rows = {(r.student_id, r.assignment): r for r in grade.grade(batch)}
    for case in chapter_cases:
        row = rows[(case.name, case.assignment)]
        assert (row.score, row.status) == (case.score, case.status), f"{case.name}: {row.reason}"
        flags = row.reason.removeprefix("flagged for review: ").split("; ")
        assert all(f.startswith("reference_import") for f in flags), row.reason
