"""The simulated AWAKE line behind the EPICS server: kicks in, BPM readings out.

Same physics as the environments (:mod:`awake_tutorial.envs.dynamics`), kept as the
state of one machine rather than of an episode:

* the orbit at the 10 BPMs is ``R @ kicks`` (m), per plane, for the current optics;
* the beam is lost from the first BPM with ``|x| >= 10 mm`` on; those BPMs read +-10 mm;
* BPM noise: Gaussian, std ``bpm_noise`` mm, on the BPMs the beam reaches;
* drift: after every accepted setpoint each quadrupole scale takes a random-walk step
  of std ``drift`` (scale units), kept within ``MAX_DRIFT`` of its start (reflected).
  The response follows to first order, ``R(s) = R(s0) + sum_k dR/ds_k (s_k - s0_k)``:
  one optics call at start (derivatives by finite differences) instead of one per step
  (~50 ms each). Within +-0.1 of the start this is within a few % of the exact optics.
  That call (with the optics' imports) makes a drifting server start 2-3 s later.

Setpoints beyond the corrector limit are refused (:class:`LimitError`), never clipped.
With noise and drift off the readings equal the in-process env's bit for bit.
"""

from __future__ import annotations

import numpy as np

from awake_tutorial.config import PLANES
from awake_tutorial.envs import dynamics
from awake_tutorial.physics.lattice_model import default_lattice
from awake_tutorial.physics.tasks import Task

# rad, |kick| allowed per corrector: a stand-in for a power-supply limit, set above any kick
# a 100-step episode can reach (start <= 5e-4, steps of <= 1e-4), so by default it never
# changes an episode (random policies do reach 5-7 mrad on weak-response tasks); a tighter
# one (--limit) shows the limits at work
DEFAULT_LIMIT = 0.011
MAX_DRIFT = 0.1  # quad scales stay within +-0.1 of their start
DERIVATIVE_STEP = 1e-4  # finite-difference step of the quad scales


class LimitError(ValueError):
    """A corrector setpoint beyond its limit (nothing was applied)."""


def check_limit(kicks: np.ndarray, limit: float, name: str = "setpoint") -> None:
    """LimitError naming the first corrector with ``|kick| > limit`` (rad); else nothing."""
    outside = np.flatnonzero(~(np.abs(kicks) <= limit))  # NaN counts as outside
    if outside.size:
        i = int(outside[0])
        raise LimitError(f"{name} refused: corrector {i} asks for {kicks[i]:.6g} rad, beyond the limit "
                         f"+-{limit:.6g} rad ({outside.size} corrector(s) out of range); nothing was applied.")


class SimulatedLine:
    """One simulated machine: the optics of ``task``, both planes, kicks starting at 0.

    Args:
        task: the optics (its quad scales are the start of the drift).
        bpm_noise: BPM noise std, mm (0: exact readings).
        drift: random-walk std of each quad scale per accepted setpoint (0: no drift).
        seed: seed of the noise and the drift.
        limit: corrector limit, rad (|kick| <= limit).
    """

    def __init__(self, task: Task, bpm_noise: float = 0.0, drift: float = 0.0, seed: int = 0,
                 limit: float = DEFAULT_LIMIT):
        if not (bpm_noise >= 0 and drift >= 0 and limit > 0):
            raise ValueError(f"need bpm_noise >= 0 mm, drift >= 0 and limit > 0 rad; got {bpm_noise}, {drift}, {limit}.")
        self.task, self.bpm_noise, self.drift, self.limit = task, float(bpm_noise), float(drift), float(limit)
        self.rng = np.random.default_rng(seed)
        self.R = {p: task.response(p) for p in PLANES}  # current response, m/rad
        self.kicks = {p: np.zeros(dynamics.N_CORRECTORS) for p in PLANES}
        self.steps = 0  # accepted setpoints
        # the task's quadrupole scale factors (knob order of the optics), ones if it has none
        self.scales0 = self.scales = np.array(list(task.quad_scales.values()) or [1.0] * 10)
        self._derivatives = None
        if self.drift:
            self._linearize()
        self.readings = {p: np.zeros(dynamics.N_BPMS) for p in PLANES}
        self.lost = {p: False for p in PLANES}
        for p in PLANES:
            self._measure(p)

    @property
    def beam_on(self) -> bool:
        """False once the beam hits the wall in either plane."""
        return not any(self.lost.values())

    def set_kicks(self, plane: str, kicks) -> None:
        """Apply a setpoint (10,) rad to one plane, then update the optics (drift) and BPMs.

        Raises LimitError (and changes nothing) if any kick is beyond the limit.
        """
        kicks = np.array(kicks, dtype=np.float64).reshape(-1)
        if kicks.shape != (dynamics.N_CORRECTORS,):
            raise ValueError(f"a setpoint has {dynamics.N_CORRECTORS} kicks, got {kicks.shape[0]}.")
        check_limit(kicks, self.limit)
        self.kicks[plane] = kicks
        self.steps += 1
        if self.drift:
            self._drift_step()
        for p in PLANES:
            self._measure(p)

    def _measure(self, plane: str) -> None:
        """The envs' physics (:mod:`awake_tutorial.envs.dynamics`) in metres: orbit, wall, noise.

        With noise off the served metres are the orbit itself, so a client scaling them by
        ``OBS_PER_METRE`` gets the env's readings bit for bit."""
        x = dynamics.orbit(self.R[plane][None], self.kicks[plane][None])  # (1, 10) m
        readings, wall = dynamics.hit_wall(dynamics.OBS_PER_METRE * x)
        # BPMs past the loss read +-10 mm; 100 * 0.01 == 1.0 exactly, as the env's wall reading
        x = np.where(np.abs(readings) >= dynamics.WALL, readings / dynamics.OBS_PER_METRE, x)
        if self.bpm_noise:  # the machine's own noise source (the envs' streams are theirs)
            noise = self.bpm_noise * dynamics.OBS_PER_MM * self.rng.standard_normal(x.shape)
            x = dynamics.add_bpm_noise(readings, noise) / dynamics.OBS_PER_METRE
        self.readings[plane], self.lost[plane] = x[0], bool(wall[0])

    # --- drift -------------------------------------------------------------------------

    def _linearize(self) -> None:
        """R and dR/ds at the task's quad scales, from one batched optics call."""
        # Deferred: the optics' imports (Cheetah, torch, ~2.5 s) would slow every server start;
        # only a drifting one needs them.
        from awake_tutorial.physics.optics import response_matrices

        lattice = default_lattice()
        scales0 = np.array([self.task.quad_scales.get(k, 1.0) for k in lattice.knob_names])
        settings = np.vstack([scales0, scales0 + DERIVATIVE_STEP * np.eye(len(scales0))])
        h, v = response_matrices(lattice, settings)
        self._base = {"horizontal": h[0], "vertical": v[0]}
        self._derivatives = {"horizontal": (h[1:] - h[0]) / DERIVATIVE_STEP,
                             "vertical": (v[1:] - v[0]) / DERIVATIVE_STEP}
        self.scales0, self.scales = scales0, scales0.copy()

    def _drift_step(self) -> None:
        step = self.drift * self.rng.standard_normal(self.scales.shape)
        offset = self.scales + step - self.scales0
        # reflect at +-MAX_DRIFT: a random walk that stays where the linear model holds
        offset = np.where(offset > MAX_DRIFT, 2 * MAX_DRIFT - offset, offset)
        offset = np.where(offset < -MAX_DRIFT, -2 * MAX_DRIFT - offset, offset)
        self.scales = self.scales0 + np.clip(offset, -MAX_DRIFT, MAX_DRIFT)
        for p in PLANES:
            self.R[p] = self._base[p] + np.tensordot(self.scales - self.scales0, self._derivatives[p], axes=1)
