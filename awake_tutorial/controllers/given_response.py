"""Controllers that are given the task's response matrix R (the benchmarks to beat).

:class:`InverseResponsePolicy` is what an operator would do: invert the response matrix
and cancel the reading. :class:`FewestStepsPolicy` plans the fewest steps any policy can
need under the action limits (issue 8), a lower bound to compare learned policies with.
Both are made per task, ``policy = InverseResponsePolicy(task, plane)``, and scored with
``awake_tutorial.envs.evaluate(per_task(InverseResponsePolicy), tasks)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import lsq_linear

from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE, SUCCESS_RMS, rescale
from awake_tutorial.envs.steering import check_plane, resolve_task
from awake_tutorial.physics.tasks import Task


def _as_batch(obs) -> tuple[np.ndarray, bool]:
    """Observations as float64 (n, 10), and whether a single (10,) one was given."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.shape[-1:] != (10,) or obs.ndim not in (1, 2):
        raise ValueError(f"observations must have shape (10,) or (n, 10), got {obs.shape}.")
    return np.atleast_2d(obs), obs.ndim == 1


class InverseResponsePolicy:
    """Cancel the reading with the inverse response matrix, as far as one step allows.

    The kick change that zeroes the readings is ``dk = -R^-1 (obs / 100)`` rad, i.e. the
    action ``dk / 1e-4``; an action with max|a| > 1 is scaled down (direction kept), as
    the env would. ``act`` takes one observation (10,) or a batch (n, 10), float32 or 64.
    """

    def __init__(self, task: Task | int | None, plane: str = "horizontal"):
        self.plane = check_plane(plane)
        self.task = resolve_task(task)
        # action per unit of observation; pinv also copes with a singular matrix
        self._gain = -np.linalg.pinv(self.task.response(plane)) / (OBS_PER_METRE * KICK_PER_ACTION)

    def act(self, obs) -> np.ndarray:
        """Actions (10,) or (n, 10), float32, for observations of the same shape."""
        batch, single = _as_batch(obs)
        actions = rescale(batch @ self._gain.T).astype(np.float32)
        return actions[0] if single else actions

    __call__ = act

    def reset(self) -> None:
        """Nothing to reset: the policy has no memory."""


class FewestStepsPolicy:
    """Reach RMS < 0.1 in the fewest steps the action limits allow (issue 8 benchmark).

    Each corrector moves at most 1e-4 rad per step, so n steps can change the kicks by any
    ``d`` with max|d| <= n * 1e-4. The policy finds the smallest n for which some such d
    brings the RMS below the success threshold (a box-constrained least-squares problem,
    ``scipy.optimize.lsq_linear(method="bvls")``) and moves d / n per step. It replans
    every step from the observation alone: while the episode runs no reading is clipped
    (any |reading| >= 1 ends it at the wall), so the readings give the orbit exactly.
    A plan that only reaches the threshold by a hair could miss it through the float32
    rounding of observations, so it aims ``MARGIN`` (relative) below it.
    """

    MARGIN = 1e-6

    def __init__(self, task: Task | int | None, plane: str = "horizontal", max_plan: int = 1000):
        self.plane = check_plane(plane)
        self.task = resolve_task(task)
        self.max_plan = max_plan  # no plan longer than this (steps)
        self._A = OBS_PER_METRE * self.task.response(plane)  # readings per rad, (10, 10)
        self._target = SUCCESS_RMS * (1.0 - self.MARGIN) * math.sqrt(10)  # as an L2 norm

    def best_change(self, obs, n: int, free=None) -> tuple[np.ndarray, np.ndarray]:
        """(d, readings): the kick change d (10,) rad within ``n`` steps that minimises the
        RMS from observation ``obs``, and the readings (10,) it leads to."""
        obs = np.asarray(obs, dtype=np.float64)
        free = np.linalg.lstsq(self._A, -obs, rcond=-1)[0] if free is None else free
        limit = n * KICK_PER_ACTION
        # minimize |obs + A d| (the readings after the change d) subject to |d_i| <= limit.
        # lsq_linear first computes the unconstrained optimum `free` this way and returns it
        # unchanged when it lies in the box: the shortcut gives the same bits, much faster.
        if np.all((free >= -limit) & (free <= limit)):
            return free, self._A @ free - (-obs)
        result = lsq_linear(self._A, -obs, bounds=(-limit, limit), method="bvls")
        return result.x, result.fun

    def plan(self, obs) -> tuple[int, np.ndarray]:
        """(n, d): fewest steps n and total kick change d (10,) rad from one observation.

        The best orbit within n steps can only get better as n grows, so the smallest n
        that reaches the target is found by bisection between 1 and ``n_free``, the
        first n whose box holds the unconstrained optimum (the best orbit at all).
        """
        obs = np.asarray(obs, dtype=np.float64)
        free = np.linalg.lstsq(self._A, -obs, rcond=-1)[0]
        n_free = 1
        while n_free < self.max_plan and np.max(np.abs(free)) > n_free * KICK_PER_ACTION:
            n_free += 1
        if np.linalg.norm(self._A @ free - (-obs)) >= self._target:
            # success out of reach: head for the best orbit, in as few steps as no bound is active
            while n_free < self.max_plan and np.max(np.abs(free)) >= n_free * KICK_PER_ACTION * (1 - 1e-9):
                n_free += 1
            return n_free, self.best_change(obs, n_free, free)[0]
        high, (d, readings) = n_free, self.best_change(obs, n_free, free)
        if np.linalg.norm(readings) >= self._target:
            return high, d  # only when max_plan is too short to hold the best orbit
        low = 0  # low steps do not reach the target (0: none), high steps do
        while high - low > 1:
            n = 1 if low == 0 else (low + high) // 2  # most plans need one step: try it first
            d_n, readings = self.best_change(obs, n, free)
            if np.linalg.norm(readings) < self._target:
                high, d = n, d_n
            else:
                low = n
        return high, d

    def act(self, obs) -> np.ndarray:
        """Actions (10,) or (n, 10), float32: each row moves 1/n of its plan."""
        batch, single = _as_batch(obs)
        actions = np.empty_like(batch)
        for i, row in enumerate(batch):
            n, d = self.plan(row)
            actions[i] = d / (n * KICK_PER_ACTION)
        actions = rescale(actions).astype(np.float32)
        return actions[0] if single else actions

    __call__ = act

    def reset(self) -> None:
        """Nothing to reset: every step is planned from the observation alone."""
