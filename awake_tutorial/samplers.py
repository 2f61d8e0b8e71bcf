"""MultiTaskSampler: episodes of many tasks, rolled out together in one vector env.

All K tasks x B episodes of a meta-batch step together: one
:class:`~awake_tutorial.envs.vector.AwakeSteeringVectorEnv` with K * B sub-envs (task k
owns sub-envs k*B ... k*B + B - 1) and one batched policy call per time step, each task
with its own parameters (per-task params, see :mod:`awake_tutorial.policies`). No worker
processes: at this size a batched matrix product beats any inter-process traffic.

Randomness is per task: task k's seed fixes its B env seeds and its action noise, so
the episodes of a task are the same whether it is sampled alone or with others.
``seeds=None`` continues the random streams of the previous call instead (same tasks):
it skips re-seeding 128 envs, the most expensive part of a short rollout. The episodes
are then still reproducible, but depend on the earlier calls.
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
        self._tasks: list[Task] | None = None  # tasks of the env
        self._rngs: list[np.random.Generator] | None = None  # action noise, one per task
        self._seeded_tasks: list[Task] | None = None  # the tasks the generators were seeded for

    def _env_for(self, tasks: Sequence[Task]) -> AwakeSteeringVectorEnv:
        """The vector env, made once and given new tasks on later calls (same count)."""
        if self._tasks is not None and len(tasks) == len(self._tasks) and all(
                a is b for a, b in zip(tasks, self._tasks)):
            return self._env  # same tasks: keep the env's random streams
        self._tasks = list(tasks)
        sub_env_tasks = [task for task in tasks for _ in range(self.episodes_per_task)]
        if self._env is None or self._env.num_envs != len(sub_env_tasks):
            # NEXT_STEP: a finished sub-env restarts on the next step; those steps are masked out
            self._env = AwakeSteeringVectorEnv(sub_env_tasks, self.max_steps, self.plane,
                                               self.wall_penalty, AutoresetMode.NEXT_STEP)
        else:
            self._env.set_tasks(sub_env_tasks)
        return self._env

    def sample(self, policy: GaussianMLPPolicy, tasks: Sequence[Task], seeds: Sequence[int] | None,
               params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """Roll out B episodes per task with a ~ pi_params(. | s).

        Args:
            policy: the policy (architecture; its own parameters if ``params`` is None).
            tasks: K tasks.
            seeds: K ints, one per task (env starts and action noise); None continues the
                streams of the previous call, which must have had the same tasks.
            params: None, one parameter set for all tasks, or per-task params (K, ...).
        Returns:
            BatchEpisodes with shapes (K, T, B, ...), T = longest episode.
        """
        K, B, A = len(tasks), self.episodes_per_task, policy.action_dim
        if seeds is not None and len(seeds) != K:
            raise ValueError(f"got {len(seeds)} seeds for {K} tasks; give one seed per task.")
        params = policy.params() if params is None else dict(params)
        if params["log_std"].dim() == 1:
            params = stack_params(params, K)
        act = RolloutPolicy(policy, params)
        env = self._env_for(tasks)
        if seeds is None:
            if self._rngs is None or self._seeded_tasks is not self._tasks:
                raise ValueError("seeds=None continues a previous call with the same tasks; seed the first call.")
            env_seeds = None
        else:
            self._rngs = [np.random.default_rng(int(s)) for s in seeds]
            self._seeded_tasks = self._tasks
            env_seeds = [int(x) for rng in self._rngs for x in rng.integers(0, MAX_SEED, size=B)]
        rngs = self._rngs
        obs, _ = env.reset(seed=env_seeds)
        alive = np.ones(K * B, dtype=bool)
        success = np.zeros(K * B, dtype=bool)
        observations, actions, rewards, masks = [], [], [], []
        for t in range(self.max_steps):
            if t % NOISE_BLOCK == 0:  # (K, NOISE_BLOCK, B, A) standard normal, one call per task
                noise = np.stack([rng.standard_normal((NOISE_BLOCK, B, A), dtype=np.float32) for rng in rngs])
            obs = obs.reshape(K, B, -1)
            action = act(obs, noise[:, t % NOISE_BLOCK])  # (K, B, A)
            observations.append(obs)
            actions.append(action)
            masks.append(alive.copy())
            obs, reward, terminated, truncated, info = env.step(action.reshape(K * B, A))
            rewards.append(np.where(alive, reward, 0.0))
            success |= alive & info["success"]
            alive &= ~(terminated | truncated)
            if not alive.any():
                break

        def by_task(steps: list) -> torch.Tensor:  # T arrays (K, B, ...) -> (K, T, B, ...)
            return torch.from_numpy(np.stack(steps, axis=1))

        mask = by_task([m.reshape(K, B) for m in masks]).float()
        return BatchEpisodes(
            observations=by_task(observations) * mask.unsqueeze(-1),
            actions=by_task(actions) * mask.unsqueeze(-1),
            rewards=by_task([r.reshape(K, B) for r in rewards]).float() * mask,
            mask=mask,
            success=torch.from_numpy(success).view(K, B),
        )


class RolloutPolicy:
    """The policy's action sampler in numpy, for acting step by step.

    Acting needs no gradients, and a rollout makes hundreds of calls on tiny arrays: numpy
    costs ~1 us per operation there, torch ~5-10 us. Same math as
    ``GaussianMLPPolicy.mean`` (tested to agree to float rounding): per task k,
    mean = MLP_k(s) and a = mean + sigma_k * noise.
    """

    def __init__(self, policy: GaussianMLPPolicy, params: Mapping[str, torch.Tensor]):
        n = len(policy.layers)
        self.activation = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}[policy.nonlinearity]
        # per layer: W^T (K, in, out) and bias (K, 1, out), float32
        self.layers = [(params[f"layers.{i}.weight"].detach().transpose(1, 2).contiguous().numpy(),
                        params[f"layers.{i}.bias"].detach().unsqueeze(1).numpy()) for i in range(n)]
        self.std = params["log_std"].detach().exp().unsqueeze(1).numpy()  # (K, 1, A)

    def __call__(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """obs (K, B, obs_dim), noise (K, B, A) standard normal -> actions (K, B, A) float32."""
        x = obs
        for i, (weight_t, bias) in enumerate(self.layers):
            x = np.matmul(x, weight_t) + bias
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return (x + self.std * noise).astype(np.float32, copy=False)
