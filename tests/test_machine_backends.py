"""The machine backend registry (machine/backends.py) and its in-process entry, LocalMachine."""

import subprocess
import sys

import numpy as np
import pytest

from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.machine import LimitError
from awake_tutorial.machine.backends import MACHINE_BACKENDS, open_machine
from awake_tutorial.machine.local import LocalMachine
from awake_tutorial.paths import DATA_DIR
from awake_tutorial.ui.cli.machine import MACHINE_OPTIONS


def test_the_env_on_the_local_machine_reads_what_the_simulation_reads():
    """Noise and drift off: the same episode, bit for bit, through the machine seam."""
    with LocalMachine(task_id=2) as machine:
        on_machine = AwakeSteeringEnv(machine=machine, max_steps=20)
        simulated = AwakeSteeringEnv(on_machine.task, max_steps=20)
        actions = np.random.default_rng(0).uniform(-0.3, 0.3, size=(20, 10))
        for env in (on_machine, simulated):
            env.reset(seed=4)
        for action in actions:
            a, b = on_machine.step(action), simulated.step(action)
            assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
            if a[2] or a[3]:
                break
        assert machine.machine_steps > 0 and on_machine.task.id == 2


def test_a_kick_beyond_the_limit_is_refused_and_nothing_is_applied():
    machine = LocalMachine(task_id=0, limit=1e-3)
    with pytest.raises(LimitError, match="refused"):
        machine.apply(np.full(10, 2e-3))
    assert machine.machine_steps == 0 and not machine.sent


def test_the_correctors_are_put_back_on_beam_loss_and_on_close():
    machine = LocalMachine(task_id=0)
    start = machine.line.kicks["horizontal"].copy()
    machine.apply(np.full(10, 1e-5))
    readings, lost = machine.apply(np.full(10, 5e-3))  # far past the wall
    assert lost and np.array_equal(machine.line.kicks["horizontal"], start)
    machine.apply(np.full(10, 1e-5))
    machine.close()
    assert np.array_equal(machine.line.kicks["horizontal"], start)
    with pytest.raises(RuntimeError, match="closed"):
        machine.apply(np.zeros(10))


def test_a_dry_run_applies_nothing():
    with LocalMachine(task_id=1, dry_run=True) as machine:
        before = machine.line.readings["horizontal"].copy()
        machine.apply(np.full(10, 1e-4))
        assert machine.machine_steps == 0 and len(machine.sent) == 1
        assert np.array_equal(machine.line.readings["horizontal"], before)


def test_the_cli_offers_exactly_the_registered_backends():
    names, kwargs = next(o for o in MACHINE_OPTIONS if o[0] == ("--machine-backend",))
    assert sorted(kwargs["choices"]) == sorted(MACHINE_BACKENDS)
    with pytest.raises(ValueError, match="known"):
        open_machine("tango", "x", "horizontal")
    with pytest.raises(ValueError, match="task id"):
        open_machine("local", "AWAKE:SIM:", "horizontal")


def test_adapt_command_runs_on_the_local_machine(tmp_path):
    command = [sys.executable, "-m", "awake_tutorial.ui.cli", "adapt", "--machine", "3", "--machine-backend", "local",
               "--num-batches", "2", "--policy", str(DATA_DIR / "pretrained_meta_policy.pt"),
               "--run-dir", str(tmp_path / "run")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "local machine 3 (model: task 3)" in result.stdout and "machine steps" in result.stdout
    assert len((tmp_path / "run" / "progress.jsonl").read_text().splitlines()) == 2
