"""Turn an LMS download (one zip of everyone's files) into nbgrader's submission layout, with
nbgrader's own ``zip_collect``.

The file names inside the zip say whose each file is: ``regexp`` (nbgrader's
``FileNameCollectorPlugin.named_regexp``, matched against each extracted file's absolute path)
must name the groups ``student_id`` and ``file_id``. The default fits files named
``<student>_<notebook>.ipynb``, in any folder of the zip.
"""

import shutil
from pathlib import Path

from autograder import release

DEFAULT_REGEXP = r".*/(?P<student_id>[A-Za-z0-9.@+-]+)_(?P<file_id>[^/]+\.ipynb)$"


def collect_zip(archive: Path, assignment: str, work: Path,
                regexp: str = DEFAULT_REGEXP) -> Path:
    """Extract ``archive`` for ``assignment``; return the folder laid out as
    ``<student>/<assignment>/<notebook>.ipynb``. Raises ``release.NbgraderError`` if nbgrader
    cannot collect it (say, the regexp matches nothing)."""
    course = Path(work) / "lms"
    shutil.rmtree(course, ignore_errors=True)
    downloads = course / "downloaded" / assignment / "archive"
    downloads.mkdir(parents=True)
    shutil.copyfile(archive, downloads / Path(archive).name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        f"c.FileNameCollectorPlugin.named_regexp = {regexp!r}\n"
    )
    release.run_nbgrader(course, "zip_collect", assignment, "--force")
    submitted = course / "submitted"
    if not submitted.is_dir() or not any(submitted.iterdir()):
        raise release.NbgraderError(
            f"no notebook in {archive} matched {regexp!r}: pass --lms-regexp with the groups "
            "student_id and file_id")
    return submitted
