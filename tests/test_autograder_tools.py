"""The student's check command, the student kit, the static flags and the command line."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import check, grade, student_kit
from autograder._inside import scan_source
from autograder.corpus import cases

REPO = Path(__file__).resolve().parents[1]


def _student_copy(tmp_path: Path, replace=None, edit=None) -> Path:
    notebook = cases._notebook(replace)
    if edit is not None:
        edit(notebook.cells)
    folder = tmp_path / cases.ASSIGNMENT
    folder.mkdir(exist_ok=True)
    nbformat.write(notebook, folder / cases.NOTEBOOK)
    return folder / cases.NOTEBOOK


def _run_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.check", str(path), "--release", str(cases.RELEASE)],
        capture_output=True, text=True, cwd=REPO, timeout=120)


def test_check_passes_a_right_notebook(tmp_path):
    done = _run_check(_student_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every visible test passes" in done.stdout


def test_check_fails_and_says_which_test(tmp_path):
    done = _run_check(_student_copy(tmp_path, {"gd_step": cases.WRONG_GD_STEP}))
    assert done.returncode == 1
    assert "test 'test_gd_step' fails" in done.stdout
    assert "1.4" in done.stdout  # the visible check's message: expected 0.6, got 1.4


def test_check_names_unanswered_cells(tmp_path):
    folder = tmp_path / cases.ASSIGNMENT
    folder.mkdir()
    shutil.copyfile(cases.RELEASE / cases.ASSIGNMENT / cases.NOTEBOOK, folder / cases.NOTEBOOK)
    problems = check.check(folder / cases.NOTEBOOK, cases.RELEASE)
    assert sum("answer missing" in p for p in problems) == 3


def test_check_catches_a_broken_notebook_without_running_it(tmp_path):
    path = _student_copy(tmp_path, edit=cases._duplicate)
    assert check.check(path, cases.RELEASE) == [
        "cell 'gd_step' appears 2 times: delete the copies you made (copy your answer into "
        "the original cell)"]
    path.write_text("{ not json")
    assert "not valid JSON" in check.check(path, cases.RELEASE)[0]


def test_student_kit_holds_no_solution(tmp_path):
    kit = student_kit.build(tmp_path / "kit")
    files = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert "course/checks.py" in files and "pyproject.toml" in files
    assert not [f for f in files if "reference" in f]
    assert {f.split("/")[1] for f in files if f.startswith("release/")} == {
        p.name for p in (REPO / "release").iterdir() if p.is_dir()}
    assert student_kit.leaks(kit, REPO / "source") == []
    assert 'include = ["course*"]' in (kit / "pyproject.toml").read_text()


def test_leak_check_sees_a_solution(tmp_path):
    kit = tmp_path / "kit"
    (kit / "course" / "reference").mkdir(parents=True)
    (kit / "course" / "reference" / "gd.py").write_text("x = 1\n")
    (kit / "course" / "helpers.py").write_text("from course import reference\n")
    (kit / "notes.ipynb").write_bytes(
        (cases.SOURCE / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes())
    found = "\n".join(student_kit.leaks(kit, cases.SOURCE))
    assert "course/reference/gd.py" in found
    assert "helpers.py: imports course.reference" in found
    assert "notes.ipynb: a solution region" in found
    assert "notes.ipynb: the solution 'ws = [np.asarray(w0, dtype=float)]" in found


@pytest.mark.parametrize("code, kind", [
    ("from course.reference import gd", "reference_import"),
    ("from course import reference", "reference_import"),
    ("import importlib\nimportlib.import_module('course.reference.gd')", "reference_import"),
    ("np.testing.assert_allclose = print", "monkey_patch"),
    ("setattr(numpy.testing, 'assert_allclose', print)", "monkey_patch"),
    ("__builtins__['len'] = max", "monkey_patch"),
    ("check_close = print", "monkey_patch"),
    ("class A:\n    def __eq__(self, other):\n        return True", "custom_eq"),
    ("B = type('B', (), {'__eq__': lambda s, o: True})", "custom_eq"),
    ("open('/etc/passwd').read()", "outside_file"),
    ("import os\nos.listdir('../..')", "outside_file"),
])
def test_static_scan_flags(code, kind):
    assert kind in {k for k, _ in scan_source(code)}


@pytest.mark.parametrize("code", [
    "import numpy as np\nfrom course.checks import check_close",
    "def gd_step(w, grad, lr):\n    return w - lr * grad",
    "class Point:\n    def __init__(self, x):\n        self.x = x",
    "open('results.txt', 'w').write('ok')",
    "%matplotlib inline\nx = 1",
    "this is not python",
])
def test_static_scan_leaves_ordinary_code_alone(code):
    assert scan_source(code) == []


def test_cli_refuses_an_out_folder_inside_source(tmp_path):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), str(REPO / "source" / "graded")])


def test_cli_reports_missing_submissions_folder(tmp_path):
    with pytest.raises(SystemExit, match="no submissions folder"):
        grade.grade(grade.Batch(tmp_path / "nowhere", tmp_path / "out", cases.SOURCE,
                                quiet=True))


def test_grading_refuses_to_run_without_bubblewrap(monkeypatch, tmp_path):
    from autograder import sandbox

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install -y bubblewrap"):
        grade.grade(grade.Batch(tmp_path, tmp_path / "out", cases.SOURCE, quiet=True))


def test_lms_zip_is_collected_and_graded(tmp_path):
    import zipfile

    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student, replace in [("alice", None), ("bob", {"gd_step": cases.WRONG_GD_STEP})]:
            zf.writestr(f"week1/{student}_exercises.ipynb",
                        nbformat.writes(cases._notebook(replace)))
    out = tmp_path / "out"
    assert grade.main([str(archive), str(out), "--source", str(cases.SOURCE), "--assignment",
                       cases.ASSIGNMENT, "--quiet", "--workers", "2"]) == 0
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[1:] == ["alice,ch99_corpus,10,10,graded,", "bob,ch99_corpus,6,10,graded,"]
