"""MultiTaskSampler: all tasks in one batch, same episodes as task by task and as the gym env."""

import numpy as np
import pytest
import torch

from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.envs import AwakeSteeringVectorEnv
from awake_tutorial.rl.samplers import MultiTaskSampler
from awake_tutorial.physics.tasks import load_evaluation_tasks


@pytest.fixture(scope="module")
def tasks():
    return load_evaluation_tasks()[:4]


def per_task_params(policy, K):
    """Different parameters for every task (as after adaptation)."""
    params = {k: v.detach().clone() for k, v in stack_params(policy.params(), K).items()}
    g = torch.Generator().manual_seed(0)
    for p in params.values():
        p += 0.05 * torch.randn(p.shape, generator=g)
    return params


def test_vectorized_sampling_equals_sampling_each_task_alone(tasks):
    policy = GaussianMLPPolicy(seed=0)
    params = per_task_params(policy, len(tasks))
    seeds = [11, 22, 33, 44]
    sampler = MultiTaskSampler(6, AwakeSteeringVectorEnv.factory(max_steps=30))
    together = sampler.sample(policy, tasks, seeds, params)
    for k, task in enumerate(tasks):
        alone = MultiTaskSampler(6, AwakeSteeringVectorEnv.factory(max_steps=30)).sample(policy, [task], [seeds[k]],
                                                          {n: p[k:k + 1] for n, p in params.items()})
        T = alone.num_steps
        assert torch.all(together.mask[k, T:] == 0)
        for field in ("observations", "actions", "rewards", "mask"):
            a, b = getattr(together, field)[k, :T], getattr(alone, field)[0]
            assert torch.allclose(a, b, rtol=0, atol=1e-6), field
        assert torch.equal(together.success[k], alone.success[0])


def test_episodes_replay_in_a_single_env(tasks):
    """obs_t is what the policy saw, a_t what it did, r_t what the env answered."""
    policy = GaussianMLPPolicy(seed=1)
    sampler = MultiTaskSampler(3, AwakeSteeringVectorEnv.factory(max_steps=40))
    streams = sampler.streams(tasks[:2], [5, 6])
    ep = streams.sample(policy)
    env_seeds = [int(x) for s in (5, 6) for x in np.random.default_rng(s).integers(0, 2**31 - 1, size=3)]
    assert streams.env_seeds == env_seeds  # (documented: how to replay an episode)
    for k in range(2):
        for b in range(3):
            env = AwakeSteeringEnv(tasks[k], max_steps=40)
            obs, _ = env.reset(seed=env_seeds[k * 3 + b])
            n = int(ep.lengths[k, b])
            for t in range(n):
                np.testing.assert_allclose(ep.observations[k, t, b].numpy(), obs, atol=1e-7)
                obs, reward, terminated, truncated, info = env.step(ep.actions[k, t, b].numpy())
                assert ep.rewards[k, t, b].item() == pytest.approx(reward, rel=1e-6)
                assert (terminated or truncated) == (t == n - 1)
            assert bool(ep.success[k, b]) == info["success"]


def test_shapes_masks_and_determinism(tasks):
    policy = GaussianMLPPolicy(seed=2)
    sampler = MultiTaskSampler(5, AwakeSteeringVectorEnv.factory(max_steps=20))
    ep = sampler.sample(policy, tasks, [1, 2, 3, 4])
    K, T, B = ep.mask.shape
    assert (K, B) == (4, 5) and T <= 20 and ep.observations.shape == (K, T, B, 10)
    # masks are 1...1 0...0 and every episode ran at least one step
    assert torch.all(ep.mask[:, 1:] <= ep.mask[:, :-1]) and torch.all(ep.mask[:, 0] == 1)
    assert torch.all(ep.rewards[ep.mask == 0] == 0) and torch.all(ep.observations[ep.mask == 0] == 0)
    again = sampler.sample(policy, tasks, [1, 2, 3, 4])
    assert torch.equal(ep.actions, again.actions) and torch.equal(ep.rewards, again.rewards)
    other = sampler.sample(policy, tasks, [9, 2, 3, 4])
    assert not torch.equal(other.rewards[0], ep.rewards[0][: other.num_steps])
    with pytest.raises(ValueError, match="one seed per task"):
        sampler.sample(policy, tasks, [1, 2])


def test_streams_continue_from_round_to_round(tasks):
    """A meta-batch seeds its streams once; each round continues them, reproducibly."""
    policy = GaussianMLPPolicy(seed=4)
    sampler = MultiTaskSampler(4, AwakeSteeringVectorEnv.factory(max_steps=15))
    runs = []
    for _ in range(2):
        streams = sampler.streams(tasks, [1, 2, 3, 4])
        runs.append((streams.sample(policy), streams.sample(policy)))
    assert torch.equal(runs[0][1].actions, runs[1][1].actions)  # reproducible
    assert not torch.equal(runs[0][1].observations[:, 0], runs[0][0].observations[:, 0])  # new starts
    first = sampler.sample(policy, tasks, [1, 2, 3, 4])  # the one-round shortcut = a stream's first round
    assert torch.equal(first.actions, runs[0][0].actions)
    other = sampler.streams(tasks, [1, 2, 3, 4])  # streams are independent objects: no shared state
    sampler.streams(tasks, [9, 9, 9, 9]).sample(policy)
    assert torch.equal(other.sample(policy).actions, runs[0][0].actions)
    with pytest.raises(ValueError, match="one seed per task"):
        sampler.streams(tasks, [1, 2])


def test_acting_for_the_running_tasks_only_changes_no_bit(tasks, monkeypatch):
    """Once a task's episodes have all ended the sampler acts for the others alone
    (RunningTasksActor with the actor's on_tasks): the episodes are bit for bit those of
    acting for every task at every step (an actor without on_tasks)."""
    from awake_tutorial.rl import samplers
    from awake_tutorial.rl.fast.rollout import RolloutPolicy

    policy = GaussianMLPPolicy(seed=3)
    params = per_task_params(policy, len(tasks))
    sampler = MultiTaskSampler(5, AwakeSteeringVectorEnv.factory(max_steps=60))
    subsets = []
    on_tasks = RolloutPolicy.on_tasks
    monkeypatch.setattr(RolloutPolicy, "on_tasks", lambda self, index: subsets.append(index) or on_tasks(self, index))
    streams = sampler.streams(tasks, [7, 8, 9, 10])
    skipping = [streams.sample(policy, params) for _ in range(2)]  # two rounds: the streams continue alike
    assert subsets and all(0 < len(index) < len(tasks) for index in subsets)  # the subset path ran
    actor = samplers.rollout_policy
    monkeypatch.setattr(samplers, "rollout_policy", lambda *args: (lambda obs, noise: actor(*args)(obs, noise)))
    streams = sampler.streams(tasks, [7, 8, 9, 10])
    every = [streams.sample(policy, params) for _ in range(2)]
    for a, b in zip(skipping, every):
        for field in ("observations", "actions", "rewards", "mask", "success"):
            assert torch.equal(getattr(a, field), getattr(b, field)), field


def test_action_noise_drawn_in_pieces_is_the_block_by_block_stream():
    """ActionNoise draws several blocks per generator call; the numbers are those of one call
    per NOISE_BLOCK steps, each round starting at a fresh block (the leftover steps skipped)."""
    from awake_tutorial.rl.samplers import NOISE_BLOCK, ActionNoise

    def block_by_block(rngs, B, A):  # the stream's definition: one call per block, per task
        while True:
            block = np.stack([rng.standard_normal((NOISE_BLOCK, B, A), dtype=np.float32) for rng in rngs])
            yield from (block[:, t] for t in range(NOISE_BLOCK))

    rounds = (3, 9, 1, 4, 17, 70, 2)  # steps per sampling round
    pieces = ActionNoise([np.random.default_rng(s) for s in (1, 2, 3)], 5, 10)
    reference = [np.random.default_rng(s) for s in (1, 2, 3)]
    for steps in rounds:
        got, expected = pieces.round(), block_by_block(reference, 5, 10)
        for _ in range(steps):
            assert np.array_equal(next(got), next(expected))
