"""EpicsMachine: steer a machine through EPICS Channel Access (the env's machine backend).

    with EpicsMachine("AWAKE:SIM:", timeout=2.0) as machine:
        env = AwakeSteeringEnv(machine=machine, max_steps=100)
        obs, info = env.reset(seed=0)

Safety rules, in this order, for every setpoint:

1. **Limits.** Kicks beyond the corrector limit (read from the limit PV) are refused here,
   before anything is sent (:class:`~awake_tutorial.machine.line.LimitError`); the
   server refuses them too. Nothing is clipped.
2. **Save before the first write.** The correctors' readbacks are written to
   ``save_file`` (JSON, atomically) before the first setpoint of the session.
3. **Restore.** The saved correctors are put back on beam loss, on ``close()`` (end of a
   ``with`` block, also after Ctrl-C or an exception), at interpreter exit, and, after a
   killed process, at the next start (a save file left behind means "not restored") or
   by ``awake-tutorial restore FILE``.
4. **Dry run.** ``dry_run=True`` logs the setpoints it would send and sends none.

Network: unless ``EPICS_CA_ADDR_LIST`` is set, the client searches on loopback only
(``127.0.0.1``, ``EPICS_CA_AUTO_ADDR_LIST=NO``); ``EPICS_CA_SERVER_PORT`` picks the port.
"""

from __future__ import annotations

import atexit
import logging
from pathlib import Path

import numpy as np

from awake_tutorial.envs.dynamics import OBS_PER_METRE, WALL
from awake_tutorial.machine import safety
from awake_tutorial.machine.channels import Channels, MachineError  # noqa: F401 (MachineError: public here too)
from awake_tutorial.machine.line import check_limit
from awake_tutorial.machine.pvs import BEAM_LOST, DEFAULT_PREFIX, machine_pvs, plane_pvs
from awake_tutorial.physics.tasks import get_evaluation_task

log = logging.getLogger(__name__)
WALL_M = WALL / OBS_PER_METRE  # m (10 mm): BPMs past a beam loss read +-WALL_M


class EpicsMachine:
    """One plane of a machine served over Channel Access (see the module docstring).

    Args:
        prefix: PV prefix (default ``AWAKE:SIM:``).
        plane: "horizontal" or "vertical".
        timeout: seconds for connecting, and for each read or write.
        dry_run: log setpoints instead of sending them (reads still happen).
        save_file: where the correctors are saved before the first write (default
            ``runs/machine_backup_<prefix>_<plane>.json``).
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, plane: str = "horizontal", timeout: float = 5.0,
                 dry_run: bool = False, save_file=None):
        self.prefix, self.plane, self.dry_run = prefix, plane, bool(dry_run)
        self.names = {**plane_pvs(prefix, plane), **machine_pvs(prefix)}
        self.save_file = Path(save_file) if save_file is not None else safety.default_save_file(prefix, plane)
        self.channels = Channels(self.names, prefix, timeout)
        self.limit = float(self.channels.read("limit")[0])
        self.sent: list[np.ndarray] = []  # setpoints sent (or, dry run, that would have been)
        self.saved: np.ndarray | None = None  # correctors saved before the first write
        self.closed = False
        if not self.dry_run:
            safety.recover(self.save_file, self)  # a killed session left its backup: put it back
        atexit.register(self.close)

    # --- reading -----------------------------------------------------------------------

    def read_kicks(self) -> np.ndarray:
        """Corrector readbacks (10,) rad."""
        return self.channels.read("readback").astype(np.float64)

    def read_bpms(self) -> np.ndarray:
        """BPM readings (10,) m."""
        return self.channels.read("bpm").astype(np.float64)

    def beam_lost(self) -> bool:
        return int(self.channels.read("beam")[0]) == BEAM_LOST

    def quad_scales(self) -> np.ndarray:
        """The served quadrupole scale factors (10,): they move when the machine drifts."""
        return self.channels.read("scales").astype(np.float64)

    def machine_steps(self) -> int:
        """Setpoints the server has accepted so far (from any client)."""
        return int(self.channels.read("steps")[0])

    def model_task(self):
        """The optics model of the served machine: the evaluation task it reports."""
        return get_evaluation_task(int(self.channels.read("task")[0]))

    # --- writing -----------------------------------------------------------------------

    def write_kicks(self, kicks) -> None:
        """Send a setpoint (10,) rad: limits checked, correctors saved first; dry run: log only."""
        kicks = np.array(kicks, dtype=np.float64).reshape(-1)
        if self.closed:
            raise MachineError("this EpicsMachine was closed (its correctors restored); make a new one.")
        check_limit(kicks, self.limit, f"setpoint for {self.names['setpoint']}")
        self.sent.append(kicks.copy())
        if self.dry_run:
            log.info("dry run: would set %s = %s", self.names["setpoint"], kicks.tolist())
            return
        if self.saved is None:
            self.saved = self.read_kicks()
            safety.save(self.save_file, self.prefix, self.plane, self.names["setpoint"], self.saved)
        self.channels.write("setpoint", kicks)

    def apply(self, kicks) -> tuple[np.ndarray, bool]:
        """Backend API: set ``kicks``; (BPM readings (10,) m, beam lost). On beam loss the
        saved correctors are restored (the readings are those that saw the loss)."""
        self.write_kicks(kicks)
        readings = self.read_bpms()
        # the status PV is read only when a BPM reads at the wall (a loss reads exactly +-10 mm)
        lost = bool(np.any(np.abs(readings) >= WALL_M * (1 - 1e-9))) and self.beam_lost()
        if lost and not self.dry_run:
            log.warning("beam lost on %s: restoring the saved correctors", self.prefix)
            self.restore()
        return readings, lost

    def restore(self) -> None:
        """Put the saved correctors back (if this session wrote any)."""
        if self.saved is not None and not self.dry_run:
            self.channels.write("setpoint", self.saved)

    def close(self) -> None:
        """Restore the saved correctors, delete the save file, disconnect. Idempotent."""
        if self.closed:
            return
        try:
            if self.saved is not None:
                self.restore()
                safety.discard(self.save_file)
        finally:
            self.closed = True
            self.channels.close()
            atexit.unregister(self.close)

    def __enter__(self) -> "EpicsMachine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", dry run" if self.dry_run else ""
        return f"EpicsMachine({self.prefix!r}, {self.plane}, limit {self.limit} rad{mode})"
