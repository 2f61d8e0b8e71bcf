"""Fast path: TRPO's first-order Fisher-vector product, all its Gauss-Newton terms in one pass.

The Fisher of the meta-objective has up to two mean blocks, both J^T M J (see
``trpo.gauss_newton_vector_product``): the adapted policies on the validation steps (per-task
parameters theta'_k, metric w / (K sigma_k^2)) and, with a zero-shot term, the unadapted
policy on the first adaptation batch (parameters theta, metric weight * w / (K sigma^2)). With
first-order MAML both move along the *same* tangent v of theta, so every product of a layer
input with v's weights, and every weight gradient g^T x, is one matrix product over the rows
of both blocks stacked (:class:`StackedJacobian`, rows R = K N + K N_0); only the products
with each block's own weights stay per block. CG needs ~21 products per meta-batch: fewer,
larger operations than a jvp and a vjp per block (a product of the default config: 1.55-1.76 ms
against 1.93-2.16 ms, measured on 2 shared cores).

Meta-SGD moves task k along u_k = v_theta + sum_n v_alpha,n delta_k,n (delta_k,n = theta'_k,n
- theta_n on tensor n, zero elsewhere). J_k is linear, so J_k u_k = J_k v_theta + sum_n
v_alpha,n D_k,n with D_n = J delta_n computed once per meta-batch, and the log step sizes'
part of J^T g is <g, D_n> per tensor: no per-task tangent, no per-task gradient in the loop.

Same maths as the per-block products it replaced (and as the double-backward Hessian of the
KL, ``tests/test_fast_path.py``, ``tests/test_meta_sgd.py``); the order of float additions differs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from awake_tutorial.rl.policies import STEP_SIZES, Params, flatten, unflatten


class StackedJacobian:
    """J v and J^T g of several :class:`~awake_tutorial.rl.fast.gradients.MeanJacobian` blocks,
    rows stacked, for one tangent v shared by all (no task dim).

    ``blocks``: MeanJacobians of one network (per-task weights (K_b, out, in), inputs (K_b, N_b, in)).
    Outputs and cotangents are (R, action_dim), R = sum_b K_b N_b, in block order. Every product
    writes into buffers made once (with each block's view of them), so :meth:`jvp` returns a
    buffer that the next call overwrites: use it (or copy it) before calling again.
    """

    def __init__(self, blocks: Sequence):
        self.blocks, self.num_layers = list(blocks), blocks[0].num_layers
        self.shapes = [tuple(b.inputs[0].shape[:2]) for b in self.blocks]  # (K_b, N_b)
        self.num_rows = sum(K * N for K, N in self.shapes)
        stack = lambda tensors: torch.cat([t.reshape(-1, t.shape[-1]) for t in tensors])  # noqa: E731
        self.inputs = [stack([b.inputs[i] for b in self.blocks]) for i in range(self.num_layers)]  # (R, in)
        self.slopes = [stack([b.slopes[i] for b in self.blocks]) for i in range(self.num_layers - 1)]  # (R, out)
        self.weights_t = [[b.weights[i].transpose(1, 2).contiguous() for b in self.blocks]  # (K_b, in, out)
                          for i in range(self.num_layers)]
        widths = [w.shape[1] for w in self.blocks[0].weights]  # each layer's output
        self._forward = [self._buffer(width) for width in widths]  # J v, layer by layer
        self._backward = [self._buffer(x.shape[-1]) for x in self.inputs]  # J^T g at each layer's input

    def _buffer(self, width: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """An (R, width) buffer and its blocks' views (K_b, N_b, width)."""
        whole = self.inputs[0].new_empty(self.num_rows, width)
        return whole, self.block_views(whole)

    def block_views(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (R, d) as each block's (K_b, N_b, d) (views)."""
        pieces = torch.split(x, [K * N for K, N in self.shapes])
        return [piece.view(K, N, x.shape[-1]) for piece, (K, N) in zip(pieces, self.shapes)]

    def jvp(self, v: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """J v, (R, action_dim), for v one set of layer parameters (no task dim)."""
        previous = None
        for i in range(self.num_layers):
            da, views = self._forward[i]
            torch.addmm(v[f"layers.{i}.bias"], self.inputs[i], v[f"layers.{i}.weight"].t(), out=da)
            if previous is not None:  # the change of this layer's input, through each block's weights
                for view, dx, weight_t in zip(views, previous, self.weights_t[i]):
                    view.baddbmm_(dx, weight_t)
            if i < self.num_layers - 1:
                da.mul_(self.slopes[i])
            previous = views
        return da

    def vjp(self, g: torch.Tensor) -> Params:
        """J^T g for g (R, action_dim): the gradient of sum(g * mean) w.r.t. the shared parameters."""
        grads, g_views = {}, self.block_views(g)
        for i in reversed(range(self.num_layers)):
            grads[f"layers.{i}.weight"] = torch.mm(g.t(), self.inputs[i])
            grads[f"layers.{i}.bias"] = g.sum(dim=0)
            if i > 0:
                back, views = self._backward[i]
                for view, g_block, block in zip(views, g_views, self.blocks):
                    torch.bmm(g_block, block.weights[i], out=view)
                g, g_views = back.mul_(self.slopes[i - 1]), views
        return grads


class FirstOrderFisher:
    """v -> (F + damping I) v for first-order MAML or Meta-SGD (``delta`` given), see the module notes.

    Args:
        theta: the meta-parameters by name (the policy's, plus ``log_step_sizes`` with Meta-SGD).
        blocks: [(MeanJacobian, metric (K_b, N_b, A))]: the adapted block first, then the zero-shot one.
        log_std_curvature: per task (K, 1) of the adapted block, d2 KL / d log_std2 (0 with a fixed std);
        zero_shot_curvature: the zero-shot block's, a scalar (0 without one).
        delta: Meta-SGD's theta'_k - theta per tensor, (K, ...); None for MAML.
    """

    def __init__(self, theta: Params, blocks, log_std_curvature, zero_shot_curvature, delta: Params | None,
                 damping: float):
        self.theta, self.damping = theta, damping
        self.names = [n for n in theta if n != STEP_SIZES]
        self.mean_names = [n for n in self.names if n != "log_std"]
        self.jacobian = StackedJacobian([jacobian for jacobian, _ in blocks])
        self.metric = torch.cat([m.reshape(-1, m.shape[-1]) for _, m in blocks])  # (R, A)
        self.curvature, self.zero_shot_curvature, self.delta = log_std_curvature, zero_shot_curvature, delta
        K, N = self.jacobian.shapes[0]
        self.adapted_rows = slice(0, K * N)  # the adapted block comes first
        if delta is not None:  # D_n = J_k delta_k,n on the adapted block's rows, (n, K N A)
            D = _step_size_directions(blocks[0][0], delta)
            self.D = torch.stack([D[n].reshape(-1) for n in self.mean_names])

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        v = unflatten(vector, self.theta)
        Jv = self.jacobian.jvp(v)
        u_log_std = v["log_std"]
        if self.delta is not None:
            alphas = dict(zip(self.names, v[STEP_SIZES]))
            step = torch.mv(self.D.t(), torch.stack([alphas[n] for n in self.mean_names]))
            Jv[self.adapted_rows].view(-1).add_(step)
            u_log_std = u_log_std + alphas["log_std"] * self.delta["log_std"]  # (K, A)
        g = Jv.mul_(self.metric)
        out = self.jacobian.vjp(g)
        log_std_term = self.curvature * u_log_std  # (K, A) or (A,) broadcast against (K, 1)
        out["log_std"] = log_std_term.reshape(-1, u_log_std.shape[-1]).sum(0) + self.zero_shot_curvature * v["log_std"]
        if self.delta is not None:
            by_tensor = dict(zip(self.mean_names, torch.mv(self.D, g[self.adapted_rows].reshape(-1))))
            by_tensor["log_std"] = (log_std_term * self.delta["log_std"]).sum()
            out[STEP_SIZES] = torch.stack([by_tensor[n] for n in self.names])
        return torch.add(flatten([out[n] for n in self.theta]), vector, alpha=self.damping)


def _step_size_directions(jacobian, delta: Params) -> Params:
    """D_n = J_k delta_k,n for each weight and bias n of the mean network, (K, N, A) each: the change
    of layer i's pre-activation, x_i delta_W^T or delta_b, carried through the layers after it
    (what ``jacobian.jvp`` gives for a tangent that is delta_k on tensor n and zero elsewhere)."""
    L = jacobian.num_layers
    K, N = jacobian.inputs[0].shape[:2]
    out = {}
    for i in range(L):
        weight, bias = delta[f"layers.{i}.weight"], delta[f"layers.{i}.bias"]
        changes = {f"layers.{i}.weight": torch.bmm(jacobian.inputs[i], weight.transpose(1, 2)),
                   f"layers.{i}.bias": bias.unsqueeze(1).expand(K, N, bias.shape[-1])}
        for name, da in changes.items():
            for j in range(i + 1, L):
                da = torch.bmm(da * jacobian.slopes[j - 1], jacobian.weights[j].transpose(1, 2))
            out[name] = da
    return out
