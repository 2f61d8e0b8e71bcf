"""Suite-wide guard: no process started by the tests outlives them.

Every process the test run starts inherits ``AWAKE_TUTORIAL_TEST_RUN`` (a fresh id per
run), also when its parent has exited and it was re-parented (e.g. caproto's CA repeater,
which ``caproto.sync.client`` spawns unless told ``repeater=False``). At the end of the
session any such process still alive is listed, ended, and the run fails.
"""

from __future__ import annotations

import os
import time
import uuid

import psutil
import pytest

MARKER = "AWAKE_TUTORIAL_TEST_RUN"
GRACE_SECONDS = 5.0  # time for processes that are already shutting down (kernels, servers)


def processes_of_this_run(run_id: str | None = None) -> list[psutil.Process]:
    """Live processes, other than this one, whose environment carries this run's marker."""
    run_id = run_id or os.environ.get(MARKER)
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(MARKER) == run_id and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def end_processes(processes: list[psutil.Process]) -> None:
    """Terminate, then kill what is left after 3 s."""
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=3)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # one id for the whole run (xdist workers inherit it)
        os.environ[MARKER] = uuid.uuid4().hex


@pytest.hookimpl(trylast=True)  # after pytest-xdist has ended its workers; before the summary
def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while (left := processes_of_this_run()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return
    described = []
    for process in left:
        try:
            described.append(f"  pid {process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            described.append(f"  pid {process.pid}")
    end_processes(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = ("PROCESSES LEFT BEHIND: the tests started these and did not end them (now ended; the run "
               "fails). Stop them in the test or fixture that starts them:\n" + "\n".join(described))
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
