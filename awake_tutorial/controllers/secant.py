"""Zero-cost controllers on the nominal optics: act at once, spend no machine step measuring.

* :class:`NominalInversePolicy`: the inverse response of the *nominal* matrix, what an
  operator runs first. Wrong by as much as the machine differs from the model, but each
  step still shrinks the orbit when the model is close enough, so it converges in a few
  more steps than the inverse of the true matrix.
* :class:`BroydenPolicy`: the same start, then after every step a rank-one secant update
  of its matrix from what the step did (Broyden's "good" method): **in-context adaptation,
  done classically**, within each episode, with no beam time spent before acting.

Units: the controllers' matrix B maps actions (1 = 1e-4 rad per corrector) to changes of
the readings (1.0 = 10 mm): ``B = 100 * 1e-4 * R`` for a response matrix R in m/rad.
"""

from __future__ import annotations

import numpy as np

from awake_tutorial.controllers.given_response import InverseResponsePolicy, _as_batch
from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE, rescale
from awake_tutorial.envs.steering import check_plane, resolve_task
from awake_tutorial.physics.tasks import Task

READINGS_PER_ACTION = OBS_PER_METRE * KICK_PER_ACTION  # readings per action unit per (m/rad)


class NominalInversePolicy(InverseResponsePolicy):
    """The inverse response of the nominal optics' matrix (evaluation task 0), whatever
    the task. ``task`` is accepted (and ignored) so that it works with ``per_task``.
    Costs no machine steps before acting."""

    machine_steps = 0

    def __init__(self, task: Task | int | None = None, plane: str = "horizontal"):
        super().__init__(resolve_task(None), plane)


class BroydenPolicy:
    """Inverse response on a matrix B that learns from every step (Broyden's secant method).

    Each step acts with ``a = -pinv(B) y`` (y: the readings; singular values of B below ``rcond``
    times the largest are dropped, the truncated SVD of control rooms), scaled to max|a| <= ``max_action``
    (direction kept); the next reading gives ``dy = y' - y``, and B takes the rank-one update
    that makes it reproduce that step, ``B += damping * (dy - B a) a^T / (a^T a)``, which
    changes B only along a (the least change, in the Frobenius norm, that fits the step).

    Assumptions, and what happens when they fail:

    * the machine is linear in the kicks (true of the simulated line, dy = 100 R a * 1e-4);
      a wrong B is corrected only along the directions the steps explore, so the start B
      must be good enough for the first steps to shrink the orbit (the nominal matrix is,
      for knob scales in U(0.75, 1.25); measured in docs/results/comparison_summary.csv);
    * the readings are exact or their noise is small against the step's effect: a step
      with |a| < ``min_step`` (2-norm, action units) is not used for an update, since the
      noise of dy would dominate it (1/|a| amplification), and ``damping`` < 1 averages the
      noise of successive updates instead of copying it into B;
    * the small singular values of B are not worth acting on: their inverse turns a small
      model error or a little BPM noise into a large kick. Dropping those below ``rcond``
      = 1 % of the largest made every measured score better, noise-free too
      (``python benchmarks/broyden_variants.py``, ``docs/results/broyden_variants.md``);
    * one episode per row: the rows of a batch of observations are separate episodes
      (as :func:`awake_tutorial.envs.evaluate` runs them), each with its own B, back to the
      start matrix at :meth:`reset` and whenever the batch size changes. Acting on one env
      episode after episode, call :meth:`reset` between episodes.

    Args:
        task: accepted and ignored (for ``per_task``); the start matrix is ``start``.
        plane: "horizontal" or "vertical".
        start: start response matrix (10, 10), m/rad; default the nominal optics'.
        damping: fraction of the secant correction applied per step, in (0, 1].
        min_step: smallest step (2-norm, action units) used for an update.
        max_action: trust region: largest |action| per corrector per step, in (0, 1].
        rcond: singular values of B below ``rcond`` times the largest are ignored, in [0, 1).
    """

    machine_steps = 0

    def __init__(self, task: Task | int | None = None, plane: str = "horizontal", start: np.ndarray | None = None,
                 damping: float = 1.0, min_step: float = 1e-3, max_action: float = 1.0, rcond: float = 0.01):
        self.plane = check_plane(plane)
        if not 0.0 < damping <= 1.0 or not 0.0 < max_action <= 1.0 or min_step < 0.0 or not 0.0 <= rcond < 1.0:
            raise ValueError(f"BroydenPolicy needs 0 < damping <= 1, 0 < max_action <= 1, min_step >= 0 and "
                             f"0 <= rcond < 1; got damping={damping}, max_action={max_action}, min_step={min_step}, "
                             f"rcond={rcond}.")
        start = resolve_task(None).response(self.plane) if start is None else np.asarray(start, dtype=np.float64)
        if start.shape != (10, 10) or not np.all(np.isfinite(start)):
            raise ValueError(f"start must be a finite (10, 10) response matrix in m/rad, got shape {start.shape}.")
        self.start = READINGS_PER_ACTION * start
        self.damping, self.min_step, self.max_action = float(damping), float(min_step), float(max_action)
        self.rcond = float(rcond)
        self.reset()

    def reset(self) -> None:
        """Forget every episode: each row starts again from the start matrix."""
        self._B = self._last_obs = self._last_action = None

    def act(self, obs) -> np.ndarray:
        """Actions (10,) or (n, 10), float32, for observations of the same shape."""
        batch, single = _as_batch(obs)
        if self._B is None or len(self._B) != len(batch):
            self._B = np.repeat(self.start[None], len(batch), axis=0)  # (n, 10, 10)
        elif self._last_obs is not None:
            self._update(batch - self._last_obs, self._last_action)
        gains = -np.linalg.pinv(self._B, rcond=self.rcond)  # (n, 10, 10): action per reading
        actions = rescale(np.einsum("nij,nj->ni", gains, batch) / self.max_action) * self.max_action
        self._last_obs, self._last_action = batch, actions
        actions = actions.astype(np.float32)
        return actions[0] if single else actions

    __call__ = act

    def _update(self, dy: np.ndarray, step: np.ndarray) -> None:
        """Secant update of each row's B from its last step ``step`` (n, 10) and ``dy`` (n, 10)."""
        norm2 = np.einsum("ni,ni->n", step, step)
        used = norm2 >= self.min_step ** 2  # a tiny step (or an idle finished row) teaches nothing
        if not used.any():
            return
        B, s = self._B[used], step[used]
        residual = dy[used] - np.einsum("nij,nj->ni", B, s)
        self._B[used] = B + self.damping * residual[:, :, None] * s[:, None, :] / norm2[used][:, None, None]
