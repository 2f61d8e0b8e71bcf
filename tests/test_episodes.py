"""Episodes: returns, GAE, masked weights and normalization, packing."""

import numpy as np
import pytest
import torch

from awake_tutorial.rl.episodes import (
    BatchEpisodes,
    discounted_cumsum,
    generalized_advantages,
    weighted_mean,
    weighted_normalize,
)


def random_episodes(K=3, T=7, B=5, seed=0) -> BatchEpisodes:
    """Episodes with random lengths 1..T (mask = 1 for the first `length` steps)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (K, B), generator=g)
    mask = (torch.arange(T).view(1, T, 1) < lengths.unsqueeze(1)).float()
    return BatchEpisodes(
        observations=torch.randn(K, T, B, 10, generator=g) * mask.unsqueeze(-1),
        actions=torch.randn(K, T, B, 10, generator=g) * mask.unsqueeze(-1),
        rewards=-torch.rand(K, T, B, generator=g) * 10 * mask,
        mask=mask,
        success=torch.rand(K, B, generator=g) > 0.5,
    )


def gae_loop(rewards, values, lengths, gamma, lam):
    """Textbook backward recursion for one episode (reference implementation)."""
    adv, gae = np.zeros(lengths), 0.0
    for t in reversed(range(lengths)):
        next_value = values[t + 1] if t + 1 < lengths else 0.0
        gae = rewards[t] + gamma * next_value - values[t] + gamma * lam * gae
        adv[t] = gae
    return adv


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.99), (0.9, 0.5), (0.99, 1.0), (1.0, 0.0)])
def test_gae_and_returns_match_loops(gamma, lam):
    ep = random_episodes()
    values = torch.randn_like(ep.rewards)
    adv = generalized_advantages(ep.rewards, values, ep.mask, gamma, lam)
    returns = ep.returns(gamma)
    K, T, B = ep.rewards.shape
    for k in range(K):
        for b in range(B):
            n = int(ep.lengths[k, b])
            r, v = ep.rewards[k, :n, b].double().numpy(), values[k, :n, b].double().numpy()
            np.testing.assert_allclose(adv[k, :n, b].numpy(), gae_loop(r, v, n, gamma, lam), rtol=1e-5, atol=1e-4)
            expected_returns = [sum(gamma ** (u - t) * r[u] for u in range(t, n)) for t in range(n)]
            np.testing.assert_allclose(returns[k, :n, b].numpy(), expected_returns, rtol=1e-5, atol=1e-4)
            assert torch.all(adv[k, n:, b] == 0) and torch.all(returns[k, n:, b] == 0)


def test_discounted_cumsum_single_task_layout():
    x = torch.tensor([[1.0], [2.0], [3.0]])  # (T=3, B=1)
    assert torch.allclose(discounted_cumsum(x, 0.5), torch.tensor([[1 + 1 + 0.75], [2 + 1.5], [3.0]]))


def test_weights_are_per_episode_means():
    ep = random_episodes()
    w = ep.weights
    assert torch.allclose(w.sum(dim=(-2, -1)), torch.ones(3))
    assert torch.all(w[ep.mask == 0] == 0)
    x = torch.randn_like(ep.rewards)
    per_episode = (x * ep.mask).sum(1) / ep.lengths  # (K, B)
    assert torch.allclose(weighted_mean(x, w), per_episode.mean(-1), atol=1e-6)


def test_normalized_advantages():
    ep = random_episodes()
    adv = ep.compute_advantages(torch.zeros_like(ep.rewards), 1.0, 0.99, normalize=True)
    w = ep.weights
    assert torch.allclose(weighted_mean(adv, w), torch.zeros(3), atol=1e-5)
    assert torch.allclose(weighted_mean(adv**2, w), torch.ones(3), atol=1e-4)
    assert torch.all(adv[ep.mask == 0] == 0)
    constant = weighted_normalize(torch.ones_like(ep.rewards), w, ep.mask)  # no spread: no NaN
    assert torch.isfinite(constant).all()


def test_pack_keeps_exactly_the_steps_that_ran():
    ep = random_episodes()
    ep.compute_advantages(torch.zeros_like(ep.rewards), 1.0, 0.99)
    steps = ep.packed()
    n = int(ep.mask.sum(dim=(1, 2)).max())
    assert steps.observations.shape == (3, n, 10) and steps.weights.shape == (3, n)
    for k in range(3):
        running = ep.mask[k].reshape(-1) > 0
        count = int(running.sum())
        assert torch.equal(steps.observations[k, :count], ep.observations[k].reshape(-1, 10)[running])
        assert torch.all(steps.weights[k, count:] == 0)
    x = torch.randn_like(ep.rewards)
    assert torch.allclose(steps.mean(ep.pack(x)), weighted_mean(x, ep.weights), atol=1e-6)
    single = ep.task(1)  # one task, (T, B) layout
    assert torch.allclose(single.packed().mean(single.pack(x[1])), weighted_mean(x[1], single.weights), atol=1e-6)


def test_summary():
    ep = random_episodes()
    s = ep.summary()
    assert torch.allclose(s["return"], ep.rewards.sum(1).mean(-1))
    assert torch.allclose(s["length"], ep.mask.sum(1).mean(-1))
    assert torch.allclose(s["success"], ep.success.float().mean(-1))


def test_subsample_keeps_task_weights_and_spreads_evenly():
    ep = random_episodes(K=3, T=20, B=6)
    ep.compute_advantages(torch.zeros_like(ep.rewards), 1.0, 0.99)
    steps = ep.packed()
    assert steps.subsample(0) is steps and steps.subsample(10_000) is steps
    small = steps.subsample(8)
    assert small.observations.shape == (3, 8, 10) and small.advantages.shape == (3, 8)
    assert torch.allclose(small.weights.sum(-1), steps.weights.sum(-1))
    for k in range(3):
        count = int((steps.weights[k] > 0).sum())
        picked = [int(i * max(count / 8, 1.0)) for i in range(8)]
        assert torch.equal(small.observations[k], steps.observations[k, picked])
