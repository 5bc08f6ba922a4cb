"""The site's pages, staged as a Sphinx source folder from the committed notebooks.

Lectures come from ``source/`` (the only copy committed with outputs; lectures hold no solution)
and are never executed; exercises come from ``release/`` (the student version), as a download and
a page with their points; the showdown's report from ``docs/showdown/``.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from sitebuild import widgets

NOTEBOOKS = "notebooks"  # each chapter's downloads, beside its pages (not pages themselves)
_POINTS_SUFFIX = re.compile(r"\s*\(\s*[\d.]+\s+points?\s*\)\s*$")
_NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_\w+[ \t]*\n?", re.M)
# A link from a lecture to a chapter's exercise notebook, which is a page of its own here.
_EXERCISES_LINK = re.compile(r"(\]\((?:\.\./ch\w+/)?)exercises\.ipynb(#[^)]*)?\)")


@dataclass
class Chapter:
    slug: str           # ch01_gd_by_hand
    lecture: Path       # source/<slug>/lecture.ipynb, committed with outputs
    exercises: Path     # release/<slug>/exercises.ipynb, the student version
    release_lecture: Path

    @property
    def number(self) -> int:
        return int(re.match(r"ch(\d+)", self.slug).group(1))


def chapters(repo: Path) -> list[Chapter]:
    found = []
    for lecture in sorted((repo / "source").glob("ch*/lecture.ipynb")):
        slug = lecture.parent.name
        release = repo / "release" / slug
        found.append(Chapter(slug, lecture, release / "exercises.ipynb",
                             release / "lecture.ipynb"))
    return found


def title(nb) -> str:
    """The notebook's first heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s+(.+?)\s*$", cell.source, re.M)
            if match:
                return match.group(1)
    return "untitled"


def stage_lecture(chapter: Chapter, out: Path, widgets_module: Path) -> tuple[str, list[str]]:
    """Write the lecture page's notebook (outputs kept, widget cells shown as static figures)
    and the release lecture as its download. Returns the lecture's title and what was done to
    its widget cells."""
    nb = nbformat.read(chapter.lecture, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _NBVAL_LINE.sub("", cell.source)  # test markers, noise to a reader
        else:
            cell.source = _EXERCISES_LINK.sub(r"\1exercises.md\2)", cell.source)
    done = widgets.replace_widget_outputs(nb, widgets_module)
    folder = out / chapter.slug
    (folder / NOTEBOOKS).mkdir(parents=True, exist_ok=True)
    downloads = []
    if chapter.release_lecture.is_file():
        shutil.copyfile(chapter.release_lecture, folder / NOTEBOOKS / "lecture.ipynb")
        downloads.append(f"[the lecture notebook](path:{NOTEBOOKS}/lecture.ipynb)")
    if chapter.exercises.is_file():
        downloads.append("[the exercises](exercises.md)")
    header = ("```{admonition} Run it yourself\n:class: tip\nThis page is the lecture "
              "notebook with the outputs it was committed with; nothing runs in your browser. "
              "To run it and move its widgets, get "
              + " and ".join(downloads or ["the course"])
              + " and open them in JupyterLab ([how](../index.md#run-the-notebooks)).\n```")
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first + 1, nbformat.v4.new_markdown_cell(header))
    nbformat.write(nb, folder / "lecture.ipynb")
    return title(nb), done


def points(nb) -> list[tuple[str, str, float]]:
    """(part, test cell's grade_id, points) for every graded cell, in notebook order; the part
    is the last heading above the cell, without a trailing "(N points)"."""
    rows, part = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^##+\s+(.+?)\s*$", cell.source, re.M)
            if headings:
                part = _POINTS_SUFFIX.sub("", headings[-1])
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and "points" in meta:
            rows.append((part, meta.get("grade_id", "?"), float(meta["points"])))
    return rows


def _intro(nb) -> str:
    """The first markdown cell's prose: without its title and from its first table on."""
    cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if cell is None:
        return ""
    lines = []
    for line in cell.source.splitlines():
        if line.lstrip().startswith("|"):
            break
        if not line.startswith("# "):
            lines.append(line)
    return "\n".join(lines).strip()


def summary(chapter: Chapter) -> str:
    """The exercises' first paragraph (what you build), one line of text."""
    if not chapter.exercises.is_file():
        return ""
    intro = _intro(nbformat.read(chapter.exercises, as_version=4))
    return " ".join(intro.split("\n\n")[0].split())


def _fmt(value: float) -> str:
    return f"{value:g}"


def stage_exercises(chapter: Chapter, out: Path) -> float | None:
    """Write the exercises page and the release notebook as its download; return the total."""
    if not chapter.exercises.is_file():
        return None
    nb = nbformat.read(chapter.exercises, as_version=4)
    folder = out / chapter.slug
    (folder / NOTEBOOKS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chapter.exercises, folder / NOTEBOOKS / "exercises.ipynb")
    parts = {}  # part -> ([test cells], points), in notebook order
    for part, grade_id, p in points(nb):
        cells, sum_so_far = parts.get(part, ([], 0.0))
        parts[part] = (cells + [f"`{grade_id}`"], sum_so_far + p)
    total = sum(p for _, p in parts.values())
    table = ["| part | test cells | points |", "| --- | --- | ---: |"]
    table += [f"| {part} | {', '.join(cells)} | {_fmt(p)} |" for part, (cells, p) in parts.items()]
    table.append(f"| **total** | | **{_fmt(total)}** |")
    release = f"release/{chapter.slug}/exercises.ipynb"
    page = [
        f"# {title(nb)}", "", _intro(nb), "",
        f"[Download the exercise notebook](path:{NOTEBOOKS}/exercises.ipynb) "
        f"(the student version, `{release}` in the course), then open it in JupyterLab "
        "beside [the lecture](lecture.ipynb).", "",
        "## Points", "",
        "nbgrader gives a test cell its points when it runs without an error.", "", *table, "",
        "## Working on it", "",
        "Replace each `raise NotImplementedError()` with your code and run the test cell under "
        "it: a test cell that prints nothing passed, an `AssertionError` says what was "
        "expected, what came, and the likely mistake. Before you hand it in, press "
        "**Validate** in the notebook's toolbar, or run "
        f"`make check NOTEBOOK={release}`, which exits non-zero while a test still fails.", "",
    ]
    (folder / "exercises.md").write_text("\n".join(page))
    return total


def stage_showdown(report: Path | None, out: Path) -> bool:
    """Copy the showdown's report folder (report.md and its figures) into ``showdown/``, or
    write a page saying how to make it. Returns whether a report was there."""
    folder = out / "showdown"
    if report is not None and Path(report).is_file():
        shutil.copytree(Path(report).parent, folder, dirs_exist_ok=True)
        if Path(report).name != "report.md":
            shutil.copyfile(report, folder / "report.md")
        return True
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(
        "# The MNIST optimizer showdown\n\n"
        "The full run's report is not in the course yet. `make showdown` trains the MLP "
        "784→128→10 on MNIST with SGD, momentum, RMSprop and Adam and writes its report, "
        "tables and curves into `results/showdown/`; chapter 8's "
        "[lecture](../ch08_mnist_showdown/lecture.ipynb) walks through it.\n")
    return False


def chapter_index(rows: list[tuple[Chapter, str, float | None]]) -> str:
    """The front page's chapter table and the site's table of contents (one caption per
    chapter, then the showdown), as MyST markdown."""
    table = ["| | chapter | exercises | what you build |", "| ---: | --- | --- | --- |"]
    toc = []
    for chapter, lecture_title, total in rows:
        exercises = (f"[{_fmt(total)} points]({chapter.slug}/exercises.md)"
                     if total is not None else "")
        table.append(f"| {chapter.number} | [{lecture_title}]({chapter.slug}/lecture.ipynb) "
                     f"| {exercises} | {summary(chapter)} |")
        entries = [f"Lecture <{chapter.slug}/lecture>"]
        if total is not None:
            entries.append(f"Exercises ({_fmt(total)} points) <{chapter.slug}/exercises>")
        toc += ["```{toctree}", ":hidden:", f":caption: {lecture_title}", "", *entries, "```", ""]
    toc += ["```{toctree}", ":hidden:", ":caption: The showdown", "", "showdown/report", "```"]
    return "\n".join(table + [""] + toc) + "\n"
