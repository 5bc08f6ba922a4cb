"""Build what students get: ``python -m coursetools.student_kit [OUT]`` (``make student-kit``).

The kit holds the released notebooks (``release/``), the student-safe part of the ``course``
package (everything but ``course/reference``), a ``pyproject.toml`` that installs it, and the
README. :func:`leaks` lists any solution code that slipped in; building refuses a kit that leaks.
It reads web pages too (the course's website, ``make site``, is checked with it).
"""

import argparse
import html.parser
import re
import shutil
import sys
from pathlib import Path

import nbformat

from autograder.paths import REPO

_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "reference")
_IMPORTS_REFERENCE = re.compile(r"(import\s+course\.reference|from\s+course(\.reference|\s+import"
                                r"\s+[^\n]*\breference\b))")
_REGIONS = {"SOLUTION": "the solution", "HIDDEN TESTS": "the hidden test"}


def build(out: Path, repo: Path = REPO) -> Path:
    """Write the kit into ``out`` (replacing it) and return ``out``; raise if it leaks."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(repo / "release", out / "release", ignore=_SKIP)
    shutil.copytree(repo / "course", out / "course", ignore=_SKIP)
    for name in ("README.md", "environment.yml", "LICENSE"):
        if (repo / name).is_file():
            shutil.copyfile(repo / name, out / name)
    pyproject = (repo / "pyproject.toml").read_text()
    pyproject = re.sub(r'include = \[[^\]]*\]', 'include = ["course*"]', pyproject)
    (out / "pyproject.toml").write_text(pyproject)
    found = leaks(out, repo / "source")
    if found:
        raise RuntimeError("the student kit would hold solution code:\n  " + "\n  ".join(found))
    return out


def _normalized(code: str) -> str:
    return "\n".join(line.strip() for line in code.splitlines() if line.strip())


class _PageText(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def _page_text(page: str) -> str:
    """A web page's text without its tags, entities decoded (code blocks read as code)."""
    parser = _PageText()
    parser.feed(page)
    parser.close()
    return "".join(parser.parts)


def solution_snippets(source_root: Path, region: str = "SOLUTION") -> list[str]:
    """The code of every solution region (or, with ``region="HIDDEN TESTS"``, hidden-test
    region) of the source notebooks, one normalized string each (regions too short to be told
    from ordinary code, such as ``x = 1``, are left out)."""
    pattern = re.compile(f"### BEGIN {region}\n(.*?)### END {region}", re.S)
    snippets = set()
    for path in sorted(Path(source_root).glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for region_code in pattern.findall(cell.source + "\n"):
                code = _normalized(region_code)
                if len(code) >= 16:
                    snippets.add(code)
    return sorted(snippets)


def leaks(kit: Path, source_root: Path) -> list[str]:
    """Where the kit (or any folder, web pages included) holds solution code:
    ``course/reference``, an import of it, a solution or hidden-test region's markers, or the
    code of a source notebook's solution or hidden-test region."""
    found = []
    snippets = {kind: solution_snippets(source_root, region) for region, kind in _REGIONS.items()}
    for path in sorted(Path(kit).rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(kit)
        if "reference" in rel.parts:
            found.append(f"{rel}: the reference solutions")
            continue
        if path.suffix not in {".py", ".ipynb", ".md", ".txt", ".toml", ".yml", ".json", ".html"}:
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":  # compare cell sources, not their JSON escaping
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        elif path.suffix == ".html":  # what the page shows, not its markup
            text = _page_text(text)
        if "BEGIN SOLUTION" in text:
            found.append(f"{rel}: a solution region")
        if "BEGIN HIDDEN TESTS" in text:
            found.append(f"{rel}: a hidden-test region")
        if path.suffix in {".py", ".ipynb", ".html"} and _IMPORTS_REFERENCE.search(text):
            found.append(f"{rel}: imports course.reference")
        if path.suffix in {".py", ".ipynb", ".html"}:
            code = _normalized(text)
            found += [f"{rel}: {kind} {s[:60]!r}"
                      for kind, kind_snippets in snippets.items() for s in kind_snippets
                      if s in code]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools.student_kit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "student-kit",
                        help="where to write the kit (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"student kit: {out} ({files} files; no course.reference, no solutions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
