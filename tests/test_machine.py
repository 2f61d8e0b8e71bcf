"""The simulated line over EPICS (caproto), on loopback: same episodes, limits, restore, errors.

Every server runs in its own process on a free port (ServedMachine), and every test
stops it (context managers). Calls are bounded by EPICS timeouts of a few seconds.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.machine import EpicsMachine, LimitError, MachineError, ServedMachine, free_port
from awake_tutorial.machine.channels import Channels
from awake_tutorial.machine.pvs import machine_pvs, plane_pvs

PREFIX = "AWAKE:SIM:"
NAMES = plane_pvs(PREFIX, "horizontal")


@pytest.fixture(scope="module")
def served():
    """Task 1, no noise, no drift, default limit: one server for the tests that only read it back."""
    with ServedMachine(task_id=1) as machine:
        yield machine


def raw_channels(served, timeout=2.0):
    """A plain client of ``served``'s corrector PVs (no safety layer)."""
    with served.environ():
        return Channels({"setpoint": NAMES["setpoint"], "readback": NAMES["readback"]}, PREFIX, timeout)


def read_readback(served):
    channels = raw_channels(served)
    try:
        return channels.read("readback")
    finally:
        channels.close()


def test_server_prints_its_pv_names(served):
    output = served.output()  # (its start-up time is measured by benchmarks/epics_speed.py)
    for name in [*NAMES.values(), *machine_pvs(PREFIX).values()]:
        assert name in output
    assert f"listening on 127.0.0.1 port {served.port}" in output


def test_epics_env_equals_in_process_env_step_by_step(served, tmp_path):
    rng = np.random.default_rng(0)
    with served.machine(save_file=tmp_path / "save.json") as machine:
        epics, local = AwakeSteeringEnv(machine=machine), AwakeSteeringEnv(task=1)
        assert epics.task == local.task
        walls = 0
        for seed in range(4):
            a, b = epics.reset(seed=seed), local.reset(seed=seed)
            np.testing.assert_array_equal(a[0], b[0])
            assert a[1] == b[1]
            for _ in range(100):  # ends within max_steps
                action = rng.uniform(-1, 1, 10) * (3 if seed % 2 else 0.3)  # odd seeds head for the wall
                a, b = epics.step(action), local.step(action)
                np.testing.assert_array_equal(a[0], b[0])
                assert a[1:] == b[1:]  # reward, terminated, truncated, info
                np.testing.assert_array_equal(epics.kicks, local.kicks)
                if a[2] or a[3]:
                    walls += a[4]["wall"]
                    break
        assert walls >= 1  # the wall rule was compared too


def test_unreachable_server_gives_a_clear_error_within_the_timeout(monkeypatch):
    port = free_port()  # nobody serves here
    monkeypatch.setenv("EPICS_CA_SERVER_PORT", str(port))
    monkeypatch.setenv("EPICS_CA_ADDR_LIST", "127.0.0.1")
    monkeypatch.setenv("EPICS_CA_AUTO_ADDR_LIST", "NO")
    start = time.perf_counter()
    with pytest.raises(MachineError, match=rf"prefix 'NOBODY:' on port {port}"):
        EpicsMachine("NOBODY:", timeout=1.0)
    assert time.perf_counter() - start < 1.0 + 5.0  # the timeout, plus room for a busy machine


def test_server_refuses_an_out_of_limit_put_with_an_alarm(served):
    from caproto import AlarmSeverity, ChannelType

    from caproto import ErrorResponseReceived
    from caproto.sync.client import write

    channels = raw_channels(served, timeout=1.0)
    try:
        before = channels.read("readback")
        with served.environ(), pytest.raises(ErrorResponseReceived, match="beyond the limit"):
            # any Channel Access client sees the refusal (ECA_PUTFAIL); repeater=False: caproto's sync
            # client would spawn a CA repeater that outlives the tests (conftest.py then fails the run)
            write(NAMES["setpoint"], [0.0] * 9 + [1.0], notify=True, timeout=2.0, repeater=False)  # 1 rad
        np.testing.assert_array_equal(channels.read("readback"), before)  # nothing applied, nothing clipped
        with pytest.raises(MachineError, match="refused.*beyond the limit"):  # our client says so too
            channels.write("setpoint", [0.0] * 9 + [-1.0])
        np.testing.assert_array_equal(channels.read("readback"), before)
        reading = channels.pvs["setpoint"].read(data_type=ChannelType.TIME_DOUBLE)
        assert reading.metadata.severity == AlarmSeverity.MAJOR_ALARM
        channels.write("setpoint", before)  # an accepted setpoint clears the alarm
        reading = channels.pvs["setpoint"].read(data_type=ChannelType.TIME_DOUBLE)
        assert reading.metadata.severity == AlarmSeverity.NO_ALARM
    finally:
        channels.close()


LIMIT = 3e-4  # small enough that big actions reach it within a few steps


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """(served machine, client) with a corrector limit that big actions reach in a few steps."""
    with ServedMachine(task_id=0, limit=LIMIT) as served:
        with served.machine(save_file=tmp_path_factory.mktemp("limits") / "save.json") as machine:
            yield served, machine


@settings(derandomize=True, deadline=None, max_examples=25)
@given(actions=st.lists(st.lists(st.floats(-50, 50), min_size=10, max_size=10), min_size=1, max_size=8))
def test_no_setpoint_beyond_the_limits_gets_through(tight, actions):
    served, machine = tight
    assert machine.limit == LIMIT
    env = AwakeSteeringEnv(machine=machine, max_steps=8)
    env.reset(options={"kicks": np.full(10, 1e-5)})
    refused = False
    for action in actions:
        try:
            *_, terminated, truncated, _ = env.step(np.array(action))
        except LimitError:
            refused = True  # refused before sending: the env state is unchanged
            break
        assert np.all(np.abs(machine.read_kicks()) <= LIMIT)
        if terminated or truncated:
            break
    assert all(np.all(np.abs(kicks) <= LIMIT) for kicks in machine.sent)
    assert refused or np.all(np.abs(env.kicks) <= LIMIT)


def test_dry_run_sends_nothing(served, tmp_path):
    before = read_readback(served)
    with served.machine(dry_run=True, save_file=tmp_path / "save.json") as machine:
        env = AwakeSteeringEnv(machine=machine, max_steps=5)
        env.reset(seed=0)
        env.step(np.ones(10))
        assert len(machine.sent) == 2  # the start and one step, logged
    np.testing.assert_array_equal(read_readback(served), before)
    assert not (tmp_path / "save.json").exists()  # nothing changed, nothing to save


def test_saved_before_the_first_write_and_restored_on_close_and_on_beam_loss(served, tmp_path):
    channels = raw_channels(served)
    original = np.linspace(-1e-4, 1e-4, 10)
    channels.write("setpoint", original)
    save_file = tmp_path / "save.json"
    try:
        with served.machine(save_file=save_file) as machine:
            env = AwakeSteeringEnv(machine=machine)
            obs, _ = env.reset(seed=0)
            assert save_file.exists()
            away = np.linalg.pinv(env.task.response("horizontal"))  # kicks that grow the orbit
            for _ in range(100):  # ends within max_steps: here at the wall after a few steps
                obs, _, terminated, truncated, info = env.step(1e3 * away @ obs)
                if terminated or truncated:
                    break
            assert info["wall"]
            np.testing.assert_array_equal(channels.read("readback"), original)  # restored on the loss
            env.reset(seed=1)
            assert not np.array_equal(channels.read("readback"), original)
        np.testing.assert_array_equal(channels.read("readback"), original)  # restored on close
        assert not save_file.exists()
    finally:
        channels.close()


KILLED_RUN = textwrap.dedent("""
    import sys, time
    import numpy as np
    from awake_tutorial.envs import AwakeSteeringEnv
    from awake_tutorial.machine import EpicsMachine
    machine = EpicsMachine("AWAKE:SIM:", save_file=sys.argv[1])
    env = AwakeSteeringEnv(machine=machine, max_steps=1000)
    env.reset(seed=3)
    env.step(np.full(10, 0.1))
    print("stepping", flush=True)
    for _ in range(600):  # killed long before the end (bounded anyway)
        env.step(np.full(10, 0.01))
        time.sleep(0.05)
""")


def test_restore_after_a_killed_run_gives_back_the_saved_correctors_exactly(served, tmp_path):
    channels = raw_channels(served)
    original = np.array([1e-4 / 3 * (i - 4.5) for i in range(10)])  # not round numbers in binary
    channels.write("setpoint", original)
    save_file = tmp_path / "save.json"
    env = {**os.environ, **served.variables, "AWAKE_TUTORIAL_DEBUG": "1"}
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(save_file)], stdout=subprocess.PIPE, text=True,
                           env=env)
    try:
        assert run.stdout.readline().strip() == "stepping"  # mid-episode
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
        assert save_file.exists()
        assert not np.array_equal(channels.read("readback"), original)
        restore = subprocess.run([sys.executable, "-m", "awake_tutorial.ui.cli", "restore", str(save_file)],
                                 env=env, capture_output=True, text=True, timeout=60)
        assert restore.returncode == 0, restore.stderr
        np.testing.assert_array_equal(channels.read("readback"), original)
        assert not save_file.exists()
    finally:
        if run.poll() is None:
            run.kill()
        channels.close()


def test_the_next_session_restores_what_a_killed_one_left(served, tmp_path):
    from awake_tutorial.machine import safety

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    save_file = tmp_path / "save.json"
    saved = np.full(10, 2e-5)
    safety.save(save_file, PREFIX, "horizontal", NAMES["setpoint"], saved)
    data = safety.read(save_file)
    data["pid"] = int(dead.stdout)  # as if that (finished) process had written it
    from awake_tutorial.atomic import write_json_atomic

    write_json_atomic(save_file, data)
    channels = raw_channels(served)
    try:
        channels.write("setpoint", np.zeros(10))
        with served.machine(save_file=save_file):
            np.testing.assert_array_equal(channels.read("readback"), saved)
            assert not save_file.exists()
    finally:
        channels.close()


def test_served_bpm_noise_has_the_right_std():
    from awake_tutorial.machine.line import SimulatedLine
    from awake_tutorial.physics.tasks import get_evaluation_task

    exact, noisy = SimulatedLine(get_evaluation_task(2)), SimulatedLine(get_evaluation_task(2), bpm_noise=0.5, seed=1)
    differences = []
    kicks = np.random.default_rng(0).uniform(-5e-5, 5e-5, (400, 10))
    for k in kicks:
        exact.set_kicks("horizontal", k)
        noisy.set_kicks("horizontal", k)
        differences.append(noisy.readings["horizontal"] - exact.readings["horizontal"])
    assert np.std(differences) == pytest.approx(0.5e-3, rel=0.05)  # 4000 samples: ~1 % spread


def test_adapt_command_runs_on_the_served_machine(served, tmp_path):
    from awake_tutorial.paths import DATA_DIR

    command = [sys.executable, "-m", "awake_tutorial.ui.cli", "adapt", "--machine", PREFIX, "--num-batches", "2",
               "--policy", str(DATA_DIR / "pretrained_meta_policy.pt"), "--run-dir", str(tmp_path / "run")]
    env = {**os.environ, **served.variables}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "machine steps" in result.stdout and "(model: task 1)" in result.stdout
    assert len((tmp_path / "run" / "progress.jsonl").read_text().splitlines()) == 2  # both batches ran
    assert not list((tmp_path / "runs").glob("machine_backup_*.json"))  # restored and cleaned up


def test_serve_machine_command_prints_its_pvs_on_loopback(tmp_path):
    port = free_port()
    env = {**os.environ, "EPICS_CA_SERVER_PORT": str(port), "EPICS_CA_REPEATER_PORT": str(free_port()),
           "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "awake_tutorial.ui.cli", "serve-machine", "--task-id", "2",
                               "--prefix", "TEST:"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(3)]  # banner, address, first PV
        assert f"listening on 127.0.0.1 port {port}" in lines[1]
        assert lines[2].strip() == "TEST:H:CORR:SP"
    finally:
        server.terminate()
        server.wait(timeout=10)


OWNER = textwrap.dedent("""
    import sys, time
    from awake_tutorial.machine import ServedMachine
    served = ServedMachine(task_id=0).start()
    print(served.process.pid, flush=True)
    if sys.argv[1] == "error":
        raise RuntimeError("a cell failed")
    time.sleep(60)  # killed long before
""")


@pytest.mark.parametrize("ending", ["error", "killed"])
def test_the_server_never_outlives_its_owner(ending):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, ending], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        server_pid = int(owner.stdout.readline())
        if ending == "killed":
            owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=20)
        for _ in range(100):  # the server polls its parent every 0.5 s (bounded wait: 10 s)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(server_pid, signal.SIGKILL)
            pytest.fail(f"the server (pid {server_pid}) outlived its owner ({ending})")
    finally:
        if owner.poll() is None:
            owner.kill()
