"""Generate the student versions in ``release/`` from the solution versions in ``source/``.

    python -m coursetools.release                    # every chapter under source/
    python -m coursetools.release ch01_gd_by_hand    # only the chapters named

(``make release CHAPTERS=...`` does the same.) Each chapter runs through nbgrader's own
``generate_assignment`` in a throw-away course directory (:mod:`autograder.course_dir`), with the
repository's ``nbgrader_config.py`` and a gradebook of its own, so the repository never gets a
``gradebook.db`` and ``release/`` is exactly what nbgrader produces.
"""

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from autograder.assignments import chapters
from autograder.course_dir import NbgraderError, generate_assignment, make_course_dir
from autograder.paths import RELEASE, SOURCE


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
        prog="python -m coursetools.release",
        description="Regenerate release/<chapter>/ from source/<chapter>/ with nbgrader.",
    )
    parser.add_argument("chapters", nargs="*",
                        help="chapter folder names under source/ (default: all of them)")
    args = parser.parse_args(argv)
    available = {p.name: p for p in chapters(SOURCE)}
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
