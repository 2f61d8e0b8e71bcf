"""The suite's guard (conftest.py) finds a process the tests started, even once re-parented."""

import os
import subprocess
import sys
import time

import psutil

from conftest import MARKER, end_processes, processes_of_this_run


def test_the_guard_finds_and_ends_a_process_left_behind():
    # a grandchild whose parent exits at once: re-parented, as caproto's CA repeater is
    spawner = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], "
               "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, "
               "start_new_session=True); print(p.pid)")
    pid = int(subprocess.run([sys.executable, "-c", spawner], capture_output=True, text=True, check=True).stdout)
    try:
        assert psutil.Process(pid).ppid() != psutil.Process().pid  # not our child any more
        assert pid in [p.pid for p in processes_of_this_run()]
    finally:
        end_processes([psutil.Process(pid)])
    time.sleep(0.1)
    assert pid not in [p.pid for p in processes_of_this_run()]


def test_processes_of_another_run_are_not_counted():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                             env={**os.environ, MARKER: "another-run"})
    try:
        assert other.pid not in [p.pid for p in processes_of_this_run()]
    finally:
        other.kill()
        other.wait()


def test_serve_machine_help_says_what_it_starts_and_how_to_stop_the_repeater():
    from awake_tutorial.ui.cli import SUBCOMMANDS

    assert "no CA repeater" in SUBCOMMANDS["serve-machine"]
    assert "pkill -f caproto.commandline.repeater" in SUBCOMMANDS["serve-machine"]
