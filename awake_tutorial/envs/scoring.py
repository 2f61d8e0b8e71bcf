"""Score any policy on tasks: :func:`evaluate` and the course's one score.

Policy protocol of :func:`evaluate` (one policy for all tasks):
    * a function ``actions = policy(obs)``, or
    * an object with ``actions = policy.act(obs)`` and optionally ``policy.reset()``
      (called before each task's episodes),
mapping float32 observations (n, 10) to actions (n, 10). A policy that must know the task
(like the controllers of :mod:`awake_tutorial.controllers`) is passed as
``per_task(factory)``, where ``factory(task, plane)`` returns such a policy:
``evaluate(per_task(InverseResponsePolicy), tasks)``.

Every episode runs in :meth:`AwakeSteeringVectorEnv.run_episodes`, the one rollout engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from awake_tutorial.episode_loop import run_episode
from awake_tutorial.envs.steering import check_settings, resolve_task
from awake_tutorial.envs.vector import AwakeSteeringVectorEnv
from awake_tutorial.physics.tasks import Task


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


def evaluate_on_env(env, policy: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int = 0) -> dict:
    """Score ``policy`` (obs (10,) -> action (10,)) on one env, ``episodes`` episodes one after
    another: the way to score on a machine, which has one beam (:func:`evaluate` runs many
    simulated episodes at once). Episode i starts from ``reset(seed=seed + i)``, in the one
    single-env loop :func:`awake_tutorial.episode_loop.run_episode`.

    Returns {"lengths": [int], "successes": [bool], "steps": env steps taken, "score": mean
    steps per episode with every failure counted as ``env.max_steps`` (the course's scoring)}.
    """
    runs = [run_episode(env, lambda t, obs: policy(obs), seed=seed + i) for i in range(int(episodes))]
    lengths, successes = [run.length for run in runs], [run.success for run in runs]
    return {"lengths": lengths, "successes": successes, "steps": int(sum(lengths)),
            "score": steps_failed_as_max(lengths, successes, env.max_steps)}
