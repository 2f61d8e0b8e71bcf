"""A learner's view: JupyterLab in headless Chromium runs the course notebooks.

Starts JupyterLab on 127.0.0.1 with a fresh workspace (copies of the notebooks in a temp
folder), opens a notebook in quick mode and runs all cells. Notebook 04: the live
dashboard rendered (progress bar, figure, stop button) and no cell raised. Notebook 01:
the graded exercises say "not done yet" without stopping the notebook, and the self-check
quiz answers a click with its feedback (a wrong option: a cross and why; the right one: a
check mark and "Right"). Screenshots are saved to ``artifacts/browser/``. Needs Debian's ``/usr/bin/chromium``
(``.ci/run`` installs it); Playwright drives it, no browser download.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's package
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_meta_training.ipynb"
QUIZ_NOTEBOOK = "01_awake_steering_problem.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    workdir = tmp_path / "course"
    workdir.mkdir()
    for name in (NOTEBOOK, QUIZ_NOTEBOOK):
        shutil.copy(ROOT / "notebooks" / name, workdir / name)
    # every cell in the page, not only those scrolled into view (JupyterLab 4 renders a long
    # notebook lazily by default): the test reads outputs and quizzes all the way down
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    env = {**os.environ, "AWAKE_TUTORIAL_QUICK": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
               f"--ServerApp.root_dir={workdir}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its kernels, by PID
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"])


def run_all(page, lab: str, notebook: str, timeout_ms: int) -> None:
    """Open ``notebook`` in JupyterLab, Run All Cells, and wait until every code cell ran."""
    page.goto(f"{lab}/lab/tree/{notebook}", timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_timeout(2000)
    dialog = page.locator(".jp-Dialog button.jp-mod-accept")  # "Select Kernel", if asked
    if dialog.count():
        dialog.first.click()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)

    def run_all_cells():
        page.click(".lm-MenuBar-item:has-text('Run')", timeout=30_000)
        page.click(".lm-Menu-item:has-text('Run All Cells')", timeout=30_000)

    run_all_cells()
    # every code cell ran and none is still queued or running: each shown prompt has an execution
    # count (collapsed cells, e.g. the quiz's, show none), the largest is at least the number
    # of shown prompts, and the kernel is idle; twice in a row, 3 s apart (between two queued
    # cells the kernel can be idle for a moment)
    done = """() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell')].map(
            c => (c.querySelector('.jp-InputPrompt') || {textContent: ''}).textContent.trim());
        const shown = prompts.filter(t => t.length > 0);
        const counts = shown.map(t => /\\[(\\d+)\\]/.exec(t)).filter(m => m).map(m => +m[1]);
        const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']") !== null;
        return idle && shown.length > 0 && counts.length === shown.length
            && Math.max(...counts) >= shown.length;
    }"""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(
        p => /\\[(\\d+|\\*)\\]/.test(p.textContent))"""
    deadline = time.monotonic() + timeout_ms / 1000
    retry = time.monotonic() + 45
    streak = 0
    while streak < 2:
        # on a loaded machine the kernel can come up (or ask for itself) after Run All was
        # clicked, and nothing runs: accept the kernel dialog and ask again
        if time.monotonic() > retry and not page.evaluate(started):
            if dialog.count():
                dialog.first.click()
            run_all_cells()
            retry = time.monotonic() + 45
        if time.monotonic() > deadline:
            prompts = page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell')].map(
                c => (c.querySelector('.jp-InputPrompt') || {textContent: '-'}).textContent.trim())""")
            raise AssertionError(f"{notebook}: not every code cell ran in time; input prompts: {prompts}")
        streak = streak + 1 if page.evaluate(done) else 0
        page.wait_for_timeout(3000)


def tracebacks(page) -> list[str]:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in errors.all_inner_texts() if "Traceback" in t or "Error:" in t]


@contextlib.contextmanager
def ran_in_jupyterlab(lab: str, notebook: str, timeout_ms: int):
    """A page of ``notebook`` after Run All, no cell raised; a screenshot when done or failed."""
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            run_all(page, lab, notebook, timeout_ms=timeout_ms)
            assert not tracebacks(page), tracebacks(page)[0]
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / notebook.replace(".ipynb", ".png")), full_page=True)
            browser.close()


def test_quiz_gives_feedback_and_unfinished_exercises_do_not_stop_the_notebook(lab):
    with ran_in_jupyterlab(lab, QUIZ_NOTEBOOK, timeout_ms=300_000) as page:
        outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        assert outputs.count("NOT DONE YET") == 2, "both unfilled exercises say so"
        assert "instead of yours" in outputs, "and the notebook runs on with the package's version"
        quizzes = page.locator(".awake-quiz")
        assert quizzes.count() == 5, "five quiz questions rendered as widgets"
        first = quizzes.first
        first.scroll_into_view_if_needed()
        feedback = first.locator(".awake-quiz-feedback")
        verdicts = []
        for i in range(first.locator(".awake-quiz-option").count()):
            first.locator(".awake-quiz-option").nth(i).click()
            page.wait_for_function("el => !el.innerText.includes('Choose an answer')",
                                   arg=feedback.element_handle(), timeout=10_000)
            page.wait_for_timeout(300)
            verdicts.append(feedback.inner_text())
        right = [v for v in verdicts if "\u2714" in v]
        wrong = [v for v in verdicts if "\u2718" in v]
        assert len(right) == 1 and "Right" in right[0], verdicts
        assert len(wrong) == len(verdicts) - 1 and all(len(v) > 20 for v in wrong), \
            "every wrong option explains why"


def test_meta_training_notebook_runs_in_jupyterlab(lab):
    with ran_in_jupyterlab(lab, NOTEBOOK, timeout_ms=420_000) as page:
        assert page.locator(".widget-progress, .widget-hprogress").count() >= 1, "no progress bar rendered"
        assert page.locator(".jp-OutputArea-output img, .widget-image").count() >= 1, "no figure rendered"
        assert page.locator("button.widget-button, .jupyter-button").count() >= 1, "no stop button rendered"
        # the project disables JupyterLab's announcements plugin (Makefile, binder/postBuild):
        # a learner is not asked about Jupyter news on first start
        assert page.get_by_text("official Jupyter news").count() == 0, "the news popup is shown"
