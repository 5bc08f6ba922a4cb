"""nbgrader course directories: made from chapter folders, configured by one writer, copied as a
whole, and the nbgrader commands run in them.

A course directory's ``nbgrader_config.py`` loads the repository's configuration, then points
nbgrader at the directory it lies in (found from the file's own path, so a copy of the directory
needs no rewriting), then adds what its user asks for. nbgrader writes nothing outside it but
the kernels' connection files and sockets, which a grading worker keeps in a short folder of its
own (``worker.py``).
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from autograder.jobs import GradingError
from autograder.paths import NBGRADER_CONFIG

# Never copied into a course directory (nbgrader skips them as well).
_CLUTTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class NbgraderError(GradingError):
    """An nbgrader command failed; the message holds its log."""


def write_config(course_dir: Path, settings: Mapping[str, object] | None = None) -> Path:
    """Write ``course_dir/nbgrader_config.py``; ``settings`` maps ``"Class.trait"`` to a value
    (``{"Execute.timeout": 60}``)."""
    lines = [
        "c = get_config()  # noqa: F821",
        "import os",
        "ROOT = os.path.dirname(os.path.abspath(__file__))",
        f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821",
        "c.CourseDirectory.root = ROOT",
        "c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(ROOT, 'gradebook.db')",
        *(f"c.{name} = {value!r}" for name, value in (settings or {}).items()),
    ]
    path = Path(course_dir) / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_course_dir(course_dir: Path, chapter_sources: Iterable[Path],
                    settings: Mapping[str, object] | None = None) -> Path:
    """Turn ``course_dir`` into an nbgrader course directory holding copies of the chapters."""
    course_dir = Path(course_dir).resolve()
    (course_dir / "source").mkdir(parents=True, exist_ok=True)
    write_config(course_dir, settings)
    for chapter in chapter_sources:
        chapter = Path(chapter)
        if not any(chapter.glob("*.ipynb")):
            raise GradingError(f"{chapter} holds no notebook: is it a chapter folder?")
        target = course_dir / "source" / chapter.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(chapter, target, ignore=_CLUTTER)
    return course_dir


def copy_course_dir(template: Path, course_dir: Path) -> Path:
    """Make ``course_dir`` a fresh copy of the course directory ``template``."""
    shutil.rmtree(course_dir, ignore_errors=True)
    shutil.copytree(template, course_dir, symlinks=True)
    return Path(course_dir)


def load_config(course_dir: Path):
    """The nbgrader configuration of a course directory made by :func:`make_course_dir`."""
    return PyFileConfigLoader("nbgrader_config.py", str(course_dir)).load_config()


def run_nbgrader(course_dir: Path, *args: str) -> str:
    """Run ``nbgrader <args>`` in ``course_dir``; return its log, raise ``NbgraderError``."""
    # nbgrader runs `alembic` and kernels by name: find them beside this Python first.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_dir, env=env, capture_output=True, text=True,
    )
    log = done.stdout + done.stderr
    if done.returncode != 0 or "[ERROR]" in log:
        raise NbgraderError(f"`nbgrader {' '.join(args)}` failed in {course_dir}:\n{log}")
    return log


def generate_assignment(course_dir: Path, chapter: str) -> Path:
    """Run ``nbgrader generate_assignment`` for one chapter of a course directory.

    Records the chapter in the course directory's gradebook (autograde needs that) and returns
    the folder holding its student version, ``<course_dir>/release/<chapter>``.
    """
    run_nbgrader(course_dir, "generate_assignment", chapter, "--force")
    return Path(course_dir) / "release" / chapter
