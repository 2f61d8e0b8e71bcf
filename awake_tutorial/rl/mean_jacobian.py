"""J v and J^T u for the mean network of a :class:`~awake_tutorial.rl.policies.GaussianMLPPolicy`.

The Fisher-vector products of TRPO (``metalearners.maml_trpo``, ``metalearners.meta_sgd``)
and the hand-written REINFORCE gradient (``metalearners.reinforce``) need only these two
products, J = d mean(obs) / d (layer parameters), computed by the chain rule layer by layer.
"""

from __future__ import annotations

from typing import Mapping

import torch

from awake_tutorial.rl.policies import NONLINEARITIES, SLOPES, GaussianMLPPolicy, Params, linear


class MeanJacobian:
    """J v and J^T u for the mean network, by hand (the chain rule through each layer).

    Used for Fisher-vector products J^T M J v: autograd or torch.func would give the same
    numbers, but at ~1-5 ms of overhead per product for these small layers instead of
    ~0.2 ms; TRPO needs dozens of products per update.

    ``params`` are per-task (K, ...) and obs is (K, N, obs_dim). The tangent ``v`` is *one*
    set of layer parameters (no K dim) applied to every task: with first-order MAML all
    adapted parameters move with theta (theta'_k = theta + constant); Meta-SGD passes one
    per task (K, ...), since its step sizes move each task differently. Accordingly
    :meth:`vjp` sums over tasks and samples, unless asked for per-task gradients (as the
    hand-written REINFORCE gradient of the inner loop is).
    """

    def __init__(self, policy: GaussianMLPPolicy, obs: torch.Tensor, params: Mapping[str, torch.Tensor]):
        slope = SLOPES[policy.nonlinearity]
        activation = NONLINEARITIES[policy.nonlinearity]
        self.num_layers = len(policy.layers)
        self.inputs, self.weights, self.slopes = [], [], []  # per layer: its input, W (K, out, in), f'
        x = obs.detach()
        with torch.no_grad():
            for i in range(self.num_layers):
                weight = params[f"layers.{i}.weight"].detach()
                self.inputs.append(x)
                self.weights.append(weight)
                x = linear(x, weight, params[f"layers.{i}.bias"].detach())
                if i < self.num_layers - 1:
                    x = activation(x)
                    self.slopes.append(slope(x))
        self.output = x  # (K, N, action_dim)

    def jvp(self, v: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """J v: change of the mean (K, N, action_dim) for a parameter change v, shared by
        all tasks or per task (shapes (K, ...))."""
        dx = None
        for i in range(self.num_layers):
            da = linear(self.inputs[i], v[f"layers.{i}.weight"], v[f"layers.{i}.bias"])
            if dx is not None:  # the change of this layer's input, through its weights
                da = torch.baddbmm(da, dx, self.weights[i].transpose(1, 2))
            dx = da * self.slopes[i] if i < self.num_layers - 1 else da
        return dx

    def vjp(self, u: torch.Tensor, per_task: bool = False) -> Params:
        """J^T u for u (K, N, action_dim): gradient of sum(u * mean) w.r.t. the shared
        parameters, or with ``per_task`` w.r.t. each task's own parameters (shapes (K, ...))."""
        grads, g = {}, u
        for i in reversed(range(self.num_layers)):
            x = self.inputs[i]
            if per_task:
                grads[f"layers.{i}.weight"] = torch.bmm(g.transpose(1, 2), x)
                grads[f"layers.{i}.bias"] = g.sum(dim=1)
            else:
                grads[f"layers.{i}.weight"] = torch.mm(g.reshape(-1, g.shape[-1]).t(), x.reshape(-1, x.shape[-1]))
                grads[f"layers.{i}.bias"] = g.sum(dim=(0, 1))
            if i > 0:
                g = torch.bmm(g, self.weights[i]) * self.slopes[i - 1]
        return grads
