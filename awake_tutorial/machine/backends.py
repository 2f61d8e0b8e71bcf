"""The machine backends a command can steer, by name: the one place a backend is registered.

Each entry says how to open one plane of a machine from an address, as a context manager
that restores what it changed when it closes. The env takes what ``open`` returns as its
``machine=`` (:mod:`awake_tutorial.envs.backends` states the interface: ``plane``,
``apply(kicks) -> (readings m, lost)``, ``model_task()``). The CLI's ``--machine-backend``
choices are this registry's names.

A new control system: its class (like :class:`~awake_tutorial.machine.local.LocalMachine`)
and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class MachineBackend:
    """address: what ``--machine`` means for it; open(address, plane, timeout s, dry_run) -> machine."""

    help: str
    address: str
    open: Callable[[str, str, float, bool], Any]


def _epics(address: str, plane: str, timeout: float, dry_run: bool):
    from awake_tutorial.machine.client import EpicsMachine  # deferred: caproto loads only when used

    return EpicsMachine(address, plane, timeout=timeout, dry_run=dry_run)


def _local(address: str, plane: str, timeout: float, dry_run: bool):
    from awake_tutorial.machine.local import LocalMachine

    try:
        task_id = int(address)
    except ValueError:
        raise ValueError(f"the local backend's --machine is an evaluation task id (0-4), got {address!r}.") from None
    return LocalMachine(task_id, plane, dry_run=dry_run)


MACHINE_BACKENDS = {
    "epics": MachineBackend("a machine served over EPICS Channel Access (awake-tutorial serve-machine)",
                            "PV prefix, e.g. AWAKE:SIM:", _epics),
    "local": MachineBackend("the simulated line in this process, no control system (try the machine path offline)",
                            "evaluation task id, e.g. 3", _local),
}


def open_machine(backend: str, address: str, plane: str, timeout: float = 5.0, dry_run: bool = False):
    """Open one plane of the machine at ``address`` with the named backend (a context manager)."""
    if backend not in MACHINE_BACKENDS:
        raise ValueError(f"unknown machine backend {backend!r}; known: {sorted(MACHINE_BACKENDS)}.")
    return MACHINE_BACKENDS[backend].open(address, plane, timeout, dry_run)
