"""The course as a static website: ``python -m sitebuild [OUT]`` (``make site``), into ``site/``.

Sphinx with MyST-NB and the book theme (pinned in the ``[site]`` extra) reads a staged copy of
the committed notebooks without executing them (see :mod:`sitebuild.pages`), MathJax is shipped
inside the site (:mod:`sitebuild.mathjax`), and the student kit's leak check runs on the result:
a site that would hold a solution is not kept.
"""

import io
import shutil
import time
from pathlib import Path

from sitebuild import mathjax, pages

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "site_src"        # conf.py, the front page, templates and static files
SHOWDOWN_REPORT = REPO / "docs" / "showdown" / "report.md"


def stage(out: Path, repo: Path = REPO, showdown: Path | None = SHOWDOWN_REPORT) -> list[str]:
    """Write the Sphinx source folder ``out`` (replacing it); return a log of what it holds."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(CONF, out, ignore=shutil.ignore_patterns("conf.py", "_static", "_templates",
                                                             "__pycache__"))
    log, rows = [], []
    for chapter in pages.chapters(repo):
        lecture_title, done = pages.stage_lecture(chapter, out, repo / "course" / "widgets.py")
        total = pages.stage_exercises(chapter, out)
        rows.append((chapter, lecture_title, total))
        log += [f"{chapter.slug}: lecture, " + ("exercises" if total is not None
                                                else "NO release exercises")]
        log += [f"  widget {line}" for line in done]
    (out / "chapters.md").write_text(pages.chapter_index(rows))
    had_report = pages.stage_showdown(showdown, out)
    log.append("showdown: " + ("report" if had_report else f"no report at {showdown}: a stub"))
    return log


def build(site: Path = REPO / "site", repo: Path = REPO,
          showdown: Path | None = SHOWDOWN_REPORT, work: Path | None = None,
          quiet: bool = False, strict: bool = False) -> Path:
    """Build the site into ``site`` (replacing it) and return it. ``work`` holds the staged
    sources and Sphinx's doctrees (default ``build/site-work`` in ``repo``). Raises
    RuntimeError when the site would hold solution code, or, with ``strict``, when Sphinx
    warned (a link, image or output it could not resolve)."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    from coursetools.student_kit import leaks

    work = Path(work) if work is not None else repo / "build" / "site-work"
    src = work / "src"
    log = stage(src, repo, showdown)  # replaces the previous build's sources
    mathjax_root = mathjax.vendor(repo / "build")
    # Built beside the staged sources, as MyST-NB writes into the output folder's parent.
    html = work / "html"
    if html.exists():
        shutil.rmtree(html)
    status = io.StringIO()
    warnings = io.StringIO()
    # As sphinx-build does it: docutils' global registries are restored afterwards.
    with patch_docutils(CONF), docutils_namespace():
        app = Sphinx(str(src), str(CONF), str(html), str(work / "doctrees"), "html",
                     confoverrides={"html_static_path": ["_static", str(mathjax_root)]},
                     status=status, warning=warnings, freshenv=True)
        app.build()
    found = leaks(html, repo / "source")
    if found:
        raise RuntimeError("the site would hold solution code (not written):\n  "
                           + "\n  ".join(found))
    site = Path(site)
    if site.exists():
        shutil.rmtree(site)
    shutil.move(html, site)
    if not quiet:
        print("\n".join(log))
        if warnings.getvalue().strip():
            print("Sphinx warnings:\n" + warnings.getvalue())
    if app.statuscode or strict and warnings.getvalue().strip():
        raise RuntimeError("Sphinx failed or warned:\n" + warnings.getvalue())
    return site


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m sitebuild",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "site",
                        help="where to write the site (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        site = build(args.out)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    files = [p for p in site.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files) / 2**20
    print(f"site: {site}/index.html ({len(files)} files, {size:.1f} MiB, "
          f"{time.perf_counter() - start:.0f} s); read it with "
          f"python -m http.server -d {site}")
    return 0
