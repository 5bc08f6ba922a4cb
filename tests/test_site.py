"""The course's website (``make site``) as a reader meets it, and the pieces that make it.

The site is built once from the committed notebooks into a temporary folder, served by a plain
static file server on the loopback, and walked in headless Chromium (test_browser.py's) from the
front page along every internal link, with every request off the loopback refused: no request
fails, nothing is refused, no console error, every image loads, every formula is typeset by the
site's own MathJax, every internal link and anchor resolves, search finds a lecture.
Screenshots land in ``test-artifacts/site/``.
"""

import base64
import functools
import html
import http.server
import io
import os
import re
import threading
import urllib.parse
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

import sitebuild
from coursetools.student_kit import leaks, solution_snippets
from sitebuild import pages, widgets
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "site"
CHAPTERS = pages.chapters(ROOT)
WIDGETS_FILE = ROOT / "course" / "widgets.py"
SCREENSHOTS = {"/index.html", f"/{CHAPTERS[0].slug}/lecture.html",
               f"/{CHAPTERS[0].slug}/exercises.html", "/showdown/report.html"}


def _png(width=4, height=3) -> bytes:
    fig, ax = plt.subplots(figsize=(width, height), dpi=40)
    ax.plot([0, 1, 2], [2, 1, 0.5])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def standin_report(folder: Path) -> Path:
    """A small showdown report in the layout course.showdown writes: a table, math, a figure."""
    folder.mkdir(parents=True)
    (folder / "train_loss.png").write_bytes(_png())
    report = folder / "report.md"
    report.write_text("# MNIST optimizer showdown (stand-in)\n\n"
                      "| optimizer | test accuracy |\n| --- | ---: |\n| sgd | 0.9628 |\n"
                      "| adam | 0.9777 |\n\nThe gap is $L_{test} - L_{train}$.\n\n"
                      "![train loss](train_loss.png)\n")
    return report


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built from the committed notebooks (and the showdown report once committed,
    a stand-in until then)."""
    tmp = tmp_path_factory.mktemp("site")
    report = sitebuild.SHOWDOWN_REPORT
    if not report.is_file():
        report = standin_report(tmp / "showdown")
    environment = dict(os.environ)
    built = sitebuild.build(tmp / "site", showdown=report, work=tmp / "work", quiet=True,
                            strict=True)
    # Kernels that later tests of this worker start inherit it (MPLBACKEND=Agg hid figures).
    assert dict(os.environ) == environment, "building the site changed os.environ"
    return built


# --- the pieces, without a browser ------------------------------------------------------------

def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _code(source, *outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


WIDGET_OUT = {"output_type": "execute_result", "execution_count": 3, "metadata": {},
              "data": {widgets.WIDGET_MIME: {"model_id": "abc", "version_major": 2,
                                             "version_minor": 0},
                       "text/plain": "interactive(children=(FloatSlider(...),))"}}


def _image_out(tag):
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(_png()).decode(), "text/plain": tag}}


WIDGETS_MODULE = '''
def valley_figure(lr=0.1):
    return helper(lr)

def helper(lr):
    pass

def valley_widget():
    def draw(lr):
        fig = valley_figure(lr)
    return interactive(draw, lr=FloatSlider())
'''


def test_widget_cell_gets_the_nearest_committed_figure_of_its_plain_function(tmp_path):
    module = tmp_path / "widgets.py"
    module.write_text(WIDGETS_MODULE)
    assert widgets.module_calls(module)["valley_widget"] == ["valley_figure"]
    nb = _nb(_code("fig = widgets.valley_figure(lr=1.5)\nplt.show()", _image_out("far")),
             nbformat.v4.new_markdown_cell("Try it:"),
             _code("# NBVAL_IGNORE_OUTPUT\nwidgets.valley_widget()", WIDGET_OUT),
             _code("valley_figure(0.5)", _image_out("near")),
             _code("plt.plot([1, 2])", _image_out("not the plain function")))
    assert widgets.replace_widget_outputs(nb, module) == ["cell 2: valley_widget -> 1 figure(s)"]
    outputs = nb.cells[2].outputs
    assert [o.output_type for o in outputs] == ["display_data", "display_data"]
    note = outputs[0].data["text/html"]
    assert widgets.NOTE_CLASS in note and "valley_widget" in note
    assert "<code>valley_figure(0.5)</code>" in note
    assert outputs[1].data["text/plain"] == "near"
    assert not any(widgets.WIDGET_MIME in o.get("data", {}) for c in nb.cells
                   for o in c.get("outputs", []))
    nbformat.validate(nb)


def test_a_widget_cell_committed_unrun_gets_its_figure_too(tmp_path):
    """A widget too slow to build when the lecture runs is committed without outputs (tagged to
    skip); its plain function's figure stands in for it all the same. A cell without outputs
    that calls a plain function is not a widget cell."""
    module = tmp_path / "widgets.py"
    module.write_text(WIDGETS_MODULE)
    nb = _nb(_code("fig = widgets.valley_figure(lr=1.5)", _image_out("drawn")),
             nbformat.v4.new_code_cell("widgets.valley_widget()"),
             nbformat.v4.new_code_cell("widgets.valley_figure(2.0)"))
    assert widgets.replace_widget_outputs(nb, module) == ["cell 1: valley_widget -> 1 figure(s)"]
    assert nb.cells[1].outputs[1].data["text/plain"] == "drawn" and not nb.cells[2].outputs
    nbformat.validate(nb)


def test_widget_without_a_committed_figure_is_drawn_with_the_defaults(tmp_path):
    # A real widget of course.widgets, found the way the build finds it.
    module = WIDGETS_FILE
    widget, plain = next((name, called) for name, called in widgets.module_calls(module).items()
                         if name.endswith("_widget") and called)
    nb = _nb(_code(f"widgets.{widget}()", WIDGET_OUT))
    widgets.replace_widget_outputs(nb, module)
    note, figure = nb.cells[0].outputs
    assert f"<code>{plain[0]}()</code> with its default arguments" in note.data["text/html"]
    assert base64.b64decode(figure.data["image/png"]).startswith(b"\x89PNG")


def test_lecture_page_keeps_outputs_drops_test_markers_and_links_the_exercises(tmp_path):
    lecture = tmp_path / "source" / "ch09_new" / "lecture.ipynb"
    lecture.parent.mkdir(parents=True)
    nbformat.write(_nb(nbformat.v4.new_markdown_cell("# Chapter 9 — New\n\nThen do "
                                                     "[the exercises](exercises.ipynb)."),
                       _code("# NBVAL_IGNORE_OUTPUT\nprint(1)",
                             {"output_type": "stream", "name": "stdout", "text": "1\n"})),
                   lecture)
    chapter = pages.Chapter("ch09_new", lecture, tmp_path / "release" / "ch09_new" / "ex.ipynb",
                            tmp_path / "release" / "ch09_new" / "lecture.ipynb")
    assert chapter.number == 9
    lecture_title, done = pages.stage_lecture(chapter, tmp_path / "out", WIDGETS_FILE)
    assert (lecture_title, done) == ("Chapter 9 — New", [])
    staged = nbformat.read(tmp_path / "out" / "ch09_new" / "lecture.ipynb", as_version=4)
    assert "[the exercises](exercises.md)" in staged.cells[0].source
    assert "Run it yourself" in staged.cells[1].source
    assert staged.cells[2].source == "print(1)" and staged.cells[2].outputs[0].text == "1\n"


def test_points_table_reads_nbgrader_metadata():
    def graded(grade_id, points):
        cell = nbformat.v4.new_code_cell("check_close(...)")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "grade_id": grade_id, "points": points}
        return cell

    solution = nbformat.v4.new_code_cell("# YOUR CODE HERE")
    solution.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "step"}
    nb = _nb(nbformat.v4.new_markdown_cell("# Exercises — 4.5 points\n\nYou will step.\n\n"
                                           "| part | points |\n| --- | --- |\n| 1 | 2 |"),
             nbformat.v4.new_markdown_cell("## 1. One step (2 points)\n\nWrite it."),
             solution, graded("test_step", 2),
             nbformat.v4.new_markdown_cell("## 2. Concepts (2.5 points)"),
             graded("test_a", 1), nbformat.v4.new_markdown_cell("**(b)** Which?"),
             graded("test_b", 1.5))
    assert pages.points(nb) == [("1. One step", "test_step", 2.0),
                                ("2. Concepts", "test_a", 1.0), ("2. Concepts", "test_b", 1.5)]
    assert pages.title(nb) == "Exercises — 4.5 points"
    assert pages._intro(nb) == "You will step."


def test_showdown_page_without_a_report_says_how_to_make_it(tmp_path):
    assert pages.stage_showdown(tmp_path / "missing" / "report.md", tmp_path / "out") is False
    text = (tmp_path / "out" / "showdown" / "report.md").read_text()
    assert text.startswith("# ") and "make showdown" in text
    report = standin_report(tmp_path / "docs")
    assert pages.stage_showdown(report, tmp_path / "out2") is True
    assert (tmp_path / "out2" / "showdown" / "train_loss.png").is_file()


def test_leak_check_reads_web_pages(tmp_path):
    """The student kit's check, run on a page that shows a solution as highlighted code."""
    source = ROOT / "source"
    snippet = solution_snippets(source)[0]
    hidden = solution_snippets(source, "HIDDEN TESTS")[0]
    spans = "\n".join(f'<span class="n">{html.escape(line)}</span>'
                      for line in snippet.splitlines())
    (tmp_path / "page.html").write_text(f"<html><body><pre>{spans}</pre></body></html>")
    (tmp_path / "hidden.html").write_text(
        f"<pre>{html.escape(hidden)}</pre><p>### BEGIN HIDDEN TESTS</p>")
    (tmp_path / "clean.html").write_text("<p>from course import widgets</p>")
    found = "\n".join(leaks(tmp_path, source))
    assert "page.html: the solution" in found
    assert "hidden.html: the hidden test" in found and "hidden.html: a hidden-test region" in found
    assert "clean.html" not in found


# --- the built site -------------------------------------------------------------------------

def test_site_holds_no_solution_and_the_release_exercises(site):
    assert leaks(site, ROOT / "source") == []
    downloads = {p.name: p for p in site.glob("_downloads/*/*.ipynb")}
    for chapter in CHAPTERS:
        page = (site / chapter.slug / "exercises.html").read_text()
        (href,) = re.findall(r'href="(\.\./_downloads/[^"]+/exercises\.ipynb)"', page)
        assert (site / chapter.slug / href).resolve().read_bytes() == \
            chapter.exercises.read_bytes(), f"{chapter.slug}: not the release exercises"
        total = sum(p for *_, p in pages.points(nbformat.read(chapter.exercises, 4)))
        assert f"<strong>{total:g}</strong>" in page
    assert set(downloads) <= {"lecture.ipynb", "exercises.ipynb"}


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser_page(server):
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems = []
    host = urllib.parse.urlsplit(server).netloc
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 900})

        def route(r):
            if urllib.parse.urlsplit(r.request.url).netloc == host:
                r.continue_()
            else:
                problems.append(f"request off the loopback: {r.request.url}")
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(120_000)  # a loaded machine; a page that never loads still fails
        page.on("console", lambda m: m.type == "error" and problems.append(
            f"console error on {page.url}: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error on {page.url}: {e}"))
        page.on("requestfailed", lambda r: problems.append(
            f"failed request {r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"HTTP {r.status} for {r.url}"))
        page.problems = problems
        yield page
        browser.close()


# Math the page holds, typeset or not; images and whether they loaded; links and anchors.
PAGE_FACTS = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    await document.fonts.ready;
    const math = [...document.querySelectorAll('.math')];
    return {
        math: math.length,
        typeset: math.filter(m => m.querySelector('mjx-container')).length,
        errors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
            .map(e => e.getAttribute('data-mjx-error') || e.textContent),
        raw: math.filter(m => !m.querySelector('mjx-container'))
            .map(m => m.textContent.slice(0, 80)),
        images: [...document.images].map(i => ({src: i.src,
            ok: i.complete && i.naturalWidth > 0})),
        ids: [...document.querySelectorAll('[id]')].map(e => e.id),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        widgets: [...document.querySelectorAll('.%s')].map(note => {
            const cell = note.closest('.cell');
            const imgs = cell ? [...cell.querySelectorAll('.cell_output img')] : [];
            return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
        }),
        next: !!document.querySelector('.prev-next-area a.right-next'),
        prev: !!document.querySelector('.prev-next-area a.left-prev'),
        toc: [...document.querySelectorAll('.bd-sidebar-primary a.reference.internal')].length,
    };
}""".replace("%s", widgets.NOTE_CLASS)


@pytest.fixture(scope="module")
def walk(server, browser_page):
    """Every page reached from the front page by internal links: {path: facts}."""
    page, facts, files = browser_page, {}, {}
    queue, anchors = ["/index.html"], []
    while queue:
        path = queue.pop(0)
        if path in facts or path in files:
            continue
        if not path.endswith(".html"):
            files[path] = page.request.get(server + path).status
            continue
        page.goto(server + path, wait_until="load")
        facts[path] = page.evaluate(PAGE_FACTS)
        if path in SCREENSHOTS:
            name = path.strip("/").replace("/", "-").removesuffix(".html")
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
        for link in facts[path]["links"]:
            url = urllib.parse.urlsplit(link)
            if url.netloc != urllib.parse.urlsplit(server).netloc:
                continue
            target = url.path if not url.path.endswith("/") else url.path + "index.html"
            queue.append(target)
            if url.fragment:
                anchors.append((path, target, urllib.parse.unquote(url.fragment)))
    return {"pages": facts, "files": files, "anchors": anchors}


def test_every_page_reads_offline(walk, browser_page):
    pages_seen = walk["pages"]
    expected = {"/index.html", "/showdown/report.html"}
    for chapter in CHAPTERS:
        expected |= {f"/{chapter.slug}/lecture.html", f"/{chapter.slug}/exercises.html"}
    assert expected <= set(pages_seen), f"not reached: {sorted(expected - set(pages_seen))}"
    assert browser_page.problems == [], "\n".join(browser_page.problems)
    for path, facts in pages_seen.items():
        broken = [i["src"] for i in facts["images"] if not i["ok"]]
        assert broken == [], f"{path}: images that did not load: {broken}"
        assert facts["errors"] == [], f"{path}: MathJax errors {facts['errors']}"
        assert facts["typeset"] == facts["math"], f"{path}: math not typeset: {facts['raw']}"
        assert all(facts["widgets"]), f"{path}: a widget note without its figure"
        if path != "/search.html":
            assert facts["toc"] >= 2 * len(CHAPTERS) + 1, f"{path}: no table of contents"
    for path, status in walk["files"].items():
        assert status == 200, f"{path}: HTTP {status}"
    for source, target, anchor in walk["anchors"]:
        if target in pages_seen:
            assert anchor in pages_seen[target]["ids"], f"{source}: no #{anchor} in {target}"


def test_lectures_show_their_outputs_math_and_widgets(walk):
    pages_seen = walk["pages"]
    for chapter in CHAPTERS:
        facts = pages_seen[f"/{chapter.slug}/lecture.html"]
        nb = nbformat.read(chapter.lecture, as_version=4)
        images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if "image/png" in o.get("data", {}))
        # every cell that builds a widget, run or committed unrun, read from its source
        shown = [cell for cell in nb.cells if cell.cell_type == "code"
                 and re.search(r"\bwidgets\.\w+_widget\(", cell.source)]
        assert len(facts["widgets"]) == len(shown), chapter.slug
        assert len(facts["images"]) >= images, f"{chapter.slug}: figures missing"
        if "$" in "".join(c.source for c in nb.cells if c.cell_type == "markdown"):
            assert facts["math"] > 0, f"{chapter.slug}: its formulas are not on the page"
        assert facts["next"], f"{chapter.slug}: no link to the next page"
        assert facts["prev"], f"{chapter.slug}: no link to the previous page"
    assert sum(len(f["widgets"]) for f in pages_seen.values()) > 0


def _search_word() -> str:
    """A word of the first lecture's prose that no other lecture uses."""
    def words(chapter):
        nb = nbformat.read(chapter.lecture, as_version=4)
        text = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
        return re.findall(r"\b[a-z]{7,}\b", re.sub(r"\$[^$]*\$", " ", text.lower()))

    others = {w for chapter in CHAPTERS[1:] for w in words(chapter)}
    return next(w for w in words(CHAPTERS[0]) if w not in others)


def test_an_undefined_macro_is_a_mathjax_error_the_walk_sees(server, browser_page):
    """MathJax's noundefined package would draw an undefined macro as red text in a normal
    formula, which the walk counts as typeset: the site's configuration leaves it out."""
    page = browser_page
    page.goto(f"{server}/{CHAPTERS[0].slug}/lecture.html")
    errors = page.evaluate("""async () => {
        await MathJax.startup.promise;
        const node = MathJax.tex2chtml('\\\\argmin_w L(w)');
        return [...node.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error'));
    }""")
    assert errors == ["Undefined control sequence \\argmin"], errors


def test_search_finds_a_lecture(server, browser_page):
    page, word = browser_page, _search_word()
    page.goto(f"{server}/search.html?q={word}")
    results = page.locator("#search-results li a")
    results.first.wait_for(timeout=30_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    assert any(f"{CHAPTERS[0].slug}/lecture.html" in h for h in hrefs), (word, hrefs)
    assert browser_page.problems == [], "\n".join(browser_page.problems)


def test_site_front_page_lists_every_chapter(walk):
    links = walk["pages"]["/index.html"]["links"]
    for chapter in CHAPTERS:
        assert any(link.endswith(f"/{chapter.slug}/lecture.html") for link in links)
        assert any(link.endswith(f"/{chapter.slug}/exercises.html") for link in links)
    assert any(link.endswith("/showdown/report.html") for link in links)
