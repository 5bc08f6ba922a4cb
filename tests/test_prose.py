"""tests/prose.py reads the numbers a markdown cell states, and only those, at their precision."""

import re

import pytest

from tests.prose import numbers_in, stated_numbers, unknown_numbers


def read(markdown):
    return [(n.text, n.value) for n in numbers_in(markdown)]


@pytest.mark.parametrize("markdown, numbers", [
    ("after 20 steps x = 1.9769, error 0.0231", [("20", 20), ("1.9769", 1.9769),
                                                ("0.0231", 0.0231)]),
    ("a condition number of 4×10⁷, or 4.05 \\times 10^{7}", [("4×10⁷", 4e7),
                                                            ("4.05 \\times 10^{7}", 4.05e7)]),
    ("ε = 1e-8, below 10⁻⁸ or $10^{-4}$", [("1e-8", 1e-8), ("10⁻⁸", 1e-8), ("10^{-4}", 1e-4)]),
    ("$\\eta\\cdot 10^{-9}$ is $\\approx 10^{-6}$", [("10^{-9}", 1e-9), ("10^{-6}", 1e-6)]),
    ("float16 tops out at 65 504 and 60,000 images", [("65 504", 65504), ("60,000", 60000)]),
    ("$101\\,770$ parameters", [("101\\,770", 101770)]),
    ("31 % put ε inside, a slope of −0.5 and -2 here", [("31 %", 0.31), ("−0.5", -0.5),
                                                       ("-2", -2)]),
    ("47 million pixels, a factor of ½", [("47 million", 47e6), ("½", 0.5)]),
    ("$L(w) = (w-4)^2$ and $x^2 - 4x + 5$", [("4", 4), ("2", 2), ("2", 2), ("4", 4), ("5", 5)]),
])
def test_reads_the_numbers_as_written(markdown, numbers):
    assert read(markdown) == numbers


@pytest.mark.parametrize("markdown", [
    "## 3. Three steps by hand", "see chapter 4 and chapters 6–7, §3, part 2",
    "**Question 4** (`lr_edge`, a number)",
    "1. first item\n2. second", "| 1. `gd_step` |",
    "$w_1$, $x_{t-1}$, `n_steps`, `w0`, float64, GPT-3 and CIFAR-10",
    "Goyal et al. 2017, (2015), Smith, 2017; nbgrader 0.9.6",
    "[a link](https://example.org/a1/2.html) <img src='fig3.png'>",
])
def test_leaves_out_what_is_not_a_claim(markdown):
    assert read(markdown) == []


def test_matches_at_the_written_precision():
    [rounded] = numbers_in("x = 1.9769")
    assert rounded.matches(1.976941) and not rounded.matches(1.9770)
    [power] = numbers_in("about 4×10⁷")
    assert power.matches(4.05e7) and not power.matches(4.6e7)
    [percent] = numbers_in("31 % of the class")
    assert percent.matches(0.3125) and not percent.matches(31)
    [integer] = numbers_in("346 steps")
    assert integer.matches(345.6) and not integer.matches(345.4)
    [negative] = numbers_in("slope −0.51")
    assert negative.matches(-0.507) and not negative.matches(0.507)
    [magnitude] = numbers_in("it shrinks by 0.51")
    assert magnitude.matches(-0.507) and magnitude.matches(0.507)


def test_points_of_an_exercise_notebook_are_known_from_its_metadata():
    """"— 22 points" in the title and "(3 points)" in each heading are read from the cells'
    nbgrader points, with nothing else known."""
    points = [n for n in stated_numbers("ch01_gd_by_hand", "exercises")
              if re.search(rf"[(—]\s*{re.escape(n.text)} points", n.context)]
    assert sorted(n.text for n in points) == ["2", "2", "22", "3", "3", "3", "3", "6"]
    unknown = unknown_numbers("ch01_gd_by_hand", [], ["exercises"])
    assert not [n.text for n in points if n in unknown]
