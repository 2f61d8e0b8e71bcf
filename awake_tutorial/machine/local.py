"""LocalMachine: the simulated line (:class:`~awake_tutorial.machine.line.SimulatedLine`) as a
machine backend in this process, with no control system between.

It behaves as :class:`~awake_tutorial.machine.EpicsMachine` does towards the env (same
backend interface, same safety rules), without a server: a way to try the machine path
(``awake-tutorial adapt --machine 3 --machine-backend local``: evaluation task 3, noise and
drift as chosen) on a laptop or Binder, and the second entry of the backend registry
(:mod:`awake_tutorial.machine.backends`).

Safety rules, as EpicsMachine's: kicks beyond the limit are refused before anything is
applied (nothing clipped); the correctors at the first write are saved; they are put back
on beam loss and on ``close()`` (end of a ``with`` block). The line lives in this process,
so there is nothing to restore after the process ends. ``dry_run`` applies nothing.
"""

from __future__ import annotations

import logging

import numpy as np

from awake_tutorial.envs.dynamics import N_CORRECTORS
from awake_tutorial.machine.line import DEFAULT_LIMIT, SimulatedLine, check_limit
from awake_tutorial.physics.tasks import get_evaluation_task

log = logging.getLogger(__name__)


class LocalMachine:
    """One plane of a simulated line in process.

    Args:
        task_id: the evaluation task whose optics the line has (``model_task()`` returns it).
        plane: "horizontal" or "vertical".
        bpm_noise: BPM noise std, mm; drift: random-walk std of the quad scales per setpoint;
        seed: of noise and drift; limit: corrector limit, rad (see ``SimulatedLine``).
        dry_run: log the setpoints that would be applied and apply none.
    """

    def __init__(self, task_id: int = 0, plane: str = "horizontal", bpm_noise: float = 0.0, drift: float = 0.0,
                 seed: int = 0, limit: float = DEFAULT_LIMIT, dry_run: bool = False):
        self.task = get_evaluation_task(int(task_id))
        self.line = SimulatedLine(self.task, bpm_noise=bpm_noise, drift=drift, seed=seed, limit=limit)
        self.plane, self.limit, self.dry_run = plane, float(limit), bool(dry_run)
        self.saved, self.closed, self.sent = None, False, []

    def model_task(self):
        """The optics the line started from (drift moves the line away from it)."""
        return self.task

    @property
    def machine_steps(self) -> int:
        """Setpoints the line accepted."""
        return self.line.steps

    def apply(self, kicks) -> tuple[np.ndarray, bool]:
        """Backend API: set ``kicks`` (10,) rad; (BPM readings (10,) m, beam lost). On beam loss
        the saved correctors are put back (the readings are those that saw the loss)."""
        kicks = np.array(kicks, dtype=np.float64).reshape(-1)
        if self.closed:
            raise RuntimeError("this LocalMachine was closed (its correctors restored); make a new one.")
        if kicks.shape != (N_CORRECTORS,):
            raise ValueError(f"a setpoint has {N_CORRECTORS} kicks, got {kicks.shape[0]}.")
        check_limit(kicks, self.limit, f"{self.plane} setpoint")
        self.sent.append(kicks.copy())
        if self.dry_run:
            log.info("dry run: would set the %s correctors to %s", self.plane, kicks.tolist())
        else:
            if self.saved is None:
                self.saved = self.line.kicks[self.plane].copy()
            self.line.set_kicks(self.plane, kicks)
        readings, lost = self.line.readings[self.plane].copy(), self.line.lost[self.plane]
        if lost and not self.dry_run:
            log.warning("beam lost on the local line: restoring the saved correctors")
            self.restore()
        return readings, bool(lost)

    def restore(self) -> None:
        """Put the saved correctors back (if this session set any)."""
        if self.saved is not None and not self.dry_run:
            self.line.set_kicks(self.plane, self.saved)

    def close(self) -> None:
        """Restore the saved correctors. Idempotent."""
        if not self.closed:
            self.restore()
            self.closed = True

    def __enter__(self) -> "LocalMachine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalMachine(task {self.task.id}, {self.plane}{', dry run' if self.dry_run else ''})"
