"""GaussianMLPPolicy: the policy that MAML meta-learns.

pi(a | s) = Normal(mu_theta(s), diag(sigma^2)): an MLP gives the mean action, a learnable
state-independent log-std gives the spread. The policy can run with *any* parameter
dict (``params=``, or equally through :func:`torch.func.functional_call`): the inner loop
computes adapted parameters ``theta' = theta - lr * grad`` as plain tensors and evaluates
the policy with them, so the outer loop can differentiate through the adaptation.

Parameters may also carry a leading *task* dimension K (one parameter set per task,
e.g. ``stack_params(params, K)``): then observations are (K, N, obs_dim) and every task
is evaluated with its own parameters in one batched matrix product.

Meta-SGD (Li et al. 2017) also learns the inner loop's step sizes: one per parameter
tensor, kept as the buffer ``log_step_sizes`` (in the order of :meth:`params`) so that they
are saved and loaded with the weights. A policy without it adapts with the config's
``fast_lr``.

Saving and loading: :mod:`awake_tutorial.runs.policy_files` (a ``state_dict`` only, read with
``torch.load(weights_only=True)``); this layer writes no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

OBS_DIM = 10  # BPM readings
ACTION_DIM = 10  # corrector changes
STEP_SIZES = "log_step_sizes"  # the buffer of Meta-SGD's learned log step sizes

Params = dict[str, torch.Tensor]  # parameter tensors by name (the one definition)


@dataclass(frozen=True)
class Nonlinearity:
    """One hidden-layer nonlinearity f, in the forms the course uses: ``torch`` (the policy's
    forward pass), ``numpy`` (the fast path's action sampler) and ``slope``, f' written in
    terms of the output y = f(x) (the fast path's hand-written backprop)."""

    torch: Callable[[torch.Tensor], torch.Tensor]
    numpy: Callable[[np.ndarray], np.ndarray]
    slope: Callable[[torch.Tensor], torch.Tensor]  # tanh: 1 - y^2 (one fused op: half the time of 1 - y * y)


# the config key ``nonlinearity`` names one of these (config.NONLINEARITY_NAMES, tested equal)
NONLINEARITIES = {
    "tanh": Nonlinearity(torch.tanh, np.tanh, lambda y: torch.addcmul(torch.ones((), dtype=y.dtype), y, y, value=-1)),
    "relu": Nonlinearity(torch.relu, lambda x: np.maximum(x, 0), lambda y: (y > 0).to(y.dtype)),
}


def flatten(tensors) -> torch.Tensor:
    """Concatenate tensors (a dict's values or a sequence) into one flat vector."""
    values = tensors.values() if isinstance(tensors, Mapping) else tensors
    return torch.cat([t.reshape(-1) for t in values])


def unflatten(vector: torch.Tensor, like: Mapping[str, torch.Tensor]) -> Params:
    """Split a flat vector into tensors shaped like ``like`` (inverse of :func:`flatten`)."""
    pieces = torch.split(vector, [t.numel() for t in like.values()])
    return {name: piece.view(t.shape) for (name, t), piece in zip(like.items(), pieces)}


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight.T + bias``; with per-task parameters (weight (K, out, in)) x is (K, N, in)."""
    if weight.dim() == 3:
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
    return nn.functional.linear(x, weight, bias)


def stack_params(params: Mapping[str, torch.Tensor], num_tasks: int) -> Params:
    """One copy of ``params`` per task, shape (K, ...) each, as views (gradients sum over K)."""
    return {name: p.unsqueeze(0).expand(num_tasks, *p.shape) for name, p in params.items()}


class GaussianMLPPolicy(nn.Module):
    """Gaussian policy with an MLP mean and a state-independent, learnable log-std.

    Args:
        obs_dim, action_dim: sizes of observation and action (10 and 10 for AWAKE).
        hidden_sizes: widths of the hidden layers, e.g. (64, 64).
        nonlinearity: "tanh" or "relu", applied after every hidden layer.
        init_std: initial standard deviation of every action dimension (action units).
        seed: if given, the weights are initialised from this seed (the global torch
            RNG is left untouched); None draws them from the global RNG.

    Parameter names: ``layers.{i}.weight`` (out, in), ``layers.{i}.bias`` (out,), ``log_std``.
    """

    def __init__(self, obs_dim: int = OBS_DIM, action_dim: int = ACTION_DIM,
                 hidden_sizes: Sequence[int] = (64, 64), nonlinearity: str = "tanh",
                 init_std: float = 0.5, seed: int | None = None):
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; use one of {list(NONLINEARITIES)}.")
        if not init_std > 0:
            raise ValueError(f"init_std must be > 0 (action units), got {init_std!r}.")
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.nonlinearity = nonlinearity
        sizes = (self.obs_dim, *self.hidden_sizes, self.action_dim)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):  # nn.Linear draws a default init
            self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
        self.log_std = nn.Parameter(torch.full((self.action_dim,), math.log(init_std)))
        self.register_buffer(STEP_SIZES, None)  # Meta-SGD: see set_step_sizes
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        for layer in self.layers:  # as pytorch-maml-rl: Xavier-uniform weights, zero biases
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean action (..., action_dim) with this module's parameters (also under functional_call)."""
        return self.mean(obs, None)

    def mean(self, obs: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Mean action (..., action_dim) of observations (..., obs_dim) with explicit ``params``.

        ``params=None`` uses the module's own parameters. With per-task params (leading
        dim K) obs is (K, ..., obs_dim). The parameters are read from the dict directly:
        ``torch.func.functional_call(policy, params, (obs,))`` gives the same result but
        costs ~60 us more per call, which adds up over hundreds of rollout steps.
        """
        per_task = params is not None and params["log_std"].dim() == 2
        out = self.forward_layers(obs, params)[-1]
        return out.view(*obs.shape[:-1], self.action_dim) if per_task else out

    def forward_layers(self, obs: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> list:
        """The MLP, layer by layer: [input of layer 0, input of layer 1, ..., mean action].

        The one definition of the network (:meth:`mean` returns the last entry; the fast
        path's Jacobian products keep the others). Per-task params (leading dim K) take obs
        (K, ..., obs_dim), flattened here to (K, N, obs_dim).
        """
        if params is None:
            params = dict(self.named_parameters())
        activation = NONLINEARITIES[self.nonlinearity].torch
        x = obs.reshape(obs.shape[0], -1, obs.shape[-1]) if params["log_std"].dim() == 2 else obs
        outputs = [x]
        for i in range(len(self.layers)):
            x = linear(x, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"])
            if i < len(self.layers) - 1:
                x = activation(x)
            outputs.append(x)
        return outputs

    def std(self, params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Standard deviation (action_dim,) or, with per-task params, (K, action_dim)."""
        log_std = self.log_std if params is None else params["log_std"]
        return log_std.exp()

    def distribution(self, obs: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> Normal:
        """pi(. | obs) as a Normal with batch shape obs.shape[:-1] + (action_dim,)."""
        mean = self.mean(obs, params)
        std = self.std(params)
        if std.dim() == 2:  # per-task (K, A) -> (K, 1, ..., 1, A) to broadcast over samples
            std = std.view(std.shape[0], *([1] * (mean.dim() - 2)), std.shape[1])
        return Normal(mean, std.expand_as(mean), validate_args=False)  # std > 0 by construction

    def params(self) -> Params:
        """The module's own parameters as a dict (the tensors themselves, not copies)."""
        return dict(self.named_parameters())

    def set_step_sizes(self, log_step_sizes: torch.Tensor | float | None) -> "GaussianMLPPolicy":
        """Store learned inner step sizes (Meta-SGD): log alpha per parameter tensor, shape
        (len(params()),), or one float for all; None removes them (adapt with fast_lr)."""
        if log_step_sizes is not None:
            log_step_sizes = torch.as_tensor(log_step_sizes, dtype=self.log_std.dtype).detach().clone()
            log_step_sizes = log_step_sizes.expand(len(self.params())).clone()
        self.log_step_sizes = log_step_sizes
        return self

    def step_sizes(self, fast_lr: float) -> dict[str, torch.Tensor] | float:
        """The inner step sizes: {parameter name: alpha} if learned, else ``fast_lr``."""
        if self.log_step_sizes is None:
            return fast_lr
        return dict(zip(self.params(), self.log_step_sizes.detach().exp()))

    def as_numpy_policy(self, params: Mapping[str, torch.Tensor] | None = None,
                        deterministic: bool = True, seed: int | None = None) -> Callable:
        """A callable (n, obs_dim) float32 numpy obs -> (n, action_dim) float32 actions.

        This is the protocol of :func:`awake_tutorial.envs.evaluate`. Deterministic
        (default) acts with the mean; otherwise samples from pi, seeded by ``seed``.
        """
        params = None if params is None else {k: v.detach() for k, v in params.items()}
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

        def act(obs) -> np.ndarray:
            obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            with torch.no_grad():
                mean = self.mean(obs_t, params)
                if deterministic:
                    return mean.numpy()
                noise = torch.randn(mean.shape, generator=generator)
                return (mean + self.std(params) * noise).numpy()

        return act

    def with_params(self, params: Mapping[str, torch.Tensor]) -> "GaussianMLPPolicy":
        """A new policy of the same architecture holding (detached copies of) ``params``."""
        policy = GaussianMLPPolicy(self.obs_dim, self.action_dim, self.hidden_sizes,
                                   self.nonlinearity, seed=0)  # seed: leave the global RNG alone
        policy.load_state_dict({k: v.detach().clone() for k, v in params.items()})
        return policy.set_step_sizes(self.log_step_sizes)


class TorchRolloutPolicy:
    """The policy's action sampler (the textbook path): per task k, a = mu_k(s) + sigma_k * noise,
    with the policy's own forward pass (:meth:`GaussianMLPPolicy.mean`)."""

    def __init__(self, policy: GaussianMLPPolicy, params: Mapping[str, torch.Tensor]):
        self.policy, self.params = policy, {n: p.detach() for n, p in params.items()}
        self.std = self.params["log_std"].exp().unsqueeze(1)  # (K, 1, A)

    def __call__(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """obs (K, B, obs_dim), noise (K, B, A) standard normal -> actions (K, B, A) float32."""
        with torch.no_grad():
            mean = self.policy.mean(torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32)), self.params)
            return (mean + self.std * torch.from_numpy(noise)).numpy()
