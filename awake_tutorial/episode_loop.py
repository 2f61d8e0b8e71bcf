"""One episode on one gym env, step after step: the loop a machine with one beam runs.

:func:`run_episode` is the single-env episode loop of the package. It sits in the
foundation (it knows the gymnasium protocol and the env's ``info`` keys "success" and
"wall", nothing of a layer), because its two callers live in layers that must not import
each other:

* :func:`awake_tutorial.envs.scoring.evaluate_on_env` scores a policy on one env (a machine);
* :class:`awake_tutorial.rl.env_sampler.EnvSampler` samples the adaptation batches there.

(Simulated episodes in bulk run in :meth:`AwakeSteeringVectorEnv.run_episodes` instead.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

MAX_RESTARTS = 10  # resets of one episode whose start lost the beam (drifted machine)


@dataclass(frozen=True)
class Episode:
    """What one episode recorded. Shapes: observations (T, 10) mm (the reading each action
    was chosen on), actions (T, 10) normalised kicks, rewards (T,); T = length."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    success: bool  # the beam ended within the 1 mm target (not at a wall or the time limit)

    @property
    def length(self) -> int:
        """Env steps taken (= setpoints sent)."""
        return len(self.rewards)


def run_episode(env, act: Callable[[int, np.ndarray], np.ndarray], seed: int | None,
                on_step: Callable[[np.ndarray, float, dict], None] | None = None) -> Episode:
    """Reset ``env`` with ``seed`` and step ``action = act(t, obs)`` (t = 0, 1, ...) until the
    episode ends (at most ``env.max_steps`` steps). ``on_step(obs, reward, info)`` is called
    after every step, e.g. by a live plot.

    A start whose reading already hit a wall (``info["wall"]``; on a drifted machine) is
    drawn again, at most ``MAX_RESTARTS`` times; then RuntimeError says to re-centre the
    machine. Such resets cost no step. The simulated env never starts at a wall.
    """
    obs, info = env.reset(seed=seed)
    for _ in range(MAX_RESTARTS):  # bounded: a start that lost the beam is drawn again
        if not info.get("wall"):
            break
        obs, info = env.reset()
    else:
        raise RuntimeError(f"{MAX_RESTARTS} starts in a row lost the beam: the machine is far from "
                           "its model (drift?); re-centre it before running episodes.")
    observations, actions, rewards, success = [], [], [], False
    for t in range(env.max_steps):
        action = np.asarray(act(t, obs))
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        success = bool(info["success"])
        if on_step is not None:
            on_step(obs, reward, info)
        if terminated or truncated:
            break
    return Episode(np.array(observations), np.array(actions), np.array(rewards), success)
