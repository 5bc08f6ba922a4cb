"""The student flow in a real browser: JupyterLab, the widgets and nbgrader's Validate button.

Headless Debian Chromium driven by Playwright, against JupyterLab on localhost, on a temporary
copy of a release chapter. Screenshots of each step land in ``test-artifacts/browser/``. The test
fails on any kernel error (an error output in a cell) and on any JavaScript console error.

Without Chromium (``/usr/bin/chromium``, installed by ``.ci/run``) the test is skipped with a
loud reason that pytest counts in its summary; CI installs it, so there it always runs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = os.environ.get("COURSE_BROWSER_CHAPTER", "ch01_gd_by_hand")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
# As the machine's own probe starts it: no sandbox (we run as root), no background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TOKEN = "course-browser-test"
# The first solution of chapter 1, as a student would type it.
GD_STEP = "def gd_step(w, grad, lr):\n    return w - lr * grad\n"

pytestmark = pytest.mark.browser


def server_url(runtime_dir: Path, server: subprocess.Popen) -> str | None:
    """The URL of the JupyterLab ``server`` started, once it says in its runtime folder which
    port it took (it picks a free one itself: ``--ServerApp.port=0``)."""
    from jupyter_server.serverapp import list_running_servers

    for info in list_running_servers(str(runtime_dir)):
        if info.get("pid") == server.pid:
            return info["url"].rstrip("/")
    return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a fresh copy of the release chapter; yields its base URL."""
    if not CHROMIUM.exists():  # as the site's test: a test not run is a failure, not a skip
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver, as "
                    ".ci/run does)")
    # A fresh environment builds matplotlib's font cache on first import: do it here, not
    # inside the first notebook cell the browser waits on.
    subprocess.run([sys.executable, "-c", "import matplotlib.pyplot"], check=True)
    home = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "release" / CHAPTER, home / CHAPTER)
    # No "get notified about Jupyter news?" pop-up over the notebook.
    settings = home / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    runtime = home / "runtime"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(runtime))
    log = open(home / "lab.log", "w")
    # The server picks its own port (no free port to race for) and its kernels talk over Unix
    # sockets beside their connection files; only the browser's HTTP needs TCP.
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.port=0", "--ServerApp.ip=127.0.0.1", "--KernelManager.transport=ipc",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={home}",
         "--LabApp.news_url=None", f"--LabApp.user_settings_dir={home / '.settings'}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            url = server_url(runtime, server)
            try:
                if url:
                    urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start:\n" + (home / "lab.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console_errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.console_errors = console_errors
        yield page
        browser.close()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_notebook(page, lab, path, timeout=180):
    """Open a notebook and wait until its kernel is up and idle. On a loaded machine the
    kernel specs can arrive after the notebook, and JupyterLab then asks which kernel to
    start: the student picks the one it proposes, and so does this test."""
    page.goto(f"{lab}/lab/tree/{path}?token={TOKEN}")
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer_dialog(page) is None and re.search(
                r"\| Idle", " ".join(page.locator(".jp-StatusBar-Widget").all_inner_texts())):
            break
        time.sleep(0.5)
    else:
        shot(page, "failed-kernel-start")
        raise AssertionError(f"the kernel of {path} was not idle after {timeout} s")
    wait_kernel_idle(page)


# What a student answers to JupyterLab's dialogs: start the proposed kernel; keep the notebook
# as it is in the browser (the student's edits) when the file on disk looks newer.
DIALOG_ANSWERS = {"Select Kernel": "Select", "File Changed": "Overwrite"}


def answer_dialog(page):
    """Answer an open dialog listed in DIALOG_ANSWERS; return its title, None if none is open."""
    dialog = page.locator(".jp-Dialog")
    if not dialog.count():
        return None
    title = dialog.locator(".jp-Dialog-header").inner_text().strip()
    if title in DIALOG_ANSWERS:
        dialog.locator(".jp-Dialog-button", has_text=DIALOG_ANSWERS[title]).click()
    return title


def wait_kernel_idle(page, timeout=120):
    """Wait until no cell of the visible notebook is queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = page.evaluate("""() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
            if (!nb) return true;
            const prompts = [...nb.querySelectorAll('.jp-InputPrompt')].map(p => p.textContent);
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
            return prompts.some(t => t.includes('*'))
                || (status && status.getAttribute('data-status') === 'busy');
        }""")
        if not busy:
            return
        time.sleep(0.5)
    raise AssertionError(f"the notebook was still running after {timeout} s")


def code_prompts(page) -> list[str]:
    """The input prompts ("[3]:", "[*]:", "[ ]:") of the visible notebook's code cells."""
    return page.evaluate("""() => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
        return nb ? [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
            .map(p => p.textContent) : [];
    }""")


def wait_all_cells_ran(page, timeout=300):
    """After Run All: wait until every code cell of the visible notebook shows an execution
    count (a fresh kernel may take a while before the first cell is even queued)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompts = code_prompts(page)
        if prompts and all(re.search(r"\[\d+\]", p) for p in prompts):
            return
        time.sleep(0.5)
    shot(page, "failed-run-all")
    status = page.locator(".jp-StatusBar-Widget").all_inner_texts()
    raise AssertionError(f"Run All did not finish in {timeout} s: prompts {prompts}, "
                         f"status bar {status}")


def wait_saved(page, timeout=60):
    """Wait until the visible notebook's tab no longer shows unsaved changes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer_dialog(page)
        if not page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count():
            return
        time.sleep(0.25)
    shot(page, "failed-save")
    raise AssertionError(f"the notebook was not saved after {timeout} s")


def run_menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def error_outputs(page):
    """Tracebacks and stderr text shown in the visible notebook."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) '
            + '[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(o => o.textContent.slice(0, 500))""")


WIDGET_IMAGES = ".jp-OutputArea .widget-output img, .jupyter-widgets-output-area img"


def widget_image(page):
    img = page.locator(WIDGET_IMAGES).first
    img.wait_for(timeout=120_000)
    return img.get_attribute("src")


def test_student_flow(lab, page):
    # 1. The lecture: run every cell, no cell errors.
    open_notebook(page, lab, f"{CHAPTER}/lecture.ipynb")
    shot(page, "1-lecture-opened")
    run_menu(page, "Run", "Run All Cells")
    wait_all_cells_ran(page)
    assert error_outputs(page) == [], "lecture cells wrote errors"
    shot(page, "2-lecture-ran")

    # 2. The widget: moving its slider redraws the plot.
    slider = page.locator(".widget-slider .noUi-handle, .widget-slider input[type=range]").first
    slider.scroll_into_view_if_needed(timeout=120_000)
    before = widget_image(page)
    shot(page, "3-widget-before")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([sel, before]) => [...document.querySelectorAll(sel)].some(i => i.src !== before)",
        arg=[WIDGET_IMAGES, before], timeout=30_000)
    assert widget_image(page) != before
    shot(page, "4-widget-after")

    # 3. The exercises: fill the first solution cell, run it and its test cell.
    open_notebook(page, lab, f"{CHAPTER}/exercises.ipynb")
    shot(page, "5-exercises-opened")
    stub = page.locator(".jp-CodeCell", has_text="raise NotImplementedError()").first
    stub.scroll_into_view_if_needed()
    stub.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(GD_STEP)
    page.keyboard.press("Escape")
    run_menu(page, "Run", "Run All Above Selected Cell")  # the imports
    wait_kernel_idle(page)
    page.keyboard.press("Shift+Enter")  # runs the solution cell, moves to its test cell
    wait_kernel_idle(page)
    page.keyboard.press("Shift+Enter")  # runs the test cell
    wait_kernel_idle(page)
    ran = [bool(re.search(r"\[\d+\]", p)) for p in code_prompts(page)]
    # the imports, the solution gd_step and its test ran; the next solution did not
    assert ran[:4] == [True, True, True, False], code_prompts(page)
    assert error_outputs(page) == [], "the filled solution or its test cell failed"
    shot(page, "6-solution-and-test-ran")

    # 4. nbgrader's Validate button: the other exercises are still empty, so it must say so.
    page.keyboard.press("Control+s")
    wait_saved(page)
    page.locator(".validate-button:visible").first.click()  # nbgrader's toolbar button
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    text = dialog.inner_text()
    shot(page, "7-validated")
    # the validation ran (not "Validation failed": a notebook it could not save or check) and
    # lists the tests of the stubs, not that of the solved gd_step
    assert dialog.locator(".jp-Dialog-header").inner_text().strip() == "Validation Results", text
    assert dialog.locator(".validation-failed").count() == 1, text
    assert "The following cell failed:" in text and "NotImplementedError" in text, text
    assert "# (w - 3)^2 at w = 0 has gradient -6" not in text, text
    page.keyboard.press("Escape")

    assert page.console_errors == [], "JavaScript console errors:\n" + json.dumps(
        page.console_errors, indent=1)
