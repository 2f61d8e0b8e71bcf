"""What an env steps: the line simulated in process, or a machine. One seam, no branches.

An env keeps the episode (kicks, steps, rewards); its backend says what the BPMs read for
given kicks. Both backends answer the same question the same way:

    measure(kicks (1, 10) rad, R (1, 10, 10) m/rad, np_random)
        -> readings (1, 10) normalized (1.0 = 10 mm), after the wall rule and any noise,
           wall (1,) bool: the beam was lost

``R`` is the env's model of the line: the truth for the simulation, which computes the
orbit from it; a machine measures instead and ignores it. ``np_random`` is the env's
seeded generator: the simulation's BPM noise is a child of its seed.

A new kind of machine (another control system) needs no change here: it is an object with
``plane``, ``apply`` and ``model_task`` (see :class:`Machine`), passed as ``machine=``.
"""

from __future__ import annotations

import numpy as np

from awake_tutorial.envs import dynamics


class Simulation:
    """The in-process line: orbit ``R @ kicks``, the wall, Gaussian BPM noise of
    ``bpm_noise`` mm on the BPMs the beam reaches (numbers as :func:`dynamics.step`)."""

    def __init__(self, bpm_noise: float = 0.0):
        self.bpm_noise = float(bpm_noise)
        self._noise_rng = None  # BPM noise, a child of np_random's seed
        self._noise_source = None  # the np_random it was derived from

    def measure(self, kicks: np.ndarray, R: np.ndarray, np_random) -> tuple[np.ndarray, np.ndarray]:
        return dynamics.measure(R, kicks, self._noise(np_random))

    def _noise(self, np_random) -> np.ndarray | None:
        """BPM noise (1, 10) for one reading, normalized units; None without noise."""
        if not self.bpm_noise:
            return None
        if self._noise_source is not np_random:  # reseeded: a new noise stream
            self._noise_rng = dynamics.noise_generator(np_random)
            self._noise_source = np_random
        return dynamics.draw_bpm_noise([self._noise_rng], self.bpm_noise)


class Machine:
    """A machine behind a control system, e.g. :class:`awake_tutorial.machine.EpicsMachine`:
    any object with ``plane``, ``apply(kicks (10,) rad) -> (readings (10,) m after the wall
    rule, lost: bool)`` and optionally ``model_task()``. Its BPMs carry their own noise."""

    def __init__(self, machine):
        self.machine = machine
        self.plane = getattr(machine, "plane", None)

    def model_task(self):
        """The machine's optics model (None if it offers none)."""
        model_task = getattr(self.machine, "model_task", None)
        return model_task() if callable(model_task) else None

    def measure(self, kicks: np.ndarray, R: np.ndarray, np_random) -> tuple[np.ndarray, np.ndarray]:
        readings_m, lost = self.machine.apply(kicks[0])
        readings = dynamics.OBS_PER_METRE * np.asarray(readings_m, dtype=np.float64)[None]
        return readings, np.array([bool(lost)])
