"""Generate the student versions in ``release/`` from the solution versions in ``source/``.

    python -m autograder.release                    # every chapter under source/
    python -m autograder.release ch01_gd_by_hand    # only the chapters named

Each chapter runs through nbgrader's own ``generate_assignment`` in a throw-away course
directory, with the repository's ``nbgrader_config.py`` and a gradebook of its own, so the
repository never gets a ``gradebook.db`` and ``release/`` is exactly what nbgrader produces.
``make_course_dir`` and ``generate_assignment`` are reused by the nbgrader round-trip tests and
the grading pipeline.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source"
RELEASE = REPO / "release"
CONFIG = REPO / "nbgrader_config.py"

# Never copied into a course directory (nbgrader skips them as well).
_CLUTTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds its log."""


def chapters(source_root: Path = SOURCE) -> list[Path]:
    """The chapter folders ``source/ch*/``, in order."""
    return sorted(p for p in Path(source_root).glob("ch*") if p.is_dir())


def make_course_dir(course_dir: Path, chapter_sources: Iterable[Path]) -> Path:
    """Turn ``course_dir`` into an nbgrader course directory holding copies of the chapters.

    Its ``nbgrader_config.py`` loads the repository's configuration and then points the course
    root and the gradebook at ``course_dir``, so nbgrader writes nothing outside it.
    """
    course_dir = Path(course_dir).resolve()
    (course_dir / "source").mkdir(parents=True, exist_ok=True)
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(CONFIG)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course_dir / 'gradebook.db')!r}\n"
    )
    for chapter in chapter_sources:
        chapter = Path(chapter)
        if not any(chapter.glob("*.ipynb")):
            raise FileNotFoundError(f"{chapter} holds no notebook: is it a chapter folder?")
        target = course_dir / "source" / chapter.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(chapter, target, ignore=_CLUTTER)
    return course_dir


def load_config(course_dir: Path):
    """The nbgrader configuration of a course directory made by ``make_course_dir``."""
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


def release_chapters(chapter_sources: Iterable[Path], release_root: Path = RELEASE) -> list[Path]:
    """Regenerate ``release_root/<chapter>`` for each chapter folder; return those folders."""
    chapter_sources = list(chapter_sources)
    written = []
    with tempfile.TemporaryDirectory(prefix="gd-course-release-") as tmp:
        course_dir = make_course_dir(Path(tmp), chapter_sources)
        for chapter in chapter_sources:
            started = time.perf_counter()
            generated = generate_assignment(course_dir, chapter.name)
            target = Path(release_root) / chapter.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(generated, target)
            written.append(target)
            seconds = time.perf_counter() - started
            print(f"released {chapter.name} -> {target} ({seconds:.1f} s)", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.release",
        description="Regenerate release/<chapter>/ from source/<chapter>/ with nbgrader.",
    )
    parser.add_argument("chapters", nargs="*",
                        help="chapter folder names under source/ (default: all of them)")
    args = parser.parse_args(argv)
    available = {p.name: p for p in chapters()}
    unknown = [name for name in args.chapters if name not in available]
    if unknown:
        parser.error(f"no chapter {', '.join(unknown)} under {SOURCE}; "
                     f"there are: {', '.join(available) or 'none'}")
    selected = [available[name] for name in args.chapters] or list(available.values())
    if not selected:
        parser.error(f"no chapter folders (ch*) under {SOURCE}")
    try:
        release_chapters(selected)
    except NbgraderError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
