"""EnvSampler: episodes one after another on one gym env, e.g. a machine over EPICS.

:class:`~awake_tutorial.rl.samplers.MultiTaskSampler` steps thousands of simulated episodes
at once. A real machine has one beam: its episodes run one after another, each step a
setpoint sent and BPMs read. ``EnvSampler`` does that, with the same interface, so the
public adaptation loop runs on a machine unchanged::

    sampler = EnvSampler(AwakeSteeringEnv(machine=EpicsMachine(...)), episodes_per_task=16)
    training.adapt(policy, [env.task], num_batches=1, config=config, sampler=sampler)

Randomness follows MultiTaskSampler exactly: a task's seed draws the B env seeds, then
the action noise (``samplers.action_noise``). So on the in-process env, or on a
served machine without noise and drift, the episodes equal MultiTaskSampler's (tested),
up to float32 rounding of the batched policy call.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from awake_tutorial.episode_loop import Episode, run_episode
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.rl.samplers import MAX_SEED, action_noise, rollout_policy


class EnvSampler:
    """Sample ``episodes_per_task`` episodes of the one task of ``env``, sequentially.

    Args:
        env: an :class:`~awake_tutorial.envs.AwakeSteeringEnv` (any backend).
        episodes_per_task: B, episodes per call.
        on_step: optional ``f(obs, reward, info)`` called after every step (e.g. a live plot).
        fast_path: act with the numpy sampler (default) or the policy's torch forward pass.
    Counters: ``steps`` (env steps = setpoints sent by actions), ``episodes``, ``seconds``.
    """

    def __init__(self, env, episodes_per_task: int,
                 on_step: Callable[[np.ndarray, float, dict], None] | None = None, fast_path: bool = True):
        if int(episodes_per_task) < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}.")
        self.env, self.episodes_per_task, self.on_step = env, int(episodes_per_task), on_step
        self.fast_path = bool(fast_path)
        self.steps, self.episodes, self.seconds = 0, 0, 0.0

    def sample(self, policy: GaussianMLPPolicy, tasks: Sequence, seeds: Sequence[int],
               params: Mapping[str, torch.Tensor] | None = None) -> BatchEpisodes:
        """B episodes with a ~ pi_params(. | s); BatchEpisodes of shape (1, T, B, ...)."""
        if len(tasks) != 1:
            raise ValueError(f"an EnvSampler runs the one task of its env, got {len(tasks)} tasks; "
                             "adapt to one machine at a time.")
        start = time.perf_counter()
        B, A = self.episodes_per_task, policy.action_dim
        params = policy.params() if params is None else dict(params)
        if params["log_std"].dim() == 1:
            params = stack_params(params, 1)
        act = rollout_policy(policy, params, self.fast_path)
        rng = np.random.default_rng(int(seeds[0]))
        env_seeds = [int(s) for s in rng.integers(0, MAX_SEED, size=B)]
        stream = action_noise([rng], B, A)  # MultiTaskSampler's noise stream for one task
        steps: list[np.ndarray] = []  # steps[t]: (B, A), drawn in order as episodes get longer

        def noise(t: int, b: int) -> np.ndarray:
            while len(steps) <= t:
                steps.append(next(stream)[0])
            return steps[t][b]

        episodes = [self._episode(act, env_seeds[b], lambda t, b=b: noise(t, b)) for b in range(B)]
        self.seconds += time.perf_counter() - start
        return self._batch(episodes)

    def _episode(self, act: Callable, seed: int, noise: Callable[[int], np.ndarray]) -> Episode:
        """One episode of sampled actions in the package's single-env loop."""
        def sampled_action(t: int, obs: np.ndarray) -> np.ndarray:  # the (1, 1)-batched actor, one step
            return act(obs[None, None].astype(np.float32), noise(t)[None, None])[0, 0]

        episode = run_episode(self.env, sampled_action, seed=seed, on_step=self.on_step)
        self.steps += episode.length
        self.episodes += 1
        return episode

    @staticmethod
    def _batch(episodes: list[Episode]) -> BatchEpisodes:
        """Pad the episodes to the longest: tensors (1, T, B, ...) as MultiTaskSampler returns."""
        T, B = max(e.length for e in episodes), len(episodes)
        obs = np.zeros((T, B, episodes[0].observations.shape[-1]), dtype=np.float32)
        actions = np.zeros((T, B, episodes[0].actions.shape[-1]), dtype=np.float32)
        rewards, mask = np.zeros((T, B), dtype=np.float32), np.zeros((T, B), dtype=np.float32)
        for b, e in enumerate(episodes):
            n = e.length
            obs[:n, b], actions[:n, b], rewards[:n, b], mask[:n, b] = e.observations, e.actions, e.rewards, 1.0
        return BatchEpisodes(observations=torch.from_numpy(obs)[None], actions=torch.from_numpy(actions)[None],
                             rewards=torch.from_numpy(rewards)[None], mask=torch.from_numpy(mask)[None],
                             success=torch.tensor([[e.success for e in episodes]]))

