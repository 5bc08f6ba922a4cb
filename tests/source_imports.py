"""What a Python file imports from the repository's own packages, read with ast (nothing is
imported): the structure tests of the grader and of the showdown share it."""

import ast
from pathlib import Path


def imports_of(path: Path, packages: set[str]) -> set[tuple[str, str]]:
    """``{(module, name or "")}`` for each import in ``path``, at any depth, of a module of one
    of ``packages`` (dotted, e.g. ``"course.showdown"``): ``from P import m`` gives
    ``("P.m", "")``, ``from P.m import n`` gives ``("P.m", "n")``, ``import P.m`` gives
    ``("P.m", "")``."""
    def ours(module: str) -> bool:
        return any(module.startswith(p + ".") for p in packages)

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in packages:
            found |= {(f"{node.module}.{a.name}", "") for a in node.names}
        elif isinstance(node, ast.ImportFrom) and ours(node.module or ""):
            found |= {(node.module, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {(a.name, "") for a in node.names if ours(a.name)}
    return found
