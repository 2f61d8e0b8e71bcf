"""The served machine in a background process, for notebooks, tests and benchmarks.

    with ServedMachine(task_id=0) as served:        # a free loopback port, its own process
        with served.machine() as machine:          # an EpicsMachine talking to it
            ...

The server runs ``python -m awake_tutorial.machine.server`` on a free port, loopback only.
``served.machine()`` connects to it and no other; ``with served.environ():`` points other
clients made in this process there, and ``served.variables`` does the same for a
subprocess (e.g. ``awake-tutorial restore``). ``stop()`` (end of the ``with`` block, or at
exit) ends the server, even after an error.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time

from awake_tutorial.machine.channels import Channels, MachineError
from awake_tutorial.machine.client import EpicsMachine
from awake_tutorial.machine.line import DEFAULT_LIMIT
from awake_tutorial.machine.pvs import DEFAULT_PREFIX, machine_pvs

LOOPBACK = "127.0.0.1"
CLIENT_VARIABLES = ("EPICS_CA_SERVER_PORT", "EPICS_CA_REPEATER_PORT", "EPICS_CA_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST")


def free_port() -> int:
    """A port free for both TCP and UDP on loopback (bounded number of tries)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOOPBACK, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("found no free loopback port in 50 tries.")


class ServedMachine:
    """A simulated machine served from a background process (see the module docstring).

    Args: as ``awake-tutorial serve-machine`` (task_id, plane, prefix, bpm_noise, drift,
    seed, limit); port: the CA server port (default: a free one); start_timeout: s.
    """

    def __init__(self, task_id: int = 0, plane: str = "both", prefix: str = DEFAULT_PREFIX,
                 bpm_noise: float = 0.0, drift: float = 0.0, seed: int = 0, limit: float = DEFAULT_LIMIT,
                 port: int | None = None, start_timeout: float = 30.0):
        self.prefix = prefix
        self.args = ["--task-id", str(task_id), "--plane", plane, "--prefix", prefix, "--bpm-noise", str(bpm_noise),
                     "--drift", str(drift), "--seed", str(seed), "--limit", repr(float(limit)),
                     "--exit-with-parent"]  # never outlives this process, even if it is killed
        self.port, self.start_timeout = port, float(start_timeout)
        self.process: subprocess.Popen | None = None
        self.startup_time: float | None = None  # s from launch to the first successful read
        self._log = None
        self.variables: dict[str, str] = {}  # EPICS_CA_* for a client of this server

    def start(self) -> "ServedMachine":
        """Launch the server and wait until a client reads from it (MachineError if it does not)."""
        self.port = self.port or free_port()
        self.variables = {"EPICS_CA_SERVER_PORT": str(self.port), "EPICS_CA_REPEATER_PORT": str(free_port()),
                          "EPICS_CA_ADDR_LIST": LOOPBACK, "EPICS_CA_AUTO_ADDR_LIST": "NO"}
        env = {**os.environ, **self.variables, "EPICS_CAS_BEACON_ADDR_LIST": LOOPBACK,
               "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO", "EPICS_CAS_INTF_ADDR_LIST": LOOPBACK,
               "PYTHONUNBUFFERED": "1"}
        self._log = tempfile.TemporaryFile(mode="w+")
        start = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "awake_tutorial.machine.server", *self.args],
                                        stdout=self._log, stderr=subprocess.STDOUT, env=env)
        atexit.register(self.stop)
        try:
            while True:  # bounded: start_timeout
                if self.process.poll() is not None:
                    raise MachineError(f"the machine server exited with status {self.process.returncode}:\n{self.output()}")
                left = self.start_timeout - (time.perf_counter() - start)
                if left <= 0:
                    raise MachineError(f"the machine server did not answer within {self.start_timeout} s on "
                                       f"port {self.port}:\n{self.output()}")
                if "PVs:" not in self.output():  # printed just before it binds its sockets
                    time.sleep(0.05)
                    continue
                try:
                    with self.environ():
                        channels = Channels({"task": machine_pvs(self.prefix)["task"]}, self.prefix, min(left, 0.5))
                except MachineError:
                    continue
                channels.read("task")
                channels.close()
                break
        except BaseException:
            self.stop()
            raise
        self.startup_time = time.perf_counter() - start
        return self

    def output(self) -> str:
        """What the server printed so far (its PV names, warnings)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()

    @contextlib.contextmanager
    def environ(self):
        """Inside the block, clients made in this process find this server (and no other)."""
        saved = {k: os.environ.get(k) for k in CLIENT_VARIABLES}
        os.environ.update(self.variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def machine(self, plane: str = "horizontal", **kwargs):
        """An :class:`~awake_tutorial.machine.EpicsMachine` connected to this server."""
        with self.environ():  # the search happens while connecting; then the link is direct
            return EpicsMachine(self.prefix, plane, **kwargs)

    def stop(self) -> None:
        """End the server (terminate, then kill after 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> "ServedMachine":
        return self.start() if not self.running else self

    def __exit__(self, *exc) -> None:
        self.stop()
