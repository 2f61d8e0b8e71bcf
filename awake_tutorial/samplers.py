"""MultiTaskSampler: episodes of many tasks, rolled out together in one batch.

All K tasks x B episodes of a meta-batch step together: K * B sub-envs (task k owns
sub-envs k*B ... k*B + B - 1) advanced by the batched physics of the environments
(:mod:`awake_tutorial.envs.dynamics`, the code both gym envs run), with one batched
policy call per time step, each task with its own parameters (per-task params, see
:mod:`awake_tutorial.policies`). No worker processes: at this size a batched matrix
product beats any inter-process traffic.

Each sub-env runs exactly one episode per call: once it ends it is left alone (a gym
vector env would restart it and the restarted steps would be thrown away; those
restarts cost half of a short rollout). Every episode is the one a single
:class:`~awake_tutorial.envs.AwakeSteeringEnv` gives with the same seed and actions (tested).

Randomness is per task: task k's seed fixes its B env seeds and its action noise, so
the episodes of a task are the same whether it is sampled alone or with others.
``seeds=None`` continues the random streams of the previous call instead (same tasks):
it skips re-seeding K * B generators, the most expensive part of a short rollout. The
episodes are then still reproducible, but depend on the earlier calls.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from gymnasium.utils import seeding

from awake_tutorial.envs import dynamics
from awake_tutorial.envs.steering import check_bpm_noise, check_settings
from awake_tutorial.episodes import BatchEpisodes
from awake_tutorial.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.tasks import Task

MAX_SEED = 2**31 - 1
NOISE_BLOCK = 4  # steps of action noise drawn per generator call (same numbers as step by step)


class MultiTaskSampler:
    """Sample ``episodes_per_task`` episodes for each task of a list, all at once.

    Args:
        episodes_per_task: B, episodes per task (the "fast batch size").
        max_steps, plane, wall_penalty, bpm_noise: as for the environment (BPM noise in mm,
            from each sub-env's own noise generator, as in the env).
    """

    def __init__(self, episodes_per_task: int, max_steps: int = 100, plane: str = "horizontal",
                 wall_penalty: str = "strict", bpm_noise: float = 0.0):
        self.bpm_noise = check_bpm_noise(bpm_noise)
        if int(episodes_per_task) < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}.")
        self.episodes_per_task = int(episodes_per_task)
        self.max_steps, self.plane, self.wall_penalty = check_settings(max_steps, plane, wall_penalty)
        self._tasks: list[Task] | None = None  # tasks of the sub-envs' response matrices
        self._R: np.ndarray | None = None  # (K * B, 10, 10) m/rad
        self._starts: dynamics.StartSampler | None = None
        self._rngs: list[np.random.Generator] | None = None  # action noise, one per task
        self._env_rngs: list[np.random.Generator] | None = None  # starts, one per sub-env
        self._noise_rngs: list[np.random.Generator] | None = None  # BPM noise, one per sub-env
        self._seeded_tasks: list[Task] | None = None  # the tasks the generators were seeded for
        self.env_seeds: list[int] | None = None  # sub-env i's episodes = AwakeSteeringEnv.reset(seed=env_seeds[i])

    def _set_tasks(self, tasks: Sequence[Task]) -> None:
        """Response matrices of the sub-envs; kept while the tasks stay the same objects."""
        if self._tasks is not None and len(tasks) == len(self._tasks) and all(
                a is b for a, b in zip(tasks, self._tasks)):
            return  # same tasks: keep the random streams and the candidate starts
        self._tasks = list(tasks)
        matrices = np.stack([task.response(self.plane) for task in tasks])
        self._R = np.repeat(matrices, self.episodes_per_task, axis=0)
        self._starts = dynamics.StartSampler(len(self._R))

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
        self._set_tasks(tasks)
        if seeds is None:
            if self._rngs is None or self._seeded_tasks is not self._tasks:
                raise ValueError("seeds=None continues a previous call with the same tasks; seed the first call.")
        else:
            self._rngs = [np.random.default_rng(int(s)) for s in seeds]
            self._seeded_tasks = self._tasks
            # sub-env i is seeded as gymnasium seeds an env: reset(seed=env_seeds[i])
            self.env_seeds = [int(x) for rng in self._rngs for x in rng.integers(0, MAX_SEED, size=B)]
            self._env_rngs = [seeding.np_random(s)[0] for s in self.env_seeds]
            self._noise_rngs = [dynamics.noise_generator(g) for g in self._env_rngs] if self.bpm_noise else None
            self._starts.forget(slice(None))
        rngs, R, n = self._rngs, self._R, K * B
        kicks = self._starts.sample(np.arange(n), self._env_rngs, R)  # (n, 10) rad
        noise_rngs = self._noise_rngs  # (a seeds=None call continues them too)
        obs, _ = dynamics.first_observation(R, kicks, dynamics.draw_bpm_noise(noise_rngs or [], self.bpm_noise))
        steps = np.zeros(n, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        strict_wall = self.wall_penalty == "strict"
        observations, actions, rewards, masks = [], [], [], []
        for t in range(self.max_steps):
            if t % NOISE_BLOCK == 0:  # (K, NOISE_BLOCK, B, A) standard normal, one call per task
                noise = np.stack([rng.standard_normal((NOISE_BLOCK, B, A), dtype=np.float32) for rng in rngs])
            action = act(obs.reshape(K, B, -1), noise[:, t % NOISE_BLOCK])  # (K, B, A)
            observations.append(obs.reshape(K, B, -1))
            actions.append(action)
            masks.append(alive.reshape(K, B))
            run = np.flatnonzero(alive)  # only the episodes still running take a step
            step = dynamics.step(R[run], kicks[run], dynamics.check_actions(action.reshape(n, A)[run], (run.size,)),
                                 steps[run], self.max_steps, strict_wall,
                                 dynamics.draw_bpm_noise([noise_rngs[i] for i in run] if noise_rngs else [], self.bpm_noise))
            kicks[run], steps[run] = step.kicks, step.steps
            obs = obs.copy()
            obs[run] = step.obs
            reward = np.zeros(n)
            reward[run] = step.reward
            rewards.append(reward.reshape(K, B))
            success[run] = step.success
            alive = alive.copy()
            alive[run] = ~(step.terminated | step.truncated)
            if not alive.any():
                break

        def by_task(arrays: list) -> torch.Tensor:  # T arrays (K, B, ...) -> (K, T, B, ...)
            return torch.from_numpy(np.stack(arrays, axis=1))

        mask = by_task(masks).float()
        return BatchEpisodes(
            observations=by_task(observations) * mask.unsqueeze(-1),
            actions=by_task(actions) * mask.unsqueeze(-1),
            rewards=by_task(rewards).float() * mask,
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
