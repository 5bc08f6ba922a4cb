"""Every number the prose of a chapter states, for the chapter's number test to account for.

A chapter's number test calls :func:`check_prose` with the constants of its problems (the
hyper-parameters, a formula's coefficients, the sizes of its data) and the values it recomputes
independently (closed forms, hand arithmetic, torch). Every number that a markdown cell of the
chapter's lecture or exercise notebook states must be one of them, read to the precision it is
written with (``1.9769`` matches 1.976941..., ``4×10⁷`` matches 4.05e7, ``31 %`` matches 0.31);
a number the test does not know fails it, with the cell and the words around the number.

What is not a claim about the problem is left out before numbers are read: chapter, section, part
and question references ("chapter 4", "§3", "part 2", "Question 4"), headings' section numbers,
numbered-list markers, LaTeX subscripts (``w_1``, ``x_{t-1}``), names with digits (``float64``,
``w1``, ``GPT-3``), citation years ("Goyal et al. 2017"), links and HTML. In an exercise notebook
the points of the test cells (each cell's, each section's and the total) are known from
nbgrader's metadata.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOURCE = Path(__file__).resolve().parents[1] / "source"

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_FRACTIONS = {"½": 0.5, "⅓": 1 / 3, "⅔": 2 / 3, "¼": 0.25, "¾": 0.75, "⅛": 0.125}
_SPACE = "[ \u00a0\u2009\u202f]"  # a space, no-break space, thin space or narrow no-break space
_MINUS = "\u2212"

# Left out before reading numbers: what is not a claim about the problem.
_YEAR = r"(?:18[4-9]\d|19\d\d|20[0-4]\d)"
_DROP = [
    re.compile(r"https?://\S+"),                                   # addresses
    re.compile(r"\]\([^)]*\)"),                                    # link targets
    re.compile(r"<[^>]+>"),                                        # HTML tags
    re.compile(r"\b\d+\.\d+\.\d+(\.\d+)*\b"),                       # versions: nbgrader 0.9.6
    re.compile(r"_\{[^{}]*\}|_\\?[A-Za-z0-9]+"),     # LaTeX subscripts, x_1, n_steps
    re.compile(r"(?m)^\s*#+\s*\d+(\.\d+)*\.?"),       # a heading's section number
    re.compile(r"(?m)^\s*\|?\s*\d+\.(?=\s)"),          # a list's or table's item number
    re.compile(r"(?i)(\bchapters?|\bch\.|\bsections?|§|\bparts?|\bquestions?)"
               r"\s*\d+(\s*(–|-|,|and|or|to)\s*\d+)*"),            # references to the course
    re.compile(rf"et al\.?,?\s+{_YEAR}\b|\({_YEAR}\)"              # citation years
               rf"|\b[A-Z][a-z]+,?\s{_YEAR}(?=[);,])"),
    re.compile(r"\b[A-Z][A-Za-z]*-\d+\b"),                          # names: GPT-3, CIFAR-10
    re.compile(r"\b[A-Za-z_]+\d[\w]*"),                             # names: float64, w1, beta2
]
_NUMBER = re.compile(
    rf"(?P<sign>{_MINUS}|(?<![\w.)\]}}])-)?"
    rf"(?P<mantissa>\d{{1,3}}(?:(?:{_SPACE}|,|\\,)\d{{3}})+(?![\d.])|\d+(?:\.\d+)?|\.\d+)"
    rf"(?:(?P<e>[eE][-+]?\d+)"
    rf"|{_SPACE}*(?:×|\\times|x|\\cdot|·){_SPACE}*10(?:\^\{{?(?P<p>[-−]?\d+)\}}?"
    rf"|(?P<sup>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))"
    rf")?"
    rf"(?P<pct>{_SPACE}*\\?%)?"
    rf"(?P<scale>{_SPACE}+(?:thousand|million|billion)\b)?"
)
_POWER_OF_TEN = re.compile(r"(?<![\d.])10(?:\^\{?(?P<p>[-−]?\d+)\}?|(?P<sup>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))")
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}


@dataclass(frozen=True)
class Stated:
    """One number a markdown cell states, with the precision it is written to."""

    notebook: str      # "lecture" or "exercises"
    cell: int          # index of the markdown cell in the notebook
    text: str          # as written: "1.9769", "4×10⁷", "31 %"
    value: float       # the number it stands for (31 % is 0.31)
    decimals: int | None  # written with this many decimals (None when written in powers of 10)
    significant: int | None  # ... or with this many significant digits
    context: str       # the words around it
    start: int         # where it starts in the cell's source

    def matches(self, known: float) -> bool:
        """Whether ``known`` reads as this number at the precision it is written with. A number
        written with a minus needs a negative ``known``; one without is read as a magnitude
        ("shrinks by 0.3" for a change of -0.3)."""
        if self.value < 0 < float(known):
            return False
        known, stated = abs(float(known)), abs(self.value)
        if not math.isfinite(known):
            return False
        if self.significant is not None:
            rounded = float(f"{known:.{self.significant - 1}e}") if known else 0.0
        else:
            scale = 10.0 ** -self.decimals
            if not math.isfinite(known / scale):  # far too large to be written with decimals
                return False
            rounded = math.floor(known / scale + 0.5) * scale  # half up, as people round
        return math.isclose(rounded, stated, rel_tol=1e-9, abs_tol=1e-300)


def _exponent(match) -> int | None:
    raw = match.group("p") or (match.group("sup") or "").translate(_SUPERSCRIPT)
    return int(raw.replace(_MINUS, "-")) if raw else None


def _around(markdown: str, m) -> str:
    return " ".join(markdown[max(m.start() - 40, 0):m.end() + 40].split())


def _read(text: str, markdown: str, notebook: str, cell: int) -> list[Stated]:
    found = []
    for m in _NUMBER.finditer(text):
        mantissa = re.sub(rf"{_SPACE}|\\,|,", "", m.group("mantissa"))  # 60 000, 60,000, 60\,000
        value = float(mantissa)
        digits = mantissa.replace(".", "").lstrip("0") or "0"
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        significant = None
        power = int(m.group("e")[1:]) if m.group("e") else _exponent(m)
        if power is not None:
            value, significant, decimals = value * 10.0**power, len(digits), None
        elif m.group("scale"):
            value *= _SCALES[m.group("scale").strip()]
            significant, decimals = len(digits), None
        if m.group("pct"):
            value /= 100
            if decimals is not None:
                decimals += 2
        if m.group("sign"):
            value = -value
        found.append(Stated(notebook, cell, m.group(0).strip(), value, decimals, significant,
                            _around(markdown, m), m.start()))
    return found


def numbers_in(markdown: str, notebook: str = "lecture", cell: int = 0) -> list[Stated]:
    """Every number ``markdown`` states, leaving out what is not a claim (module docstring)."""
    text = markdown.replace(_MINUS + " ", "- ")  # "1 − 2η": a binary minus, not a sign
    for pattern in _DROP:  # blanked to the same length, so positions stay those of the cell
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    stated = []

    def power_of_ten(m):  # "10⁻⁸" and "10^{6}" alone; the 10 of "4×10⁷" is read with its 4
        # (a digit before the sign: "\eta\cdot 10^{-9}" and "\approx 10^{-6}" are powers alone)
        if re.search(r"\d\s*(×|x|\\times|·|\\cdot)\s*$", text[max(m.start() - 12, 0):m.start()]):
            return m.group(0)
        stated.append(Stated(notebook, cell, m.group(0), 10.0 ** _exponent(m), None, 1,
                             _around(markdown, m), m.start()))
        return " " * len(m.group(0))

    text = _POWER_OF_TEN.sub(power_of_ten, text)
    for char, value in _FRACTIONS.items():
        for m in re.finditer(char, text):
            stated.append(Stated(notebook, cell, char, value, None, 3, _around(markdown, m),
                                 m.start()))
        text = text.replace(char, " ")
    return sorted(stated + _read(text, markdown, notebook, cell), key=lambda n: n.start)


def _points(notebook: nbformat.NotebookNode) -> list[float]:
    """Each test cell's points, each section's (cells under one ``##`` heading) and the total."""
    points, sections, section = [], [], 0.0
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## "):
            sections.append(section)
            section = 0.0
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points.append(float(meta.get("points", 0)))
            section += points[-1]
    sections.append(section)
    return points + sections + [sum(points)]


def stated_numbers(chapter: str, notebook: str) -> list[Stated]:
    """Every number the markdown cells of ``source/<chapter>/<notebook>.ipynb`` state
    (solution cells left out: they are answers, and the release replaces them)."""
    nb = nbformat.read(SOURCE / chapter / f"{notebook}.ipynb", as_version=4)
    return [number for i, cell in enumerate(nb.cells)
            if cell.cell_type == "markdown"
            and not cell.metadata.get("nbgrader", {}).get("solution")
            for number in numbers_in(cell.source, notebook, i)]


def unknown_numbers(chapter: str, known: Iterable[float],
                    notebooks: Iterable[str] = ("lecture", "exercises")) -> list[Stated]:
    """The numbers the chapter's markdown states that none of ``known`` reads as."""
    known = [float(k) for k in known]
    unknown = []
    for notebook in notebooks:
        values = known
        if notebook == "exercises":
            values = known + _points(
                nbformat.read(SOURCE / chapter / "exercises.ipynb", as_version=4))
        unknown += [n for n in stated_numbers(chapter, notebook)
                    if not any(n.matches(k) for k in values)]
    return unknown


def check_prose(chapter: str, *, constants: Iterable[float], computed: Iterable[float],
                notebooks: Iterable[str] = ("lecture", "exercises")) -> None:
    """Assert that every number the chapter's markdown states is a constant of its problems or
    a value the test recomputed, at the precision the prose writes it with."""
    unknown = unknown_numbers(chapter, [*constants, *computed], notebooks)
    assert not unknown, (
        f"{len(unknown)} numbers in the prose of {chapter} are neither a constant of the problem "
        "nor recomputed by its test:\n" + "\n".join(
            f"  {n.notebook} cell {n.cell}: {n.text!r} in ...{n.context}..." for n in unknown))
