"""MultiTaskSampler: episodes of many tasks, rolled out together in one batch.

All K tasks x B episodes of a meta-batch step together: K * B sub-envs (task k owns
sub-envs k*B ... k*B + B - 1) of one vector env, with one batched policy call per time
step, each task with its own parameters (per-task params, see
:mod:`awake_tutorial.rl.policies`). No worker processes: at this size a batched matrix
product beats any inter-process traffic. The sampler knows no physics: it gets its vector
env from a factory, ``make_envs(tasks)`` (e.g. ``AwakeSteeringVectorEnv.factory(max_steps=30)``).

Each sub-env runs exactly one episode per call, in the vector env's
:meth:`~awake_tutorial.envs.AwakeSteeringVectorEnv.run_episodes` mode: once it ends it
idles (autoreset would restart it and the restarted steps would be thrown away). Every
episode is the one a single :class:`~awake_tutorial.envs.AwakeSteeringEnv` gives with the
same seed and actions (tested).

Randomness is per task: task k's seed fixes its B env seeds and its action noise, so
the episodes of a task are the same whether it is sampled alone or with others.
``seeds=None`` continues the random streams of the previous call instead (same tasks):
it skips re-seeding K * B generators, the most expensive part of a short rollout. The
episodes are then still reproducible, but depend on the earlier calls.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params

MAX_SEED = 2**31 - 1
NOISE_BLOCK = 4  # steps of action noise drawn per generator call (same numbers as step by step)


class MultiTaskSampler:
    """Sample ``episodes_per_task`` episodes for each task of a list, all at once.

    Args:
        episodes_per_task: B, episodes per task (the "fast batch size").
        make_envs: factory ``make_envs(tasks)`` -> a vector env with one sub-env per entry of
            ``tasks`` and a ``run_episodes`` method, e.g. ``AwakeSteeringVectorEnv.factory(
            max_steps=30, bpm_noise=0.5)`` (settings such as BPM noise are the env's).
    """

    def __init__(self, episodes_per_task: int, make_envs: Callable[[Sequence[Any]], Any]):
        if int(episodes_per_task) < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}.")
        if not callable(make_envs):
            raise TypeError(f"make_envs must be a factory tasks -> vector env, e.g. "
                            f"AwakeSteeringVectorEnv.factory(max_steps=30); got {make_envs!r}.")
        self.episodes_per_task = int(episodes_per_task)
        self.make_envs = make_envs
        self._tasks: list | None = None  # tasks of the vector env
        self._envs = None  # K * B sub-envs, task k's are k*B ... k*B + B - 1
        self._rngs: list[np.random.Generator] | None = None  # action noise, one per task
        self._seeded_tasks: list | None = None  # the tasks the generators were seeded for
        self.env_seeds: list[int] | None = None  # sub-env i's episodes = AwakeSteeringEnv.reset(seed=env_seeds[i])

    def _set_tasks(self, tasks: Sequence[Any]) -> None:
        """A vector env for the tasks; kept while the tasks stay the same objects."""
        if self._tasks is not None and len(tasks) == len(self._tasks) and all(
                a is b for a, b in zip(tasks, self._tasks)):
            return  # same tasks: keep the random streams and the candidate starts
        self._tasks = list(tasks)
        self._envs = self.make_envs([task for task in tasks for _ in range(self.episodes_per_task)])

    def sample(self, policy: GaussianMLPPolicy, tasks: Sequence[Any], seeds: Sequence[int] | None,
               params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """Roll out B episodes per task with a ~ pi_params(. | s).

        Args:
            policy: the policy (architecture; its own parameters if ``params`` is None).
            tasks: K tasks (whatever ``make_envs`` takes).
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
        policy_k = RolloutPolicy(policy, params)
        self._set_tasks(tasks)
        if seeds is None:
            if self._rngs is None or self._seeded_tasks is not self._tasks:
                raise ValueError("seeds=None continues a previous call with the same tasks; seed the first call.")
        else:
            self._rngs = [np.random.default_rng(int(s)) for s in seeds]
            self._seeded_tasks = self._tasks
            # sub-env i is seeded as gymnasium seeds an env: reset(seed=env_seeds[i])
            self.env_seeds = [int(x) for rng in self._rngs for x in rng.integers(0, MAX_SEED, size=B)]
        noise = action_noise(self._rngs, B, A)

        def act(obs: np.ndarray) -> np.ndarray:  # (K * B, obs_dim) -> (K * B, A), task k's params on its B rows
            return policy_k(obs.reshape(K, B, -1), next(noise)).reshape(K * B, A)

        rollout = self._envs.run_episodes(act, seed=None if seeds is None else self.env_seeds)

        def by_task(array: np.ndarray) -> torch.Tensor:  # (T, K * B, ...) -> (K, T, B, ...)
            array = array.reshape(array.shape[0], K, B, *array.shape[2:]).swapaxes(0, 1)
            return torch.from_numpy(np.ascontiguousarray(array))

        mask = by_task(rollout.alive).float()
        return BatchEpisodes(
            observations=by_task(rollout.observations) * mask.unsqueeze(-1),
            actions=by_task(rollout.actions) * mask.unsqueeze(-1),
            rewards=by_task(rollout.rewards).float() * mask,
            mask=mask,
            success=torch.from_numpy(rollout.success).view(K, B),
        )


def action_noise(rngs: Sequence[np.random.Generator], B: int, A: int) -> Iterator[np.ndarray]:
    """Standard normal action noise (K, B, A) float32 for step after step; task k's from
    ``rngs[k]``, drawn ``NOISE_BLOCK`` steps at a time (one generator call per task)."""
    while True:
        block = np.stack([rng.standard_normal((NOISE_BLOCK, B, A), dtype=np.float32) for rng in rngs])
        for t in range(NOISE_BLOCK):
            yield block[:, t]


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
