"""Project hygiene: dependency lists in step, clean notebooks, complete chapters, safe releases."""

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.source_imports import imports_in

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SOURCE, RELEASE = REPO / "source", REPO / "release"
CHAPTERS = sorted(p for p in SOURCE.glob("ch*") if p.is_dir())
NOTEBOOKS = sorted([*SOURCE.glob("ch*/*.ipynb"), *RELEASE.glob("ch*/*.ipynb")])

# conda-forge names of the PyPI packages whose names differ; python and pip are conda's own.
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}

# Metadata a clean notebook may carry. Anything else (execution timings, editor or Colab state)
# changes on every run or reveals the author's machine.
NOTEBOOK_METADATA = {"kernelspec", "language_info", "widgets"}
CELL_METADATA = {"nbgrader", "deletable", "editable", "tags", "jupyter", "scrolled", "collapsed"}
MACHINE_TRACES = re.compile(
    r"/home/\w|/Users/\w|/root/|/work/|/tmp/|[A-Za-z]:\\\\(Users|Documents)|site-packages"
)
LEAKS = ("course.reference", "from course import reference", "BEGIN SOLUTION", "END SOLUTION",
         "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def requirement(spec: str) -> tuple[str, str]:
    """``"NumPy>=1.24"`` -> ``("numpy", ">=1.24")``; a conda pin ``"x=1.0"`` becomes ``"==1.0"``."""
    match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*(.*?)\s*", spec)
    assert match, f"cannot read the requirement {spec!r}"
    name, version = match.groups()
    version = re.sub(r"^=(?!=)", "==", version.replace(" ", ""))
    return re.sub(r"[-_.]+", "-", name).lower(), version


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project.get("optional-dependencies", {}).get("dev", [])]
    return dict(requirement(s) for s in specs)


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        pip_section = entry.get("pip", []) if isinstance(entry, dict) else []
        for spec in pip_section:
            name, version = requirement(spec)
            found[name] = version
        if isinstance(entry, str):
            name, version = requirement(entry)
            if name not in CONDA_ONLY:
                found[CONDA_TO_PIP.get(name, name)] = version
    return found


def test_requirement_reader():
    assert requirement("NumPy >= 1.24") == ("numpy", ">=1.24")
    assert requirement("nbgrader=0.9.6") == ("nbgrader", "==0.9.6")
    assert requirement("nbgrader==0.9.6") == ("nbgrader", "==0.9.6")
    assert requirement("jupyterlab>=4.2,<5") == ("jupyterlab", ">=4.2,<5")
    assert requirement("pytest_xdist") == ("pytest-xdist", "")


def test_environment_yml_lists_the_packages_of_pyproject():
    if not (REPO / "environment.yml").exists():
        pytest.skip("no environment.yml")
    pip, conda = pyproject_requirements(), environment_requirements()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml, missing in environment.yml"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml, missing in pyproject.toml"
    differ = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]}
    assert not differ, f"versions differ (pyproject.toml, environment.yml): {differ}"


def test_chapters_have_a_lecture_and_exercises_and_a_release():
    released = sorted(p.name for p in RELEASE.glob("ch*") if p.is_dir())
    assert released == [c.name for c in CHAPTERS], (
        "release/ must hold one folder per chapter of source/: run `make release`")
    for chapter in CHAPTERS:
        assert re.fullmatch(r"ch\d\d_[a-z0-9_]+", chapter.name), chapter.name
        for name in ("lecture.ipynb", "exercises.ipynb"):
            assert (chapter / name).is_file(), f"{rel(chapter)} has no {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_notebook_metadata_is_clean(path):
    text = path.read_text()
    nb = json.loads(text)
    assert set(nb["metadata"]) <= NOTEBOOK_METADATA, (
        f"{rel(path)}: notebook metadata {sorted(set(nb['metadata']) - NOTEBOOK_METADATA)}")
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", (
        f"{rel(path)}: the kernel must be the standard 'python3'")
    for i, cell in enumerate(nb["cells"]):
        extra = set(cell.get("metadata", {})) - CELL_METADATA
        assert not extra, (
            f"{rel(path)} cell {i}: metadata {sorted(extra)}; execute lectures with "
            "`.venv/bin/python -m coursetools.lectures source/chNN_*/lecture.ipynb` (make "
            "lectures), which strips what execution leaves")
    trace = MACHINE_TRACES.search(text)
    assert not trace, f"{rel(path)} shows a path of the author's machine: {trace.group()!r}"


@pytest.mark.parametrize("path", sorted(SOURCE.glob("ch*/exercises.ipynb")), ids=rel)
def test_source_exercises_are_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["execution_count"] is None and not cell["outputs"], (
                f"{rel(path)} cell {i} holds outputs: clear them before committing")


@pytest.mark.parametrize("path", sorted(SOURCE.glob("ch*/exercises.ipynb")), ids=rel)
def test_exercise_cells_follow_the_conventions(path):
    cells = json.loads(path.read_text())["cells"]
    marked = [c["metadata"]["nbgrader"] for c in cells if "nbgrader" in c.get("metadata", {})]
    ids = [m["grade_id"] for m in marked]
    assert len(ids) == len(set(ids)), f"{rel(path)}: duplicated grade_ids (nbgrader aborts)"
    tests = [m for m in marked if m.get("grade")]
    assert tests, f"{rel(path)} has no graded test cell"
    for m in tests:
        assert m["grade_id"].startswith("test_"), f"{m['grade_id']}: test cells are test_<what>"
        assert m.get("locked") and not m.get("solution") and m.get("points", 0) > 0, m
    total = sum(m["points"] for m in tests)
    first_text = next(("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"), "")
    assert re.search(rf"\b{total:g} points\b", first_text), (
        f"{rel(path)}: the first markdown cell should state the total, {total:g} points")


def _course_imports(notebook: Path) -> set[str]:
    """The course modules a notebook's code cells import, read with ast: ``from course import
    landscapes, reference`` gives course.landscapes and course.reference."""
    cells = nbformat.read(notebook, as_version=4).cells
    code = "\n".join(line for cell in cells if cell.cell_type == "code"
                     for line in cell.source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))  # IPython's magics
    return {module for module, _ in imports_in(code, {"course"})}


def _uses(notebook: Path, package: str) -> bool:
    """Whether the notebook names ``package`` in its text or imports it in its code."""
    return package in notebook.read_text() or any(
        m == package or m.startswith(package + ".") for m in _course_imports(notebook))


def test_the_import_reader_sees_every_form(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "%matplotlib inline\nfrom course import landscapes, reference\nimport course.showdown")])
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    assert _course_imports(tmp_path / "probe.ipynb") == {
        "course.landscapes", "course.reference", "course.showdown"}


@pytest.mark.parametrize("path", sorted(RELEASE.rglob("*.ipynb")), ids=rel)
def test_release_hides_solutions_and_reference(path):
    text = path.read_text()
    leaked = [marker for marker in LEAKS if marker in text]
    leaked += ["imports course.reference"] * _uses(path, "course.reference")
    assert not leaked, f"{rel(path)} contains {leaked}: run `make release`"


@pytest.mark.parametrize("path", sorted(SOURCE.glob("ch*/lecture.ipynb")), ids=rel)
def test_lectures_do_not_use_the_reference_solutions(path):
    assert not _uses(path, "course.reference"), (
        f"{rel(path)} uses course.reference: demonstrate with torch.optim instead")


@pytest.mark.parametrize("path", [p for p in sorted(SOURCE.glob("ch*/*.ipynb"))
                                  if not p.parent.name.startswith("ch08_")], ids=rel)
def test_only_chapter_8_uses_the_showdown(path):
    """The LR range test of chapter 4 is course.lr_range, which the showdown uses too; the
    showdown package itself is chapter 8's."""
    assert not _uses(path, "course.showdown"), f"{rel(path)} imports course.showdown"


# torch._x, torch.ops, torch.optim._functional, from torch.optim.adam import _fused_adam (not
# torch.__version__)
PRIVATE_TORCH = re.compile(r"\btorch(?:\.\w+)*?\.(?:_[A-Za-z0-9]|ops\b)"
                           r"|\bfrom torch(?:\.\w+)* import (?:.*[ ,(])?_[A-Za-z0-9]")


def test_code_uses_public_torch_only():
    """torch's private functions and raw operators carry no compatibility promise: the course
    runs on torch's public API (the showdown's updates through torch.optim, for instance)."""
    files = sorted([*(REPO / "course").rglob("*.py"), *(REPO / "autograder").rglob("*.py"),
                    REPO / "tests" / "bench_showdown.py"])
    found = [f"{rel(path)}:{n}: {line.strip()}" for path in files
             for n, line in enumerate(path.read_text().splitlines(), start=1)
             if PRIVATE_TORCH.search(line)]
    assert not found, "private torch in:\n" + "\n".join(found)
    for private in ("torch._fused_adam_(", "torch.ops.aten", "torch.optim._functional.sgd",
                    "from torch.optim.adam import _fused_adam", "from torch import nn, _C",
                    "torch.utils._pytree"):
        assert PRIVATE_TORCH.search(private), private
    for public in ("torch.__version__", "torch.optim.lr_scheduler", "from torch import nn",
                   "torch.nn.functional.cross_entropy"):
        assert not PRIVATE_TORCH.search(public), public


def test_ci_installs_the_lowest_torch_the_package_allows():
    """The torch range is one that is tested: pyproject.toml's lower bound is the version the
    Makefile installs for `make setup` and CI."""
    pinned = re.search(r"^TORCH\s*\?=\s*torch==([\d.]+)", (REPO / "Makefile").read_text(), re.M)
    lowest = re.fullmatch(r">=([\d.]+)", pyproject_requirements()["torch"])
    assert pinned and lowest, "the Makefile pins torch==X and pyproject.toml asks torch>=X"
    assert tuple(map(int, pinned.group(1).split("."))) == tuple(
        map(int, (lowest.group(1) + ".0").split(".")[:3]))
