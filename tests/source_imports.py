"""What a Python file imports from the repository's own packages, read with ast (nothing is
imported): the structure tests of the grader and of the showdown share it."""

import ast
from pathlib import Path


def imports_of(path: Path, packages: set[str]) -> set[tuple[str, str]]:
    """``{(module, name or "")}`` for each import in ``path``, at any depth, of one of
    ``packages`` (dotted, e.g. ``"course.showdown"``) or a module of one: ``from P import m``
    gives ``("P.m", "")``, ``from P.m import n`` gives ``("P.m", "n")``, ``import P.m`` gives
    ``("P.m", "")`` and ``import P`` gives ``("P", "")``."""
    return imports_in(path.read_text(), packages)


def imports_in(source: str, packages: set[str]) -> set[tuple[str, str]]:
    """:func:`imports_of` for Python source text."""
    def ours(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in packages)

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in packages:
            found |= {(f"{node.module}.{a.name}", "") for a in node.names}
        elif isinstance(node, ast.ImportFrom) and ours(node.module or ""):
            found |= {(node.module, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {(a.name, "") for a in node.names if ours(a.name)}
    return found
