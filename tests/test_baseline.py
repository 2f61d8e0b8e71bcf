"""LinearFeatureBaseline: a correct ridge fit (lstsq arguments the right way round)."""

import numpy as np
import torch

from awake_tutorial.rl.baseline import LinearFeatureBaseline, ridge_regression
from awake_tutorial.rl.episodes import BatchEpisodes


def test_ridge_regression_matches_numpy_lstsq():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 6)), rng.normal(size=50)
    reg = 0.3
    # ridge = least squares on [X; sqrt(reg) I] c = [y; 0]
    X_aug = np.vstack([X, np.sqrt(reg) * np.eye(6)])
    y_aug = np.concatenate([y, np.zeros(6)])
    expected = np.linalg.lstsq(X_aug, y_aug, rcond=None)[0]
    got = ridge_regression(torch.tensor(X), torch.tensor(y), reg)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    plain = ridge_regression(torch.tensor(X), torch.tensor(y), 0.0)
    np.testing.assert_allclose(plain.numpy(), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-9)


def test_batched_fit_equals_separate_fits_and_ignores_zero_rows():
    rng = np.random.default_rng(1)
    X, y = torch.tensor(rng.normal(size=(3, 40, 5))), torch.tensor(rng.normal(size=(3, 40)))
    X[1, 30:] = 0  # padding rows count for nothing
    batched = ridge_regression(X, y, 1e-5)
    for k in range(3):
        rows = 30 if k == 1 else 40
        assert torch.allclose(batched[k], ridge_regression(X[k, :rows], y[k, :rows], 1e-5))


def test_singular_system_is_regularised_not_fatal():
    X = torch.zeros(10, 4)
    X[:, 0] = 1.0  # three all-zero columns: X^T X singular without ridge
    c = ridge_regression(X, torch.ones(10), 0.0)
    assert torch.isfinite(c).all() and abs(c[0].item() - 1.0) < 1e-6


def synthetic_episodes(seed=0, K=2, T=30, B=8):
    """Steering-like episodes: readings shrink step by step; reward -10 * RMS."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(T // 2, T + 1, (K, B), generator=g)
    mask = (torch.arange(T).view(1, T, 1) < lengths.unsqueeze(1)).float()
    start = torch.rand(K, 1, B, 10, generator=g) * 2 - 1
    decay = 0.9 ** torch.arange(T, dtype=torch.float32).view(1, T, 1, 1)
    obs = start * decay * mask.unsqueeze(-1)
    rewards = -10 * obs.square().mean(-1).sqrt() * mask
    return BatchEpisodes(obs, torch.zeros_like(obs), rewards, mask, torch.zeros(K, B, dtype=torch.bool))


def test_fit_beats_a_constant_predictor():
    ep = synthetic_episodes()
    baseline = LinearFeatureBaseline().fit(ep, gamma=1.0)
    values = baseline.predict(ep)
    returns = ep.returns(1.0)
    running = ep.mask > 0
    residual = ((values - returns)[running]).square().mean()
    constant = (returns[running] - returns[running].mean()).square().mean()
    assert residual < 0.05 * constant
    assert torch.all(values[~running] == 0)
    assert baseline.weights.shape == (2, 24)


def test_features_layout():
    ep = synthetic_episodes(K=1, T=4, B=2)
    f = LinearFeatureBaseline().features(ep)
    assert f.shape == (1, 4, 2, 24)
    t = 2
    row = f[0, t, 0]
    obs = ep.observations[0, t, 0]
    assert torch.allclose(row[:10], obs) and torch.allclose(row[10:20], obs**2)
    assert torch.allclose(row[20:], torch.tensor([0.02, 0.02**2, 0.02**3, 1.0]))


def test_predict_on_the_fitted_episodes_reuses_their_features_bit_for_bit():
    """fit keeps the features of its episodes; predict on those same episodes reuses them
    (the inner loop fits and predicts on each batch), on others it computes theirs."""
    import dataclasses

    ep, other = synthetic_episodes(seed=2), synthetic_episodes(seed=3)
    baseline = LinearFeatureBaseline().fit(ep, gamma=1.0)
    reused = baseline.predict(ep)
    fresh = baseline.predict(dataclasses.replace(ep))  # equal episodes, another object: features computed anew
    assert torch.equal(reused, fresh)
    expected = (baseline.features(other).double() @ baseline.weights[..., None, :, None]).squeeze(-1).float()
    assert torch.equal(baseline.predict(other), expected)  # not the fitted episodes' features
