"""Inner loop: REINFORCE loss, per-task gradients, one step improves a task."""

import torch

from awake_tutorial.config import Config
from awake_tutorial.rl.episodes import BatchEpisodes
import pytest

from awake_tutorial.rl.fast.gradients import reinforce_gradient
from awake_tutorial.rl.metalearners.reinforce import inner_loop, inner_loss, inner_step, policy_gradient
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.envs import AwakeSteeringVectorEnv
from awake_tutorial.rl.samplers import MultiTaskSampler
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.rl.baseline import add_advantages


def synthetic_episodes(K=2, T=5, B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (K, B), generator=g)
    mask = (torch.arange(T).view(1, T, 1) < lengths.unsqueeze(1)).float()
    ep = BatchEpisodes(torch.randn(K, T, B, 10, generator=g) * mask.unsqueeze(-1),
                       torch.randn(K, T, B, 10, generator=g) * mask.unsqueeze(-1),
                       -torch.rand(K, T, B, generator=g) * mask, mask, torch.zeros(K, B, dtype=torch.bool))
    ep.advantages = torch.randn(K, T, B, generator=g) * mask
    return ep


@pytest.mark.parametrize("weighting", ["mean", "sum"])
def test_inner_loss_is_the_weighted_reinforce_objective(weighting):
    policy = GaussianMLPPolicy(seed=0)
    ep = synthetic_episodes()
    params = stack_params(policy.params(), 2)
    loss = inner_loss(policy, ep, params, weighting)
    log_probs = policy.distribution(ep.observations, params).log_prob(ep.actions).sum(-1)
    per_episode = (log_probs * ep.advantages * ep.mask).sum(1)  # (K, B): the textbook sum over steps
    if weighting == "mean":  # the reference: mean over each episode's steps
        per_episode = per_episode / ep.lengths
    assert loss.shape == (2,)
    assert torch.allclose(loss, -per_episode.mean(-1), atol=1e-5)


@pytest.mark.parametrize("nonlinearity, weighting", [("tanh", "mean"), ("relu", "mean"), ("tanh", "sum")])
def test_hand_written_gradient_equals_autograd(nonlinearity, weighting):
    policy = GaussianMLPPolicy(nonlinearity=nonlinearity, seed=0)
    ep = synthetic_episodes(K=3)
    g = torch.Generator().manual_seed(1)
    params = {n: (p.detach().clone() + 0.1 * torch.randn(p.shape, generator=g)).requires_grad_()
              for n, p in stack_params(policy.params(), 3).items()}  # a different policy per task
    expected = torch.autograd.grad(inner_loss(policy, ep, params, weighting).sum(), list(params.values()))
    got = reinforce_gradient(policy, ep, params, weighting)
    assert list(got) == list(params)
    for (name, value), want in zip(got.items(), expected):
        assert value.shape == want.shape and not value.requires_grad
        assert torch.allclose(value, want, rtol=1e-4, atol=1e-6), name
    textbook = policy_gradient(policy, ep, params, weighting)  # what the textbook path steps with
    for (name, value), want in zip(textbook.items(), expected):
        assert torch.allclose(value, want, rtol=1e-6, atol=1e-8) and not value.requires_grad, name
    single = reinforce_gradient(policy, ep.task(1), {n: p[1] for n, p in params.items()}, weighting)
    for name in got:
        assert torch.allclose(single[name], got[name][1], atol=1e-6), name


def test_stacked_step_equals_one_step_per_task():
    policy = GaussianMLPPolicy(seed=0)
    ep = synthetic_episodes()
    stacked = inner_step(policy, ep, stack_params(policy.params(), 2), fast_lr=0.1)
    for k in range(2):
        single = inner_step(policy, ep.task(k), policy.params(), fast_lr=0.1)
        for name in single:
            assert torch.allclose(stacked[name][k], single[name], atol=1e-6), name


def test_first_order_step_has_identity_jacobian_second_order_does_not():
    policy = GaussianMLPPolicy(seed=0)
    ep = synthetic_episodes(K=1)
    theta = policy.params()
    probe = torch.randn(1, 64, 10)
    for first_order in (True, False):
        adapted = inner_loop(policy, [ep, ep], stack_params(theta, 1), fast_lr=0.5, first_order=first_order)
        (grad,) = torch.autograd.grad((adapted["layers.0.weight"] * probe).sum(), [theta["layers.0.weight"]])
        assert torch.allclose(grad, probe[0]) == first_order  # d theta'/d theta = I only for first order


def test_one_inner_step_raises_the_return_on_a_fixed_task():
    task = load_evaluation_tasks()[0]
    policy = GaussianMLPPolicy(seed=0)
    sampler = MultiTaskSampler(32, AwakeSteeringVectorEnv.factory(max_steps=100))
    params = {k: v.detach() for k, v in stack_params(policy.params(), 1).items()}
    episodes = add_advantages(sampler.sample(policy, [task], [0], params), Config())
    adapted = {k: v.detach() for k, v in inner_step(policy, episodes, params, fast_lr=0.01).items()}
    before = sampler.sample(policy, [task], [100], params).summary()["return"].item()
    after = sampler.sample(policy, [task], [100], adapted).summary()["return"].item()
    assert after > before + 50  # measured: about -395 -> -226
