"""The one single-env episode loop (awake_tutorial/episode_loop.py) and its two callers."""

import numpy as np
import pytest
import torch

from awake_tutorial.controllers import InverseResponsePolicy
from awake_tutorial.envs import AwakeSteeringEnv, evaluate, evaluate_on_env
from awake_tutorial.episode_loop import MAX_RESTARTS, run_episode
from awake_tutorial.physics.tasks import get_evaluation_task
from awake_tutorial.rl.env_sampler import EnvSampler
from awake_tutorial.rl.policies import GaussianMLPPolicy


class StartsAtWall(AwakeSteeringEnv):
    """An env whose first ``walls`` resets report a start that lost the beam (a drifted machine)."""

    def __init__(self, task, walls: int, **kwargs):
        super().__init__(task, **kwargs)
        self.walls, self.resets = walls, 0

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.resets += 1
        return obs, {**info, "wall": self.resets <= self.walls}


def test_the_loop_records_what_the_env_did_and_stops_at_the_end():
    task = get_evaluation_task(0)
    env = AwakeSteeringEnv(task, max_steps=7)
    seen = []
    episode = run_episode(env, lambda t, obs: np.zeros(10), seed=3, on_step=lambda o, r, i: seen.append(r))
    assert episode.length == 7 and not episode.success  # zero kicks never reach 1 mm from a drawn start
    assert episode.observations.shape == (7, 10) and episode.actions.shape == (7, 10)
    assert np.array_equal(episode.rewards, seen)
    first, _ = AwakeSteeringEnv(task, max_steps=7).reset(seed=3)
    assert np.array_equal(episode.observations[0], first)


def test_a_start_at_the_wall_is_drawn_again_without_costing_a_step():
    task = get_evaluation_task(0)
    env = StartsAtWall(task, walls=2, max_steps=5)
    episode = run_episode(env, lambda t, obs: np.zeros(10), seed=0)
    assert env.resets == 3 and episode.length == 5


def test_a_machine_that_keeps_losing_the_beam_stops_with_advice():
    env = StartsAtWall(get_evaluation_task(0), walls=MAX_RESTARTS + 1, max_steps=5)
    with pytest.raises(RuntimeError, match="re-centre"):
        run_episode(env, lambda t, obs: np.zeros(10), seed=0)


def test_evaluate_on_env_scores_as_the_vector_evaluation_does():
    task = get_evaluation_task(1)
    controller = InverseResponsePolicy(task)
    one_by_one = evaluate_on_env(AwakeSteeringEnv(task), controller.act, episodes=5, seed=11)
    at_once = evaluate(controller, [task], episodes=5, seed=11)[0]
    assert one_by_one["lengths"] == at_once["lengths"]
    assert one_by_one["successes"] == at_once["successes"]
    assert one_by_one["steps"] == sum(at_once["lengths"])


def test_the_sampler_counts_steps_and_episodes_of_the_loop():
    task = get_evaluation_task(2)
    sampler = EnvSampler(AwakeSteeringEnv(task, max_steps=12), episodes_per_task=4)
    episodes = sampler.sample(GaussianMLPPolicy(seed=0), [task], [5])
    assert sampler.episodes == 4
    assert sampler.steps == int(episodes.mask.sum())
    assert episodes.observations.shape[:3] == (1, int(episodes.mask.sum(1).max()), 4)
    lengths = episodes.mask.sum(1)[0]  # (B,): each episode's steps, padded to the longest after
    assert torch.all(lengths <= 12) and torch.all(episodes.mask[0, :int(lengths.min())] == 1)
