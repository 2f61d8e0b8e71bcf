"""The simulated AWAKE line behind a control system: EPICS Channel Access (caproto).

- :mod:`.line`: the simulated machine (kicks in, BPM readings out, noise, drift, limits);
- :mod:`.pvs`: its PV names; :mod:`.server`: the Channel Access server serving it;
- :mod:`.channels`: Channel Access reads and writes with clear errors;
- :mod:`.client`: :class:`EpicsMachine`, the env's backend for a served machine;
- :mod:`.safety`: saving and restoring correctors; :mod:`.process`: a server in a
  background process (notebooks, tests, benchmarks).

caproto is imported only when a server or client is made.
"""

from awake_tutorial.machine.line import DEFAULT_LIMIT, LimitError
from awake_tutorial.machine.pvs import DEFAULT_PREFIX


def __getattr__(name):  # EpicsMachine & co. on first use: importing caproto costs ~0.2 s
    if name == "EpicsMachine":
        from awake_tutorial.machine.client import EpicsMachine

        return EpicsMachine
    if name == "MachineError":
        from awake_tutorial.machine.channels import MachineError

        return MachineError
    if name in ("ServedMachine", "free_port"):
        from awake_tutorial.machine import process

        return getattr(process, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_LIMIT", "DEFAULT_PREFIX", "EpicsMachine", "LimitError", "MachineError", "ServedMachine",
           "free_port"]
