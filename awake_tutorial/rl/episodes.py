"""Batches of episodes and the quantities computed from them: returns, GAE advantages.

Episodes of different lengths are stored padded to the longest one, with a mask:

    observations (..., T, B, obs_dim)   s_t        (zero after the end)
    actions      (..., T, B, act_dim)   a_t ~ pi(. | s_t)
    rewards      (..., T, B)            r_t        (zero after the end)
    mask         (..., T, B)            1.0 while the episode runs, 0.0 after

T = time steps, B = episodes of one task; the optional leading dims (usually K, one per
task of a meta-batch) let every function below treat all tasks at once.

Averages follow pytorch-maml-rl: first over the steps of each episode, then over the
episodes; :attr:`BatchEpisodes.weights` holds the matching per-step weights
(``mask / (B * length)``, summing to 1 per task).

Padding costs compute: one 100-step episode pads every other episode of the batch to 100
steps. :meth:`BatchEpisodes.pack` gathers just the steps that ran, (..., T, B, ...) ->
(..., N, ...) with N = most steps of any task, which is what the policy is evaluated on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

TIME_AXIS = -2  # of (..., T, B) tensors


def discount_matrix(T: int, factor: float, dtype=torch.float32) -> torch.Tensor:
    """(T, T) matrix M with M[t, u] = factor ** (u - t) for u >= t, else 0.

    ``M @ x`` is the discounted sum from each step to the end, for all steps in one matmul.
    """
    t = torch.arange(T, dtype=torch.float64)
    exponent = t.unsqueeze(0) - t.unsqueeze(1)  # u - t
    powers = torch.where(exponent >= 0, float(factor) ** exponent.clamp(min=0), 0.0)
    return powers.to(dtype)


def discounted_cumsum(x: torch.Tensor, factor: float) -> torch.Tensor:
    """y_t = sum_{u >= t} factor^(u - t) x_u along the time axis of x (..., T, B)."""
    return discount_matrix(x.shape[TIME_AXIS], factor, x.dtype) @ x


def generalized_advantages(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                           gamma: float, gae_lambda: float) -> torch.Tensor:
    """GAE(gamma, lambda) advantages (..., T, B).

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t), A_t = sum_u (gamma lambda)^(u-t) delta_u.
    After the last step of an episode V = 0 (ended, or cut by the time limit as in
    pytorch-maml-rl; the time features of the baseline absorb the difference).
    """
    values = values * mask
    next_values = torch.cat([values[..., 1:, :], torch.zeros_like(values[..., :1, :])], dim=TIME_AXIS)
    deltas = (rewards + gamma * next_values - values) * mask
    return discounted_cumsum(deltas, gamma * gae_lambda) * mask


def weighted_mean(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum over (T, B) of weights * x: x, weights (..., T, B) -> (...)."""
    return (x * weights).sum(dim=(-2, -1))


def weighted_normalize(x: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor,
                       eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std per task with the weighted mean and std; zero after episode ends."""
    mean = weighted_mean(x, weights)[..., None, None]
    centred = (x - mean) * mask
    std = weighted_mean(centred**2, weights).sqrt()[..., None, None]
    return centred / (std + eps)


@dataclass
class PackedSteps:
    """The steps that ran, packed (see :meth:`BatchEpisodes.packed`): shapes (..., N, ...)."""

    observations: torch.Tensor
    actions: torch.Tensor
    advantages: torch.Tensor | None
    weights: torch.Tensor

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """Weighted mean of per-step values x (..., N) -> (...), as :func:`weighted_mean`."""
        return (x * self.weights).sum(dim=-1)

    def subsample(self, max_steps: int) -> "PackedSteps":
        """At most ``max_steps`` steps per task, evenly spaced over the steps that ran.

        Weights are rescaled so that each task's total is unchanged. Deterministic (no RNG).
        """
        n = self.weights.shape[-1]
        if max_steps <= 0 or n <= max_steps:
            return self
        count = (self.weights > 0).sum(dim=-1, keepdim=True)  # steps that ran, per task
        stride = (count.float() / max_steps).clamp(min=1.0)
        index = (torch.arange(max_steps).float() * stride).long().clamp(max=n - 1)  # (..., max_steps)
        weights = self.weights.gather(-1, index)
        weights = weights * (self.weights.sum(-1, keepdim=True) / weights.sum(-1, keepdim=True).clamp(min=1e-30))

        def pick(x):
            if x is None:
                return None
            return x.gather(-2, index.unsqueeze(-1).expand(*index.shape, x.shape[-1]))

        advantages = None if self.advantages is None else self.advantages.gather(-1, index)
        return PackedSteps(pick(self.observations), pick(self.actions), advantages, weights)


@dataclass
class BatchEpisodes:
    """Padded episodes of one or more tasks; see the module docstring for the shapes.

    ``success`` (..., B) bool says which episodes reached the 1 mm goal.
    ``advantages`` is filled by :meth:`compute_advantages`.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    success: torch.Tensor
    advantages: torch.Tensor | None = None
    _pack_index: torch.Tensor | None = field(default=None, repr=False, compare=False)
    _packed: tuple | None = field(default=None, repr=False, compare=False)  # (advantages, PackedSteps)

    @property
    def num_steps(self) -> int:
        """T, the padded length."""
        return self.rewards.shape[TIME_AXIS]

    @property
    def lengths(self) -> torch.Tensor:
        """Steps of every episode (..., B), float."""
        return self.mask.sum(dim=TIME_AXIS)

    @property
    def weights(self) -> torch.Tensor:
        """Per-step weights (..., T, B): mean over each episode, then over the B episodes."""
        per_episode = self.mask / self.lengths.clamp(min=1).unsqueeze(TIME_AXIS)
        return per_episode / self.mask.shape[-1]

    @property
    def episode_returns(self) -> torch.Tensor:
        """Undiscounted return of every episode (..., B)."""
        return self.rewards.sum(dim=TIME_AXIS)

    def returns(self, gamma: float) -> torch.Tensor:
        """Discounted reward-to-go R_t = sum_{u >= t} gamma^(u-t) r_u, (..., T, B)."""
        return discounted_cumsum(self.rewards, gamma) * self.mask

    def compute_advantages(self, values: torch.Tensor, gamma: float, gae_lambda: float,
                           normalize: bool = True) -> torch.Tensor:
        """GAE advantages from baseline ``values`` (..., T, B); stored and returned."""
        advantages = generalized_advantages(self.rewards, values, self.mask, gamma, gae_lambda)
        if normalize:
            advantages = weighted_normalize(advantages, self.weights, self.mask)
        self.advantages = advantages
        return advantages

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """Steps that ran, (..., T, B, *rest) -> (..., N, *rest), in (t, b) order.

        N = the largest number of steps of any task; tasks with fewer are filled with
        steps after an episode's end (zero mask and weight, so they count for nothing).
        """
        lead = self.mask.shape[:-2]
        T, B = self.mask.shape[-2:]
        if self._pack_index is None:
            running = self.mask.reshape(-1, T * B) > 0
            n = int(running.sum(dim=1).max())
            # stable sort puts the running steps first, in their original order
            self._pack_index = torch.argsort((~running).to(torch.int8), dim=1, stable=True)[:, :n]
        index = self._pack_index
        rest = x.shape[len(lead) + 2:]
        flat = x.reshape(-1, T * B, *rest)
        index = index.view(*index.shape, *([1] * len(rest))).expand(*index.shape, *rest)
        return flat.gather(1, index).view(*lead, index.shape[1], *rest)

    def packed(self) -> PackedSteps:
        """Observations, actions, advantages and weights of the steps that ran (cached)."""
        if self._packed is None or self._packed[0] is not self.advantages:
            steps = PackedSteps(self.pack(self.observations), self.pack(self.actions),
                                None if self.advantages is None else self.pack(self.advantages),
                                self.pack(self.weights))
            self._packed = (self.advantages, steps)
        return self._packed[1]

    def task(self, k: int) -> "BatchEpisodes":
        """The episodes of task k (drops the leading task dim)."""
        pick = (lambda x: None if x is None else x[k])
        return BatchEpisodes(*(pick(getattr(self, f)) for f in
                               ("observations", "actions", "rewards", "mask", "success", "advantages")))

    def summary(self) -> dict[str, torch.Tensor]:
        """Per-task means (...): "return", "length", "success" (fraction of episodes)."""
        return {
            "return": self.episode_returns.mean(dim=-1),
            "length": self.lengths.mean(dim=-1),
            "success": self.success.float().mean(dim=-1),
        }


WEIGHTINGS = ("mean", "sum")  # how the REINFORCE estimator weighs the steps (metalearners.reinforce)


def step_weights(episodes: BatchEpisodes, weighting: str = "mean") -> torch.Tensor:
    """Weights (..., N) of the packed steps in the REINFORCE loss's E_t: "mean" over each
    episode's steps then over the episodes (:attr:`PackedSteps.weights`), or "sum" over each
    episode's steps and mean over the episodes (see ``metalearners.reinforce``)."""
    weights = episodes.packed().weights  # mean over each episode, then over the episodes
    if weighting == "mean":
        return weights
    if weighting == "sum":
        return (weights > 0).to(weights.dtype) / episodes.mask.shape[-1]
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}.")
