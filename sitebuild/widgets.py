"""Widget cells on a page with no kernel: the static figure of the widget's plain function.

A lecture cell that displays a ``course.widgets`` widget has, once committed, only the widget's
model id as output (its state is stripped), which a static page cannot draw. Every widget wraps a
plain function that draws one figure (``lr_valley_widget`` calls ``lr_valley_figure``), and the
lectures call those functions in cells of their own. So a widget cell is shown with the figure
committed by the nearest cell of the same notebook that calls the widget's plain function, and a
line saying that the notebook has the interactive version. Which functions are a widget's plain
functions is read from ``course/widgets.py`` itself (the module's functions that the widget's
code calls), so nothing here names a widget or a notebook cell. Where a notebook holds no such
figure, the plain function is drawn with its default arguments when the site is built.
"""

import ast
import base64
import html
import io
from pathlib import Path

import nbformat

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")
NOTE_CLASS = "course-widget-note"  # the test finds the panels by it


def module_calls(module_file: Path) -> dict[str, list[str]]:
    """For each top-level function of the module: the module's other functions it calls, in the
    order they first appear (nested functions included)."""
    tree = ast.parse(Path(module_file).read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    calls = {}
    for name, node in functions.items():
        called = []
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
                    and sub.func.id in functions and sub.func.id != name
                    and sub.func.id not in called):
                called.append(sub.func.id)
        calls[name] = called
    return calls


def cell_calls(source: str) -> list[tuple[str, ast.Call]]:
    """The calls a cell makes, as ``f(...)`` or ``module.f(...)``: (name of f, the call), in the
    order of the source."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute | ast.Name)]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [(node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id, node)
            for node in calls]


def _python(source: str) -> str:
    """The cell without its IPython magics and shell escapes (blank lines in their place)."""
    return "\n".join("" if line.lstrip()[:1] in ("%", "!") else line
                     for line in source.splitlines())


def _images(cell) -> list[dict]:
    return [out for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result")
            and any(mime in out.get("data", {}) for mime in IMAGE_MIMES)]


def _is_widget_cell(cell, calls: dict[str, list[str]]) -> bool:
    """A cell that shows a widget, or one committed unrun (a widget too slow to build when the
    lecture runs, tagged to skip) that calls a widget: a module function named ``*_widget``."""
    outputs = cell.get("outputs", [])
    if any(WIDGET_MIME in out.get("data", {}) for out in outputs):
        return True
    return not outputs and any(name.endswith("_widget") and calls.get(name)
                               for name, _ in cell_calls(cell.source))


def _html_output(text: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": text}}


def _drawn_now(function_name: str) -> dict:
    """The plain function's figure with its default arguments, as an image output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course import widgets

    fig = getattr(widgets, function_name)()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<{function_name}()>"}}


def replace_widget_outputs(nb, module_file: Path) -> list[str]:
    """Give every widget cell of ``nb`` (nbformat 4, changed in place), run or not, a note and
    the static figure of the widget's plain function instead of its widget output. Returns one
    line per widget cell saying what it shows."""
    calls = module_calls(module_file)
    cells = nb.cells
    done = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or not _is_widget_cell(cell, calls):
            continue
        widget = next((name for name, _ in cell_calls(cell.source) if calls.get(name)), None)
        plain = calls.get(widget, [])
        drawers = [(abs(other - index), -other, other) for other, c in enumerate(cells)
                   if other != index and c.cell_type == "code" and _images(c)
                   and {name for name, _ in cell_calls(c.source)} & set(plain)]
        shows = f"<code>{html.escape(widget)}</code>" if widget else "an interactive widget"
        note = (f'<p class="{NOTE_CLASS}"><strong>Interactive in the notebook.</strong> This cell '
                f"shows {shows}, whose controls need a running kernel: open the notebook in "
                "JupyterLab to move them. ")
        if drawers:
            source = cells[min(drawers)[2]]
            call = next(node for name, node in cell_calls(source.source) if name in plain)
            shown = ast.get_source_segment(_python(source.source), call)
            note += ("Here, the static figure of its plain function, as the lecture draws it "
                     f"in another cell with <code>{html.escape(shown)}</code>.</p>")
            figures = [dict(out) for out in _images(source)]
        elif plain:
            shown = plain[0]
            note += (f"Here, the static figure of its plain function <code>{shown}()</code> "
                     "with its default arguments.</p>")
            figures = [_drawn_now(shown)]
        else:
            note += "</p>"
            figures = []
        for out in figures:
            out["output_type"] = "display_data"
            out.pop("execution_count", None)
        cell.outputs = [nbformat.from_dict(out) for out in [_html_output(note), *figures]]
        done.append(f"cell {index}: {widget} -> {len(figures)} figure(s)")
    return done
