"""The simulated AWAKE line behind a control system: EPICS Channel Access (caproto).

- :mod:`.line`: the simulated machine (kicks in, BPM readings out, noise, drift, limits);
- :mod:`.pvs`: its PV names; :mod:`.server`: the Channel Access server serving it;
- :mod:`.channels`: Channel Access reads and writes with clear errors;
- :mod:`.client`: :class:`EpicsMachine`, the env's backend for a served machine;
- :mod:`.local`: :class:`~.local.LocalMachine`, the simulated line in process as a backend;
- :mod:`.backends`: the registry of backends by name (the CLI's ``--machine-backend``);
- :mod:`.safety`: saving and restoring correctors; :mod:`.process`: a server in a
  background process (notebooks, tests, benchmarks).
"""

from awake_tutorial.machine.channels import MachineError
from awake_tutorial.machine.client import EpicsMachine
from awake_tutorial.machine.line import DEFAULT_LIMIT, LimitError
from awake_tutorial.machine.process import ServedMachine, free_port
from awake_tutorial.machine.pvs import DEFAULT_PREFIX

__all__ = ["DEFAULT_LIMIT", "DEFAULT_PREFIX", "EpicsMachine", "LimitError", "MachineError", "ServedMachine",
           "free_port"]
