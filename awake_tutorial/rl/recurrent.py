"""GaussianGRUPolicy: a black-box meta-policy (RL², Duan et al. 2016; Wang et al. 2016).

The gradient-based meta-policy (:mod:`awake_tutorial.rl.policies`) adapts by spending
machine steps on REINFORCE batches. This one adapts inside its hidden state while the
episode runs, at 0 machine steps: at step t it sees

    x_t = [s_t, s_t - s_{t-1}, a_{t-1}]        (30 numbers; s_{-1} = s_0, a_{-1} = 0)

the reading, the change of readings its last action caused and that action (as the
machine applied it, rescaled to max|a| <= 1), so the pair (a_{t-1}, s_t - s_{t-1}) is
one column-mix of the unknown response matrix, the information a secant (Broyden)
controller uses. A GRU carries what it learned over the steps of one episode:

    e_t = tanh(W_in x_t + b_in),   h_t = GRU(e_t, h_{t-1}),   mu_t = W_out h_t + b_out,
    pi(a_t | x_0..x_t) = Normal(mu_t, diag(sigma^2)),  sigma learnable, state-independent.

Shapes: features (N, T, 30) for N episodes of T steps (:meth:`sequence_means`), or
(n, 30) with a hidden state (1, n, H) for one step (:meth:`step`). Units as the env:
readings 1.0 = 10 mm, actions 1.0 = 1e-4 rad. The hidden state starts at 0 each episode.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from awake_tutorial.rl.policies import ACTION_DIM, OBS_DIM

FEATURES = 2 * OBS_DIM + ACTION_DIM  # reading, change of reading, previous action


def applied(actions: np.ndarray) -> np.ndarray:
    """The action as the machine applies it: an action vector with max|a| > 1 divided by
    max|a| (the env's rule, ``awake_tutorial.envs.dynamics.rescale``; rl imports no env)."""
    actions = np.asarray(actions, dtype=np.float64)
    return actions / np.maximum(np.abs(actions).max(axis=-1, keepdims=True), 1.0)


def features(observations: np.ndarray, actions: np.ndarray) -> torch.Tensor:
    """The inputs x_t of whole episodes: observations (T, n, 10) and the actions taken from
    them (T, n, 10) -> (n, T, 30) float32 (episode-major, as :meth:`GaussianGRUPolicy.sequence_means`)."""
    obs = np.asarray(observations, dtype=np.float32)
    applied_actions = applied(actions).astype(np.float32)
    previous_obs = np.concatenate([obs[:1], obs[:-1]], axis=0)
    previous_action = np.concatenate([np.zeros_like(applied_actions[:1]), applied_actions[:-1]], axis=0)
    x = np.concatenate([obs, obs - previous_obs, previous_action], axis=-1)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2)))


class GaussianGRUPolicy(nn.Module):
    """Gaussian policy whose mean comes from a GRU over the episode so far.

    Args:
        hidden_size: width of the input layer and of the GRU state H.
        init_std: initial action std (action units).
        seed: initialises the weights from this seed (the global torch RNG is left alone).
    """

    def __init__(self, hidden_size: int = 64, init_std: float = 0.5, seed: int | None = None):
        super().__init__()
        if not init_std > 0:
            raise ValueError(f"init_std must be > 0 (action units), got {init_std!r}.")
        self.hidden_size = int(hidden_size)
        self.obs_dim, self.action_dim = OBS_DIM, ACTION_DIM  # as the Gaussian MLP policy (the sampler reads them)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(int(seed))
            self.encoder = nn.Linear(FEATURES, self.hidden_size)
            self.gru = nn.GRU(self.hidden_size, self.hidden_size, batch_first=True)
            self.head = nn.Linear(self.hidden_size, ACTION_DIM)
        with torch.no_grad():  # a small first action: the untrained policy does not crash the beam
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
        self.log_std = nn.Parameter(torch.full((ACTION_DIM,), math.log(init_std)))

    def architecture(self) -> dict:
        """What rebuilds this policy (:meth:`from_architecture`): a policy file records it."""
        return {"hidden_size": self.hidden_size}

    @classmethod
    def from_architecture(cls, architecture: Mapping) -> "GaussianGRUPolicy":
        return cls(**architecture, seed=0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Mean actions (N, T, 10), as :meth:`sequence_means` (also under functional_call)."""
        return self.sequence_means(x, lengths)

    def sequence_means(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Mean actions (N, T, 10) of N episodes' inputs (N, T, 30), hidden state from 0.

        ``lengths`` (N,): steps that ran per episode; the GRU then skips the padding after
        them (same means on the steps that ran, ~2x faster for short episodes; 0 after).
        """
        encoded = torch.tanh(self.encoder(x))
        if lengths is None:
            return self.head(self.gru(encoded)[0])
        packed = pack_padded_sequence(encoded, lengths.cpu().long().clamp(min=1), batch_first=True,
                                      enforce_sorted=False)
        out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=x.shape[1])
        return self.head(out)

    def distribution(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Normal:
        """pi(. | x_0..x_t) for every step of N episodes: batch shape (N, T, 10)."""
        mean = self.sequence_means(x, lengths)
        return Normal(mean, self.log_std.exp().expand_as(mean), validate_args=False)

    def step(self, x: torch.Tensor, hidden: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for n episodes: inputs (n, 30), hidden (1, n, H) or None (start) ->
        (mean action (n, 10), new hidden)."""
        out, hidden = self.gru(torch.tanh(self.encoder(x)).unsqueeze(1), hidden)
        return self.head(out[:, 0]), hidden

    def params(self) -> dict[str, torch.Tensor]:
        """The module's own parameters as a dict (the tensors themselves)."""
        return dict(self.named_parameters())

    def rollout_actor(self, params, engine):
        """What the sampler acts with: (obs (K, B, 10), noise (K, B, 10)) -> sampled actions (K, B, 10),
        each row keeping its hidden state. A recurrent policy adapts in its hidden state, not in its
        weights: ``params`` are its own (stacked per task) and the engine's fast actor does not apply."""
        actor = RecurrentActor(self)

        def act(obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
            K, B = obs.shape[:2]
            return actor.act(obs.reshape(K * B, -1), noise.reshape(K * B, -1)).reshape(K, B, -1)
        return act

    def actor(self, deterministic: bool = True, seed: int | None = None) -> "RecurrentActor":
        """The policy as :func:`awake_tutorial.envs.evaluate` runs it (``act`` and ``reset``)."""
        return RecurrentActor(self, deterministic, seed)

    def as_numpy_policy(self, deterministic: bool = True, seed: int | None = None) -> "RecurrentActor":
        """Same as :meth:`actor` (the name the Gaussian MLP policy uses)."""
        return self.actor(deterministic, seed)


class RecurrentActor:
    """Runs a :class:`GaussianGRUPolicy` step by step on a batch of episodes that start
    together (one vector env's ``run_episodes``): ``act(obs (n, 10)) -> actions (n, 10)``
    keeps each row's hidden state, last reading and last applied action; ``reset()``
    forgets them (a new batch of episodes). Rows of ended episodes are computed and ignored.
    """

    def __init__(self, policy: GaussianGRUPolicy, deterministic: bool = True, seed: int | None = None):
        self.policy, self.deterministic = policy, deterministic
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.reset()

    def reset(self) -> None:
        self.hidden, self.previous_obs, self.previous_action = None, None, None

    def act(self, obs, noise=None) -> np.ndarray:
        """Actions (n, 10) for readings (n, 10): the mean, or mean + std * noise (``noise`` (n, 10)
        standard normal, e.g. the sampler's; None: drawn here unless deterministic)."""
        obs = np.asarray(obs, dtype=np.float32)
        if self.hidden is None or self.hidden.shape[1] != len(obs):  # the first step of the episodes
            self.hidden, self.previous_obs = None, obs
            self.previous_action = np.zeros((len(obs), ACTION_DIM), dtype=np.float32)
        x = torch.from_numpy(np.concatenate([obs, obs - self.previous_obs, self.previous_action], axis=-1))
        with torch.no_grad():
            mean, self.hidden = self.policy.step(x, self.hidden)
            if noise is not None:
                action = mean + self.policy.log_std.exp() * torch.as_tensor(noise, dtype=mean.dtype)
            else:
                action = mean if self.deterministic else (
                    mean + self.policy.log_std.exp() * torch.randn(mean.shape, generator=self.generator))
        action = action.numpy()
        self.previous_obs = obs
        self.previous_action = applied(action).astype(np.float32)
        return action

    __call__ = act
