"""A learner's view: JupyterLab in headless Chromium runs the meta-training notebook.

Starts JupyterLab on 127.0.0.1 with a fresh workspace (a copy of the notebook in a
temp folder), opens notebook 04 in quick mode, runs all cells, and checks that the live
dashboard rendered (progress bar, figure, stop button) and that no cell raised.
A screenshot is saved to ``artifacts/browser/``. Needs Debian's ``/usr/bin/chromium``
(``.ci/run`` installs it); Playwright drives it, no browser download.
"""

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

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_meta_training.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    workdir = tmp_path / "course"
    workdir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, workdir / NOTEBOOK)
    port = free_port()
    env = {**os.environ, "AWAKE_TUTORIAL_QUICK": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
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


def test_meta_training_notebook_runs_in_jupyterlab(lab):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab}/lab/tree/{NOTEBOOK}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_timeout(2000)
            dialog = page.locator(".jp-Dialog button.jp-mod-accept")  # "Select Kernel", if asked
            if dialog.count():
                dialog.first.click()
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            page.click(".lm-MenuBar-item:has-text('Run')", timeout=30_000)
            page.click(".lm-Menu-item:has-text('Run All Cells')", timeout=30_000)
            # every code cell ran and none is still queued or running: each shown prompt has an
            # execution count, and the last count is the number of code cells (the collapsed
            # solution cells show no prompt, but they take their count too)
            page.wait_for_function(
                """() => {
                    const cells = [...document.querySelectorAll('.jp-CodeCell')];
                    const shown = cells.map(c => (c.querySelector('.jp-InputPrompt') || {textContent: ''})
                                                 .textContent.trim()).filter(t => t.length > 0);
                    const counts = shown.map(t => /\\[(\\d+)\\]/.exec(t)).filter(m => m).map(m => +m[1]);
                    return cells.length > 0 && counts.length === shown.length
                        && Math.max(...counts) === cells.length;
                }""", timeout=420_000, polling=1000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error:" in t]
            assert not tracebacks, tracebacks[0]
            assert page.locator(".widget-progress, .widget-hprogress").count() >= 1, "no progress bar rendered"
            assert page.locator(".jp-OutputArea-output img, .widget-image").count() >= 1, "no figure rendered"
            assert page.locator("button.widget-button, .jupyter-button").count() >= 1, "no stop button rendered"
            # the project disables JupyterLab's announcements plugin (Makefile, binder/postBuild):
            # a learner is not asked about Jupyter news on first start
            assert page.get_by_text("official Jupyter news").count() == 0, "the news popup is shown"
        finally:
            page.screenshot(path=str(ARTIFACTS / "04_meta_training.png"), full_page=True)
            browser.close()
