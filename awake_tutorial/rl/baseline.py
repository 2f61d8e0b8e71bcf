"""LinearFeatureBaseline: a value estimate V(s_t) linear in hand-made features.

Features of step t (as pytorch-maml-rl): [s, s^2, t', t'^2, t'^3, 1] with t' = t / 100,
so 2 * obs_dim + 4 numbers. The weights solve the ridge-regularised least squares

    min_c  sum_steps (x_t . c - R_t)^2 + reg * |c|^2   <=>   (X^T X + reg I) c = X^T R,

fitted anew on every batch of episodes (one fit per task). The reference course called
``lstsq`` with its arguments swapped (it solved for the wrong matrix); the normal
equations are solved here by Cholesky in float64, raising ``reg`` tenfold if needed.
"""

from __future__ import annotations

import torch

from awake_tutorial.rl.episodes import BatchEpisodes

TIME_SCALE = 100.0  # t' = step index / 100
MAX_TRIES = 5  # regularisation escalations before giving up


def ridge_regression(features: torch.Tensor, targets: torch.Tensor, reg_coeff: float) -> torch.Tensor:
    """Solve (X^T X + reg I) c = X^T y for every leading index.

    Args:
        features: X (..., N, F); rows of padding must be zero (they then do not count).
        targets: y (..., N).
        reg_coeff: ridge coefficient, >= 0.
    Returns:
        c (..., F), float64.
    """
    X = features.double()
    y = targets.double().unsqueeze(-1)
    gram = X.transpose(-1, -2) @ X  # (..., F, F)
    rhs = X.transpose(-1, -2) @ y  # (..., F, 1)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
    reg = torch.full(gram.shape[:-2], float(reg_coeff), dtype=gram.dtype)
    for _ in range(MAX_TRIES):
        factor, info = torch.linalg.cholesky_ex(gram + reg[..., None, None] * eye)
        failed = info != 0
        if not failed.any():
            return torch.cholesky_solve(rhs, factor).squeeze(-1)
        # a singular system (e.g. all episodes identical): more ridge, for those tasks only
        reg = torch.where(failed, torch.where(reg > 0, reg * 10, 1e-8), reg)
    raise RuntimeError(
        f"baseline fit failed: X^T X + reg I is not positive definite even with reg={reg.max():.1e}. "
        "The features contain NaN/inf or are huge; check the observations."
    )


class LinearFeatureBaseline:
    """Linear value baseline, one weight vector per task.

    Args:
        obs_dim: observation size (10).
        reg_coeff: ridge coefficient of the fit.
    """

    def __init__(self, obs_dim: int = 10, reg_coeff: float = 1e-5):
        self.obs_dim = int(obs_dim)
        self.reg_coeff = float(reg_coeff)
        self.weights: torch.Tensor | None = None  # (..., F) after fit
        self._fitted = None  # (episodes, their features) of the last fit: predict on them reuses the features

    @property
    def feature_size(self) -> int:
        """F = 2 * obs_dim + 4."""
        return 2 * self.obs_dim + 4

    def features(self, episodes: BatchEpisodes) -> torch.Tensor:
        """(..., T, B, F) features, zero after each episode's end."""
        obs = episodes.observations
        mask = episodes.mask.unsqueeze(-1)
        T = episodes.num_steps
        t = (torch.arange(T, dtype=obs.dtype) / TIME_SCALE).view(T, 1, 1).expand(*mask.shape)
        ones = torch.ones_like(t)
        return torch.cat([obs, obs**2, t, t**2, t**3, ones], dim=-1) * mask

    def fit(self, episodes: BatchEpisodes, gamma: float) -> "LinearFeatureBaseline":
        """Fit the weights to the discounted returns of ``episodes`` (one fit per task)."""
        X = self.features(episodes).double()  # (exact: float32 -> float64) converted once for fit and predict
        self._fitted = (episodes, X)
        lead = X.shape[:-3]
        returns = episodes.returns(gamma)
        self.weights = ridge_regression(X.reshape(*lead, -1, X.shape[-1]),
                                        returns.reshape(*lead, -1), self.reg_coeff)
        return self

    def predict(self, episodes: BatchEpisodes) -> torch.Tensor:
        """V(s_t) for every step (..., T, B), zero after each episode's end."""
        if self.weights is None:
            raise RuntimeError("call fit(episodes, gamma) before predict().")
        X = self._fitted[1] if self._fitted is not None and self._fitted[0] is episodes else self.features(episodes)
        values = X.double() @ self.weights[..., None, :, None]  # (..., T, B, 1)
        return values.squeeze(-1).to(episodes.rewards.dtype)


def add_advantages(episodes: BatchEpisodes, settings) -> BatchEpisodes:
    """Fit a fresh linear baseline on ``episodes`` (per task) and attach normalized GAE
    advantages; ``settings``: anything with ``gamma`` and ``gae_lambda`` (a Config, a learner)."""
    baseline = LinearFeatureBaseline(episodes.observations.shape[-1]).fit(episodes, settings.gamma)
    episodes.compute_advantages(baseline.predict(episodes), settings.gamma, settings.gae_lambda)
    return episodes
