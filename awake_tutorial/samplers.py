"""MultiTaskSampler: episodes of many tasks, rolled out together in one vector env.

All K tasks x B episodes of a meta-batch step together: one
:class:`~awake_tutorial.envs.vector.AwakeSteeringVectorEnv` with K * B sub-envs (task k
owns sub-envs k*B ... k*B + B - 1) and one batched policy call per time step, each task
with its own parameters (per-task params, see :mod:`awake_tutorial.policies`). No worker
processes: at this size a batched matrix product beats any inter-process traffic.

Randomness is per task: task k's seed fixes its B env seeds and its action noise, so
the episodes of a task are the same whether it is sampled alone or with others.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from awake_tutorial.envs.vector import AwakeSteeringVectorEnv
from awake_tutorial.episodes import BatchEpisodes
from awake_tutorial.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.tasks import Task

MAX_SEED = 2**31 - 1
NOISE_BLOCK = 4  # steps of action noise drawn per generator call (same numbers as step by step)


class MultiTaskSampler:
    """Sample ``episodes_per_task`` episodes for each task of a list, all at once.

    Args:
        episodes_per_task: B, episodes per task (the "fast batch size").
        max_steps, plane, wall_penalty: passed to the environment.
    """

    def __init__(self, episodes_per_task: int, max_steps: int = 100, plane: str = "horizontal",
                 wall_penalty: str = "strict"):
        if int(episodes_per_task) < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}.")
        self.episodes_per_task = int(episodes_per_task)
        self.max_steps, self.plane, self.wall_penalty = int(max_steps), plane, wall_penalty
        self._env: AwakeSteeringVectorEnv | None = None

    def _env_for(self, tasks: Sequence[Task]) -> AwakeSteeringVectorEnv:
        """The vector env, made once and given new tasks on later calls (same count)."""
        sub_env_tasks = [task for task in tasks for _ in range(self.episodes_per_task)]
        if self._env is None or self._env.num_envs != len(sub_env_tasks):
            # NEXT_STEP: a finished sub-env restarts on the next step; those steps are masked out
            self._env = AwakeSteeringVectorEnv(sub_env_tasks, self.max_steps, self.plane,
                                               self.wall_penalty, AutoresetMode.NEXT_STEP)
        else:
            self._env.set_tasks(sub_env_tasks)
        return self._env

    def sample(self, policy: GaussianMLPPolicy, tasks: Sequence[Task], seeds: Sequence[int],
               params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """Roll out B episodes per task with a ~ pi_params(. | s).

        Args:
            policy: the policy (architecture; its own parameters if ``params`` is None).
            tasks: K tasks.
            seeds: K ints, one per task (env starts and action noise).
            params: None, one parameter set for all tasks, or per-task params (K, ...).
        Returns:
            BatchEpisodes with shapes (K, T, B, ...), T = longest episode.
        """
        K, B = len(tasks), self.episodes_per_task
        if len(seeds) != K:
            raise ValueError(f"got {len(seeds)} seeds for {K} tasks; give one seed per task.")
        params = policy.params() if params is None else dict(params)
        if params["log_std"].dim() == 1:
            params = stack_params(params, K)
        params = {name: p.detach() for name, p in params.items()}
        std = policy.std(params).unsqueeze(1)  # (K, 1, A)
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        env_seeds = [int(x) for rng in rngs for x in rng.integers(0, MAX_SEED, size=B)]

        env = self._env_for(tasks)
        obs, _ = env.reset(seed=env_seeds)
        alive = np.ones(K * B, dtype=bool)
        success = np.zeros(K * B, dtype=bool)
        observations, actions, rewards, masks = [], [], [], []
        for t in range(self.max_steps):
            if t % NOISE_BLOCK == 0:  # (K, NOISE_BLOCK, B, A) standard normal, one call per task
                noise = torch.from_numpy(np.stack([
                    rng.standard_normal((NOISE_BLOCK, B, policy.action_dim), dtype=np.float32) for rng in rngs]))
            obs_t = torch.from_numpy(obs).view(K, B, -1)
            with torch.no_grad():
                action = policy.mean(obs_t, params) + std * noise[:, t % NOISE_BLOCK]
            obs, reward, terminated, truncated, info = env.step(action.view(K * B, -1).numpy())
            observations.append(obs_t)
            actions.append(action)
            masks.append(alive.copy())
            rewards.append(np.where(alive, reward, 0.0))
            success |= alive & info["success"]
            alive &= ~(terminated | truncated)
            if not alive.any():
                break

        mask = torch.from_numpy(np.stack(masks)).view(-1, K, B).permute(1, 0, 2).float()  # (K, T, B)
        return BatchEpisodes(
            observations=torch.stack(observations, dim=1) * mask.unsqueeze(-1),
            actions=torch.stack(actions, dim=1) * mask.unsqueeze(-1),
            rewards=torch.from_numpy(np.stack(rewards)).float().view(-1, K, B).permute(1, 0, 2) * mask,
            mask=mask,
            success=torch.from_numpy(success).view(K, B),
        )
