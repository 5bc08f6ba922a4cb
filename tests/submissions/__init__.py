"""Known-wrong submissions: what a chapter's autograding must score and say for each mistake.

Each ``tests/submissions/chNN_<slug>.py`` defines ``WRONG``, a list of ``Wrong`` records for the
chapter ``source/chNN_<slug>/``. The round trip (``tests/test_roundtrip.py``) builds each one from
the release notebook with every solution cell answered as in the source, replaces the cells in
``replace``, autogrades it with nbgrader and checks ``score`` and ``fails``. A record may also
describe a right answer written differently (``fails`` empty, ``score`` the chapter's total).
"""

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Wrong", "load_wrong"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")


@dataclass(frozen=True)
class Wrong:
    name: str                  # a short id, unique in its chapter: [a-z0-9_]
    mistake: str               # what the student did wrong, in words
    replace: dict[str, str]    # solution-cell grade_id -> the source the student wrote there
    score: float               # the total this submission must get
    fails: dict[str, str] = field(default_factory=dict)
    # failing test cell grade_id -> words its error message must hold (case-insensitive);
    # every other test cell must pass

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"Wrong.name must be lower-case letters, digits and _: {self.name!r}")
        if not self.replace or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.replace.items()
        ):
            raise ValueError(f"{self.name}: replace must map grade_ids to cell sources")
        if not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                   for k, v in self.fails.items()):
            raise ValueError(f"{self.name}: fails must map test grade_ids to non-empty words")
        if not isinstance(self.score, int | float) or self.score < 0:
            raise ValueError(f"{self.name}: score must be a number >= 0, got {self.score!r}")


def load_wrong(folder: Path = Path(__file__).parent) -> dict[str, list[Wrong]]:
    """Every chapter's ``WRONG`` list, keyed by chapter folder name (``ch01_gd_by_hand``)."""
    loaded = {}
    for path in sorted(Path(folder).glob("ch[0-9][0-9]_*.py")):
        module = importlib.import_module(f"{__name__}.{path.stem}")
        wrong = getattr(module, "WRONG", None)
        if not isinstance(wrong, list | tuple):
            raise TypeError(f"{path} must define WRONG, a list of Wrong records")
        names = [w.name for w in wrong]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{path}: duplicated Wrong names {duplicates}")
        loaded[path.stem] = list(wrong)
    return loaded
