"""Benchmark policies that know the task, and :func:`evaluate` to score any policy.

:class:`InverseResponsePolicy` is what an operator would do: invert the response matrix
and cancel the reading. :class:`FewestStepsPolicy` plans the fewest steps any policy can
need under the action limits (issue 8), a lower bound to compare learned policies with.

Policy protocol of :func:`evaluate` (one policy for all tasks):
    * a function ``actions = policy(obs)``, or
    * an object with ``actions = policy.act(obs)`` and optionally ``policy.reset()``
      (called before each task's episodes),
mapping float32 observations (n, 10) to actions (n, 10). A policy that must know the task
(like the two below) is passed as ``per_task(factory)``, where ``factory(task, plane)``
returns such a policy: ``evaluate(per_task(InverseResponsePolicy), tasks)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy.optimize import lsq_linear

from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE, SUCCESS_RMS, rescale
from awake_tutorial.envs.steering import check_plane, check_settings, resolve_task
from awake_tutorial.envs.vector import AwakeSteeringVectorEnv
from awake_tutorial.tasks import Task


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


@dataclass(frozen=True)
class PerTask:
    """A policy factory for :func:`evaluate`: ``factory(task, plane)`` is called once per task."""

    factory: Callable[[Task, str], Any]


def per_task(factory: Callable[[Task, str], Any]) -> PerTask:
    """Mark ``factory(task, plane) -> policy`` for :func:`evaluate`: one policy per task.

    Example: ``evaluate(per_task(InverseResponsePolicy), tasks)``.
    """
    if not callable(factory):
        raise TypeError(f"per_task needs a callable factory(task, plane), got {factory!r}.")
    return PerTask(factory)


def _act_function(policy) -> Callable[[np.ndarray], Any]:
    act = getattr(policy, "act", None)
    if callable(act):
        return act
    if callable(policy):
        return policy
    raise TypeError(
        f"policy must be a function obs -> actions, an object with .act(obs), or "
        f"per_task(factory); got {type(policy).__name__}."
    )


def steps_failed_as_max(lengths: Sequence[int], successes: Sequence[bool], max_steps: int) -> float:
    """The course's score of a set of episodes: mean steps to reach 1 mm, a failed episode
    (wall or time limit) counted as ``max_steps``, so failing early never looks fast."""
    return float(np.mean(np.where(np.asarray(successes, dtype=bool), lengths, max_steps)))


def evaluate(policy, tasks: Sequence[Task | int], *, episodes: int = 100, seed: int = 0,
             max_steps: int = 100, plane: str = "horizontal",
             wall_penalty: str = "strict", bpm_noise: float = 0.0) -> list[dict[str, Any]]:
    """Run ``episodes`` episodes of each task, all at once in a vector env.

    ``policy``: see the module docstring. Episode i of every task starts from the
    vector env's reset with seed ``seed`` (sub-env i gets ``seed + i``), so the results
    are reproducible. Returns one dict per task: "task_id", "mean_length", "std_length",
    "mean_return", "success_rate", "lengths" (list of int), "returns" (list of float),
    "successes" (list of bool).
    ``bpm_noise``: BPM noise std, mm, of the envs (default 0, see ``AwakeSteeringEnv``).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be an int >= 1, got {episodes!r}.")
    check_settings(max_steps, plane, wall_penalty)
    if isinstance(tasks, (Task, int, np.integer)):
        raise TypeError("tasks must be a list of tasks (or evaluation task ids), e.g. [task].")
    results = []
    for task in tasks:
        task = resolve_task(task)
        task_policy = policy.factory(task, plane) if isinstance(policy, PerTask) else policy
        act = _act_function(task_policy)
        if callable(getattr(task_policy, "reset", None)):
            task_policy.reset()
        envs = AwakeSteeringVectorEnv([task] * episodes, max_steps=max_steps, plane=plane,
                                      wall_penalty=wall_penalty, bpm_noise=bpm_noise)
        rollout = envs.run_episodes(act, seed=seed)  # one episode per sub-env
        lengths, returns, successes = rollout.lengths, rollout.returns, rollout.success
        results.append({
            "task_id": task.id,
            "mean_length": float(lengths.mean()),
            "std_length": float(lengths.std()),
            "mean_return": float(returns.mean()),
            "success_rate": float(successes.mean()),
            "lengths": lengths.tolist(),
            "returns": returns.tolist(),
            "successes": successes.tolist(),
        })
    return results
