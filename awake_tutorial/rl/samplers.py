"""MultiTaskSampler: episodes of many tasks, rolled out together in one batch.

All K tasks x B episodes of a meta-batch step together: K * B sub-envs (task k owns
sub-envs k*B ... k*B + B - 1) of one vector env, with one batched policy call per time
step, each task with its own parameters (per-task params, see
:mod:`awake_tutorial.rl.policies`). No worker processes: at this size a batched matrix
product beats any inter-process traffic. The sampler knows no physics: it gets its vector
env from a factory, ``make_envs(tasks)`` (e.g. ``AwakeSteeringVectorEnv.factory(max_steps=30)``).

Each sub-env runs exactly one episode per call, in the vector env's ``run_episodes`` mode:
once it ends it idles (autoreset would restart it and the restarted steps would be thrown
away). Every episode is the one a single ``AwakeSteeringEnv`` gives with the same seed and
actions (tested).

Randomness is per task and explicit: ``sampler.streams(tasks, seeds)`` seeds one random
stream per task (its B env starts and its action noise) and returns them as
:class:`TaskStreams`; each ``streams.sample(policy, params)`` continues them. A meta-batch
seeds once and samples num_steps + 1 times (re-seeding K * B generators would be the most
expensive part of a short rollout). Task k's episodes are the same whether it is sampled
alone or with others. ``sampler.sample(policy, tasks, seeds, params)`` is the one-round
shortcut (also the protocol of :class:`~awake_tutorial.rl.env_sampler.EnvSampler`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from awake_tutorial.rl.engine import select
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.policies import GaussianMLPPolicy, TorchRolloutPolicy, stack_params  # noqa: F401 (re-export)

MAX_SEED = 2**31 - 1
NOISE_BLOCK = 4  # steps per block of the action-noise stream (ActionNoise draws 1-8 blocks per generator call)


class MultiTaskSampler:
    """Sample ``episodes_per_task`` episodes for each task of a list, all at once.

    Args:
        episodes_per_task: B, episodes per task (the "fast batch size").
        make_envs: factory ``make_envs(tasks)`` -> a vector env with one sub-env per entry of
            ``tasks`` and a ``run_episodes`` method, e.g. ``AwakeSteeringVectorEnv.factory(
            max_steps=30, bpm_noise=0.5)`` (settings such as BPM noise are the env's).
        fast_path: act with the numpy sampler of :mod:`awake_tutorial.rl.fast` (default) or
            with the policy's torch forward pass (the textbook path; same actions to float rounding).
    """

    def __init__(self, episodes_per_task: int, make_envs: Callable[[Sequence[Any]], Any], fast_path: bool = True):
        if int(episodes_per_task) < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}.")
        if not callable(make_envs):
            raise TypeError(f"make_envs must be a factory tasks -> vector env, e.g. "
                            f"AwakeSteeringVectorEnv.factory(max_steps=30); got {make_envs!r}.")
        self.episodes_per_task = int(episodes_per_task)
        self.make_envs = make_envs
        self.fast_path = bool(fast_path)

    def streams(self, tasks: Sequence[Any], seeds: Sequence[int]) -> "TaskStreams":
        """Seeded random streams for ``tasks`` (K, whatever ``make_envs`` takes), one int seed
        per task: it fixes the task's B env seeds and its action noise."""
        if len(seeds) != len(tasks):
            raise ValueError(f"got {len(seeds)} seeds for {len(tasks)} tasks; give one seed per task.")
        B = self.episodes_per_task
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        # sub-env i is seeded as gymnasium seeds an env: reset(seed=env_seeds[i])
        env_seeds = [int(x) for rng in rngs for x in rng.integers(0, MAX_SEED, size=B)]
        envs = self.make_envs([task for task in tasks for _ in range(B)])
        return TaskStreams(envs, rngs, env_seeds, B, self.fast_path)

    def sample(self, policy: GaussianMLPPolicy, tasks: Sequence[Any], seeds: Sequence[int],
               params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """One round: ``self.streams(tasks, seeds).sample(policy, params)``."""
        return self.streams(tasks, seeds).sample(policy, params)


class TaskStreams:
    """The random streams of K tasks' episodes (made by :meth:`MultiTaskSampler.streams`).

    The first :meth:`sample` starts every sub-env from its seed (``env_seeds``); later
    calls continue the same streams, so a meta-batch is a function of its seeds alone.
    """

    def __init__(self, envs, rngs: list[np.random.Generator], env_seeds: list[int], episodes_per_task: int,
                 fast_path: bool = True):
        self.envs, self.rngs, self.episodes_per_task, self.fast_path = envs, rngs, episodes_per_task, fast_path
        self.env_seeds = env_seeds  # sub-env i's first episode = AwakeSteeringEnv.reset(seed=env_seeds[i])
        self._started = False
        self.noise: ActionNoise | None = None

    def sample(self, policy: GaussianMLPPolicy, params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """Roll out B episodes per task with a ~ pi_params(. | s).

        Args:
            policy: the policy (architecture; its own parameters if ``params`` is None).
            params: None, one parameter set for all tasks, or per-task params (K, ...).
        Returns:
            BatchEpisodes with shapes (K, T, B, ...), T = longest episode.
        """
        K, B, A = len(self.rngs), self.episodes_per_task, policy.action_dim
        params = policy.params() if params is None else dict(params)
        if params["log_std"].dim() == 1:
            params = stack_params(params, K)
        self.noise = self.noise or ActionNoise(self.rngs, B, A)  # continued round after round
        act = RunningTasksActor(rollout_policy(policy, params, self.fast_path), K, B, A, self.noise.round())
        rollout = self.envs.run_episodes(act, seed=None if self._started else self.env_seeds, pass_alive=True)
        self._started = True

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


class RunningTasksActor:
    """The sampler's act function, ``(obs (K * B, obs_dim), alive (K * B,)) -> actions (K * B, A)``:
    task k's parameters on its B rows, acting only for the tasks with an episode still running.

    Late in meta-training most tasks' episodes end within a few steps while one long episode
    keeps the rollout going (~26 % of the task-steps of a default training have a running
    episode): the actor then acts for those tasks alone, through the actor's ``on_tasks(index)``
    (the actor of those tasks' parameters, made once per set of running tasks). Rows of ended
    tasks get zeros (their actions are ignored). Each task's actions are those of the whole
    batch bit for bit: every task's product is computed alone either way (tested). An actor
    without ``on_tasks`` (e.g. a recurrent policy's, whose rows keep hidden states) acts on
    every row. The action noise is drawn for every task at every step (the same streams).
    """

    def __init__(self, actor, K: int, B: int, A: int, noise: Iterator[np.ndarray]):
        self.actor, self.K, self.B, self.A, self.noise = actor, K, B, A, noise
        self.running, self.actor_running = None, actor  # the last set of running tasks and its actor

    def __call__(self, obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        K, B, A = self.K, self.B, self.A
        noise = next(self.noise)
        running = alive.reshape(K, B).any(axis=1)
        if running.all() or not hasattr(self.actor, "on_tasks"):
            return self.actor(obs.reshape(K, B, -1), noise).reshape(K * B, A)
        index = np.flatnonzero(running)
        if self.running is None or not np.array_equal(index, self.running):
            self.running, self.actor_running = index, self.actor.on_tasks(index)
        actions = np.zeros((K, B, A), dtype=np.float32)
        actions[index] = self.actor_running(obs.reshape(K, B, -1)[index], noise[index])
        return actions.reshape(K * B, A)


class ActionNoise:
    """Standard normal action noise (K, B, A) float32, step after step, task k's from ``rngs[k]``.

    The stream: task k's generator gives its steps in blocks of ``NOISE_BLOCK`` (as one call
    ``standard_normal((NOISE_BLOCK, B, A))`` per block would), and each sampling round
    (:meth:`round`) starts at a block boundary: the steps left in the last round's block are
    skipped. The blocks are drawn in pieces of 1, 1, 2, 4 then 8 blocks per call (a generator
    gives the same numbers at once or in pieces, tested): a few calls per task and round
    instead of one per block, and never more than twice the steps used plus 8 blocks.
    """

    MAX_PIECE = 8 * NOISE_BLOCK

    def __init__(self, rngs: Sequence[np.random.Generator], B: int, A: int):
        self.rngs, self.shape = rngs, (B, A)
        self.steps = np.empty((len(rngs), 0, B, A), dtype=np.float32)  # (K, steps drawn, B, A)
        self.position = 0  # the next step to use

    def round(self) -> Iterator[np.ndarray]:
        """The steps of one sampling round: (K, B, A) each, from the next block boundary on."""
        self.position = -(-self.position // NOISE_BLOCK) * NOISE_BLOCK
        while True:
            if self.position == self.steps.shape[1]:
                size = min(max(NOISE_BLOCK, self.steps.shape[1]), self.MAX_PIECE)
                piece = np.stack([rng.standard_normal((size, *self.shape), dtype=np.float32) for rng in self.rngs])
                self.steps = np.concatenate([self.steps, piece], axis=1)
            self.position += 1
            yield self.steps[:, self.position - 1]


def action_noise(rngs: Sequence[np.random.Generator], B: int, A: int) -> Iterator[np.ndarray]:
    """One round of :class:`ActionNoise`: (K, B, A) float32 step after step, task k's from ``rngs[k]``."""
    return ActionNoise(rngs, B, A).round()


def rollout_policy(policy: GaussianMLPPolicy, params: Mapping[str, torch.Tensor], fast_path: bool = True):
    """(obs (K, B, obs_dim), noise (K, B, A)) -> actions (K, B, A) for per-task ``params`` (K, ...):
    the policy hands over its own actor (``policy.rollout_actor``); the engine of ``fast_path``
    (:func:`awake_tutorial.rl.engine.select`) offers the fast numpy one or the textbook torch one."""
    return policy.rollout_actor(params, select(fast_path))
