"""Channel Access in a few lines: connected PVs that read and write with clear errors.

Network: unless ``EPICS_CA_ADDR_LIST`` is set, the client searches on loopback only
(``127.0.0.1``, ``EPICS_CA_AUTO_ADDR_LIST=NO``); ``EPICS_CA_SERVER_PORT`` picks the port.
Every error names the prefix and the port, so a learner sees where it looked.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from caproto import AlarmSeverity, AlarmStatus, ChannelType
from caproto.threading.client import Context


class MachineError(ConnectionError):
    """The machine cannot be reached or answered wrongly (message names prefix and port)."""


def loopback_defaults() -> None:
    """Search on loopback only, unless the user configured EPICS_CA_ADDR_LIST."""
    if not os.environ.get("EPICS_CA_ADDR_LIST"):
        os.environ["EPICS_CA_ADDR_LIST"] = "127.0.0.1"
        os.environ["EPICS_CA_AUTO_ADDR_LIST"] = "NO"


def where(prefix: str) -> str:
    """'prefix X on port P (EPICS_CA_ADDR_LIST=...)' for error messages."""
    return (f"prefix {prefix!r} on port {os.environ.get('EPICS_CA_SERVER_PORT', '5064')} "
            f"(EPICS_CA_ADDR_LIST={os.environ.get('EPICS_CA_ADDR_LIST', '')!r})")


class Channels:
    """Connected Channel Access PVs by key, with reads and writes that fail clearly."""

    def __init__(self, names: dict[str, str], prefix: str, timeout: float):
        loopback_defaults()
        logging.getLogger("caproto").setLevel(logging.WARNING)
        self.prefix, self.timeout = prefix, float(timeout)
        self.context = Context(timeout=self.timeout)
        pvs = self.context.get_pvs(*names.values(), timeout=self.timeout)
        self.pvs = dict(zip(names, pvs))
        try:
            for key, pv in self.pvs.items():
                pv.wait_for_connection(timeout=self.timeout)
        except TimeoutError:
            self.close()
            raise MachineError(
                f"no EPICS server answered for {pv.name} within {self.timeout} s: {where(prefix)}. Start one "
                "with `awake-tutorial serve-machine --task-id 0` (same EPICS_CA_SERVER_PORT), or check "
                "the prefix and the port.") from None

    def read(self, key: str) -> np.ndarray:
        try:
            return np.asarray(self.pvs[key].read(timeout=self.timeout).data)
        except TimeoutError:
            raise MachineError(f"reading {self.pvs[key].name} timed out after {self.timeout} s: "
                               f"{where(self.prefix)}; is the server still running?") from None

    def write(self, key: str, values) -> None:
        """Put with completion. caproto's threading client does not report a refused put
        (it waits for a completion that never comes), so after a timeout the alarm tells
        a refusal (MAJOR alarm, status WRITE) from a server that is gone."""
        try:
            self.pvs[key].write(list(values), wait=True, timeout=self.timeout)
        except TimeoutError:
            if self.refused(key):
                raise MachineError(f"the server refused {self.pvs[key].name} = {list(values)}: beyond the "
                                   "limit (the PV is in a MAJOR alarm); nothing was applied.") from None
            raise MachineError(f"writing {self.pvs[key].name} timed out after {self.timeout} s: "
                               f"{where(self.prefix)}; is the server still running?") from None

    def refused(self, key: str) -> bool:
        """True if the PV is in the alarm of a refused setpoint."""
        try:
            metadata = self.pvs[key].read(data_type=ChannelType.TIME_DOUBLE, timeout=self.timeout).metadata
        except TimeoutError:
            return False
        return (metadata.severity == AlarmSeverity.MAJOR_ALARM
                and metadata.status in (AlarmStatus.WRITE, AlarmStatus.HWLIMIT))

    def close(self) -> None:
        self.context.disconnect()
