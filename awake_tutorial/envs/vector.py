"""AwakeSteeringVectorEnv: many AWAKE steering envs stepped with one batched matrix product.

It follows the gymnasium 1.4 :class:`~gymnasium.vector.VectorEnv` API and behaves exactly
like ``gymnasium.vector.SyncVectorEnv`` over single :class:`AwakeSteeringEnv` s with the same
tasks and seeds (same observations, rewards, flags and infos, step by step), only much faster.
Each sub-env has its own task and its own random generator.

:meth:`AwakeSteeringVectorEnv.run_episodes` runs one episode per sub-env, ended ones idle: the one
rollout engine, of the meta-learning sampler and of ``envs.evaluate``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from awake_tutorial.envs import dynamics
from awake_tutorial.envs.starts import StartSampler
from awake_tutorial.envs.steering import (check_bpm_noise, check_settings, make_spaces, reset_mask,
                                         resolve_task, seed_list)
from awake_tutorial.physics.tasks import Task


@dataclass
class Rollout:
    """One episode per sub-env (:meth:`AwakeSteeringVectorEnv.run_episodes`); T steps, n sub-envs."""

    observations: np.ndarray  # (T, n, 10) float32, what each action was chosen from
    actions: np.ndarray  # (T, n, 10) as the act function returned them
    rewards: np.ndarray  # (T, n) float64, 0 once ended
    alive: np.ndarray  # (T, n) bool, the episode still ran at step t
    returns: np.ndarray  # (n,) float64
    lengths: np.ndarray  # (n,) int64
    success: np.ndarray  # (n,) bool


class AwakeSteeringVectorEnv(VectorEnv):
    """``len(tasks)`` steering envs in one batch.

    Args:
        tasks: one entry per sub-env: a Task or an evaluation task id (int).
        max_steps, plane, wall_penalty, bpm_noise: as for :class:`AwakeSteeringEnv`.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default; an env that ended is reset by
            the next ``step``, whose action it ignores), ``SAME_STEP`` (reset within the
            step that ended it; the last observation is in ``info["final_obs"]``) or
            ``DISABLED`` (reset ended envs yourself: ``reset(options={"reset_mask": m})``).

    Shapes: observations (n, 10) float32, actions (n, 10), rewards (n,) float64,
    terminations/truncations (n,) bool; ``info[key]`` is an (n,) array with mask ``info["_key"]``.
    """

    metadata = {"render_modes": []}

    def __init__(self, tasks: Sequence[Task | int], max_steps: int = 100,
                 plane: str = "horizontal", wall_penalty: str = "strict",
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 bpm_noise: float = 0.0):
        self.max_steps, self.plane, self.wall_penalty = check_settings(
            max_steps, plane, wall_penalty
        )
        self.bpm_noise = check_bpm_noise(bpm_noise)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {"render_modes": [], "autoreset_mode": self.autoreset_mode}
        tasks = self._resolve_tasks(tasks)
        self.num_envs = len(tasks)
        self.single_observation_space, self.single_action_space = make_spaces()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        n = self.num_envs
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._seeds: list[int | None] = [None] * n
        self._noise_rngs: list[np.random.Generator | None] = [None] * n  # children of _rngs
        self._kicks = np.zeros((n, dynamics.N_CORRECTORS))  # rad
        self._steps = np.zeros(n, dtype=np.int64)
        self._obs = np.zeros((n, dynamics.N_BPMS), dtype=np.float32)  # last returned
        self._done = np.zeros(n, dtype=bool)  # ended at the last step
        self._starts = StartSampler(n)
        self._set_tasks(tasks)

    # --- tasks --------------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        """The sub-envs' tasks."""
        return list(self._tasks)

    def set_tasks(self, tasks: Sequence[Task | int]) -> None:
        """Give each sub-env a new task (same count); the next call must be :meth:`reset`."""
        tasks = self._resolve_tasks(tasks)  # raises before anything changes
        if len(tasks) != self.num_envs:
            raise ValueError(
                f"set_tasks needs {self.num_envs} tasks (one per sub-env), got {len(tasks)}; "
                "make a new AwakeSteeringVectorEnv to change the number of envs."
            )
        self._set_tasks(tasks)

    def _set_tasks(self, tasks: list[Task]) -> None:
        self._tasks = tasks
        self._R = np.stack([t.response(self.plane) for t in tasks])  # (n, 10, 10) m/rad
        self._task_ids = np.array([t.id for t in tasks], dtype=np.int64)
        self._starts.forget(slice(None))
        self._needs_reset = True

    @staticmethod
    def _resolve_tasks(tasks) -> list[Task]:
        if isinstance(tasks, (Task, int, np.integer)) or tasks is None:
            raise TypeError("tasks must be a sequence with one task per sub-env, e.g. [task] * 8.")
        tasks = [resolve_task(t) for t in tasks]
        if not tasks:
            raise ValueError("tasks is empty; give at least one task.")
        return tasks

    @property
    def kicks(self) -> np.ndarray:
        """Current kicks of every sub-env, rad, shape (n, 10), a float64 copy."""
        return self._kicks.copy()

    @property
    def np_random(self) -> tuple[np.random.Generator | None, ...]:
        """The sub-envs' generators (None before their first reset)."""
        return tuple(self._rngs)

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        """The seeds the sub-envs were last seeded with (None if never seeded)."""
        return tuple(self._seeds)

    # --- gymnasium API ---------------------------------------------------------------

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None):
        """Reset all sub-envs, or those in ``options["reset_mask"]`` ((n,) bool array).

        ``seed``: None (keep the generators), an int s (sub-env i gets s + i) or a list.
        """
        seeds = seed_list(seed, self.num_envs)
        mask = reset_mask(options, self.num_envs)
        if mask is not None and self._needs_reset:
            raise RuntimeError("reset all sub-envs (no reset_mask) after creation or set_tasks.")
        for i in np.flatnonzero(mask if mask is not None else np.ones(self.num_envs, bool)):
            if seeds[i] is not None or self._rngs[i] is None:  # None: random, as gymnasium.Env
                self._rngs[i], self._seeds[i] = seeding.np_random(seeds[i])
                self._starts.forget(i)  # candidates from the old generator are void
                if self.bpm_noise:
                    self._noise_rngs[i] = dynamics.noise_generator(self._rngs[i])
        if mask is None:
            self._needs_reset = False
            mask = np.ones(self.num_envs, dtype=bool)
        rms = np.zeros(self.num_envs)
        rms[mask] = self._reset_envs(np.flatnonzero(mask))
        no = np.zeros(self.num_envs, dtype=bool)
        return self._obs.copy(), self._info(rms, no, no, mask)

    def step(self, actions):
        """Step every sub-env. Returns (obs, rewards, terminations, truncations, info)."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (after creation or set_tasks).")
        actions = dynamics.check_actions(actions, (self.num_envs,))  # raises before any change
        ended = self._done
        if self.autoreset_mode is AutoresetMode.DISABLED and ended.any():
            raise RuntimeError(
                f"sub-envs {np.flatnonzero(ended).tolist()} have ended and autoreset is disabled; "
                "reset them first with reset(options={'reset_mask': mask})."
            )
        restart = np.flatnonzero(ended) if self.autoreset_mode is AutoresetMode.NEXT_STEP else []
        if len(restart):
            # NEXT_STEP: these envs start a new episode instead; their action is ignored, so
            # the step below just reads their new orbit (in the same matrix product)
            self._kicks[restart] = self._starts.sample(restart, self._rngs, self._R)
            actions = actions.copy()  # never change the caller's array
            actions[restart] = 0.0
        t = dynamics.step(self._R, self._kicks, actions, self._steps, self.max_steps,
                          self.wall_penalty == "strict",
                          dynamics.draw_bpm_noise(self._noise_rngs, self.bpm_noise))
        self._kicks, self._steps, self._obs = t.kicks, t.steps, t.obs
        reward, terminated, truncated = t.reward, t.terminated, t.truncated
        if len(restart):
            reward[restart], terminated[restart], truncated[restart] = 0.0, False, False
            self._steps[restart] = 0
            t.success[restart], t.wall[restart] = False, False
        info = self._info(t.rms, t.success, t.wall, np.ones(self.num_envs, dtype=bool))
        done = terminated | truncated
        self._done = done.copy()
        if self.autoreset_mode is AutoresetMode.SAME_STEP and done.any():
            # the final observation and info go into the info; the env restarts at once
            idx = np.flatnonzero(done)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in idx:
                final_obs[i] = self._obs[i].copy()
            final_info = self._info(t.rms, t.success, t.wall, done)
            self._mark_reset(info, idx, self._reset_envs(idx))  # clears self._done[idx]
            info.update(final_obs=final_obs, _final_obs=done, final_info=final_info,
                        _final_info=done.copy())
        return self._obs.copy(), reward, terminated, truncated, info

    def run_episodes(self, act: Callable[..., Any], seed: int | Sequence[int | None] | None = None, *,
                     pass_alive: bool = False) -> Rollout:
        """Reset with ``seed`` (as :meth:`reset`), then run exactly one episode per sub-env.

        Autoreset would restart an ended sub-env and the restarted steps would be thrown
        away (half the cost of a short rollout). Here it idles: it keeps its last
        observation, its row of the actions is ignored and it draws no random numbers, so
        each episode is the one ``AwakeSteeringEnv`` gives with the same seed and actions.
        ``act``: observations (n, 10) float32 -> actions (n, 10), called once per step with
        every row; it must not modify its input. ``seed=None`` continues the generators.
        ``pass_alive``: call ``act(obs, alive)`` instead, ``alive`` (n,) bool the rows whose episode
        still runs (read-only), so that ``act`` may skip ended rows (their actions are ignored).
        """
        obs = self.reset(seed=seed)[0]
        n, strict = self.num_envs, self.wall_penalty == "strict"
        alive, success = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
        observations, actions, rewards, alives = [], [], [], []
        for _ in range(self.max_steps):  # every episode ends within max_steps
            action = np.asarray(act(obs, alive) if pass_alive else act(obs))
            if action.shape != obs.shape:
                raise ValueError(f"the policy returned actions of shape {action.shape} for observations of "
                                 f"shape {obs.shape}; it must return one action (10,) per row.")
            observations.append(obs), actions.append(action), alives.append(alive)
            run = np.flatnonzero(alive)  # only the episodes still running take a step
            noise_rngs = [self._noise_rngs[i] for i in run] if self.bpm_noise else []
            noise = dynamics.draw_bpm_noise(noise_rngs, self.bpm_noise)
            t = dynamics.step(self._R[run], self._kicks[run], dynamics.check_actions(action[run], (run.size,)),
                              self._steps[run], self.max_steps, strict, noise)
            self._kicks[run], self._steps[run] = t.kicks, t.steps
            obs = obs.copy()
            obs[run] = t.obs
            reward = np.zeros(n)
            reward[run] = t.reward
            rewards.append(reward)
            returns += reward
            lengths += alive
            success[run] = t.success  # success ends an episode: its last step tells
            alive = alive.copy()
            alive[run] = ~(t.terminated | t.truncated)
            if not alive.any():
                break
        self._obs, self._done = obs, np.ones(n, dtype=bool)
        return Rollout(np.stack(observations), np.stack(actions), np.stack(rewards), np.stack(alives),
                       returns, lengths, success)

    @classmethod
    def factory(cls, max_steps: int = 100, plane: str = "horizontal", wall_penalty: str = "strict",
                bpm_noise: float = 0.0) -> Callable[[Sequence[Task | int]], "AwakeSteeringVectorEnv"]:
        """``make_envs(tasks)`` -> a vector env with these settings (checked now), for ``MultiTaskSampler``."""
        max_steps, plane, wall_penalty = check_settings(max_steps, plane, wall_penalty)
        return functools.partial(cls, max_steps=max_steps, plane=plane, wall_penalty=wall_penalty,
                                 bpm_noise=check_bpm_noise(bpm_noise))

    # --- helpers -----------------------------------------------------------------------

    def _reset_envs(self, idx: np.ndarray) -> np.ndarray:
        """Draw new starts for the sub-envs ``idx``; returns their RMS (for the info)."""
        self._kicks[idx] = self._starts.sample(idx, self._rngs, self._R)
        self._steps[idx] = 0
        self._done[idx] = False
        noise = dynamics.draw_bpm_noise([self._noise_rngs[i] for i in idx], self.bpm_noise)
        self._obs[idx], rms = dynamics.first_observation(self._R[idx], self._kicks[idx], noise)
        return rms

    @staticmethod
    def _mark_reset(info: dict[str, Any], idx: np.ndarray, rms: np.ndarray) -> None:
        """Overwrite rows ``idx`` of a step info with the info of a fresh start."""
        info["step"][idx], info["rms"][idx] = 0, rms
        info["success"][idx], info["wall"][idx] = False, False

    def _info(self, rms, success, wall, mask) -> dict[str, Any]:
        """Info dict in gymnasium's vector layout; rows outside ``mask`` are zero."""
        values = {"task_id": self._task_ids, "step": self._steps, "rms": rms,
                  "success": success, "wall": wall}
        info = {}
        everyone = mask.all()
        for key, value in values.items():
            info[key] = value.copy() if everyone else np.where(mask, value, 0).astype(value.dtype)
            info["_" + key] = mask.copy()
        return info
