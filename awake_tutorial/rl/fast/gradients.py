"""Fast path: the mean network's Jacobian products, the REINFORCE gradient by hand, and
TRPO's analytic Fisher-vector products (see :mod:`awake_tutorial.rl.fast`).

Textbook versions: ``reinforce.policy_gradient`` (autograd) and the Fisher product by double
backward (``trpo.hessian_vector_product``); ``tests/test_fast_path.py`` checks these equal them.
All three need only two products of J = d mean(obs) / d (layer parameters), computed by the
chain rule layer by layer through the policy's own forward pass (:meth:`forward_layers`).
"""

from __future__ import annotations

from typing import Mapping

import torch

from awake_tutorial.rl.episodes import BatchEpisodes, step_weights
from awake_tutorial.rl.fast.chunks import Chunks
from awake_tutorial.rl.fast.fisher import FirstOrderFisher
from awake_tutorial.rl.policies import NONLINEARITIES, Params, linear


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

    def __init__(self, policy, obs: torch.Tensor, params: Mapping[str, torch.Tensor]):
        slope = NONLINEARITIES[policy.nonlinearity].slope
        self.num_layers = len(policy.layers)
        with torch.no_grad():  # the policy's own forward pass, keeping every layer's input
            outputs = policy.forward_layers(obs.detach(), {n: p.detach() for n, p in params.items()})
        self.inputs = outputs[:-1]  # per layer: its input (K, N, in)
        self.weights = [params[f"layers.{i}.weight"].detach() for i in range(self.num_layers)]  # (K, out, in)
        self.slopes = [slope(y) for y in outputs[1:-1]]  # f' of each hidden layer, from its output
        self.output = outputs[-1]  # the mean action (K, N, action_dim)

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


def reinforce_gradient(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor],
                       weighting: str = "mean") -> Params:
    """grad of ``reinforce.inner_loss`` w.r.t. per-task ``params`` (K, ...), by hand, no graph.

    For a Gaussian, d log pi / d mean = (a - mean) / sigma^2 and
    d log pi / d log_std = (a - mean)^2 / sigma^2 - 1; the mean's part is carried back
    through the MLP by :meth:`MeanJacobian.vjp`. Same numbers as ``reinforce.policy_gradient``
    (tested), about a quarter cheaper: the inner step runs ~14 times per meta-batch.
    """
    if episodes.advantages is None:
        raise ValueError("episodes have no advantages; call episodes.compute_advantages(...) first.")
    steps = episodes.packed()
    one_task = params["log_std"].dim() == 1  # one task without a task dim: add it
    lead = (lambda x: x.unsqueeze(0)) if one_task else (lambda x: x)
    with torch.no_grad():
        chunks = Chunks(lead(steps.weights))  # the steps that ran, in chunks of one task each (.chunks)
        params = {name: chunks.params(lead(p.detach())) for name, p in params.items()}
        jacobian = MeanJacobian(policy, chunks.steps(lead(steps.observations)), params)
        inv_var = torch.exp(-2 * params["log_std"]).unsqueeze(1)  # (G, 1, A)
        diff = chunks.steps(lead(steps.actions)) - jacobian.output  # a - mean, (G, L, A)
        coef = -chunks.steps(lead(step_weights(episodes, weighting) * steps.advantages)).unsqueeze(-1)  # d loss/d log pi
        grads = jacobian.vjp(coef * diff * inv_var, per_task=True)
        grads["log_std"] = (coef * (diff * diff * inv_var - 1)).sum(dim=1)
        grads = {name: chunks.sum_tasks(g) for name, g in grads.items()}
    return {name: grads[name][0] if one_task else grads[name] for name in params}  # in params' order


# --- TRPO's Fisher-vector products (first-order MAML), the textbook one is a double backward ---
# They take tensors and settings, not the learner: ``max_samples`` (the config's fisher_max_samples),
# ``adapted_std``, ``zero_shot_weight`` and ``damping`` (cg_damping), see metalearners.maml_trpo.
# The product itself: :class:`awake_tutorial.rl.fast.fisher.FirstOrderFisher` (every block in one pass).


def _fisher_blocks(policy, theta: Params, adapted: Params, valid_episodes: BatchEpisodes,
                   train_episodes: BatchEpisodes | None, max_samples: int, adapted_std: float,
                   zero_shot_weight: float):
    """The Gauss-Newton blocks of the first-order Fisher: [(J, metric)] of the adapted policies on the
    (subsampled) validation steps, metric w / (K sigma_k^2) (K, N, A), then with a zero-shot term the
    unadapted policy (``theta``) on the first adaptation batch's steps as one batch, metric
    weight * w / (K sigma^2) (1, K N_0, A); the adapted block's log-std curvature per task (K, 1)
    (d2 KL / d log_std2 = 2 w / K; 0 with ``adapted_std``: the std is fixed) and the zero-shot one's."""
    num_tasks = valid_episodes.rewards.shape[0]
    steps = valid_episodes.packed().subsample(max_samples)
    metric = steps.weights.unsqueeze(-1) / num_tasks / torch.exp(2 * adapted["log_std"].detach()).unsqueeze(1)
    blocks = [(MeanJacobian(policy, steps.observations, adapted), metric)]
    curvature = (0.0 if adapted_std else 2.0) * steps.weights.sum(-1).unsqueeze(-1) / num_tasks
    zero_shot_curvature = 0.0
    if zero_shot_weight:
        steps = train_episodes.packed().subsample(max_samples)
        params = {n: theta[n].detach().unsqueeze(0) for n in adapted}  # one policy for all tasks: their
        obs = steps.observations.reshape(1, -1, steps.observations.shape[-1])  # steps as one batch, (1, K N, .)
        scale = zero_shot_weight / num_tasks
        metric = scale * steps.weights.reshape(1, -1, 1) / torch.exp(2 * params["log_std"]).unsqueeze(1)
        blocks.append((MeanJacobian(policy, obs, params), metric))
        zero_shot_curvature = 2.0 * scale * steps.weights.sum()
    return blocks, curvature, zero_shot_curvature


def maml_fisher(policy, theta: Params, adapted: Params, valid_episodes: BatchEpisodes,
                train_episodes: BatchEpisodes | None, *, max_samples: int, adapted_std: float,
                zero_shot_weight: float, damping: float):
    """v -> (F + damping I) v with the Gaussian Fisher at the adapted policies (first order).

    Mean block: (1/K) sum_k J_k^T diag(w / sigma_k^2) J_k (J_k = d mean_k / d theta, a
    shared tangent since theta'_k = theta + const); log-std block: 2 I (0 with ``adapted_std``
    > 0: the std is fixed); no cross terms. With ``max_samples`` > 0 the mean block is
    estimated on at most that many evenly spaced steps per task (a subsampled Fisher, as in
    the original TRPO). ``theta``: the policy's parameters; ``adapted``: theta'_k, (K, ...).
    With ``zero_shot_weight`` the unadapted policy's Fisher on the first adaptation batch is added.
    """
    blocks, curvature, zero_shot_curvature = _fisher_blocks(policy, theta, adapted, valid_episodes, train_episodes,
                                                            max_samples, adapted_std, zero_shot_weight)
    return FirstOrderFisher(theta, blocks, curvature.sum(), zero_shot_curvature, None, damping)


def meta_sgd_fisher(policy, theta: Params, adapted: Params, valid_episodes: BatchEpisodes,
                    train_episodes: BatchEpisodes | None, *, max_samples: int, adapted_std: float,
                    zero_shot_weight: float, damping: float):
    """v -> (F + damping I) v over (theta, log_alpha), first order (see ``meta_sgd``'s docstring):
    task k's adapted parameters move along u_k = v_theta + (theta'_k - theta) * v_alpha.
    ``theta``: the policy's parameters and ``log_step_sizes``; settings as :func:`maml_fisher`."""
    names = list(policy.params())
    blocks, curvature, zero_shot_curvature = _fisher_blocks(policy, theta, adapted, valid_episodes, train_episodes,
                                                            max_samples, adapted_std, zero_shot_weight)
    delta = {n: (adapted[n] - theta[n].unsqueeze(0)).detach() for n in names}  # theta'_k - theta, (K, ...)
    return FirstOrderFisher(theta, blocks, curvature, zero_shot_curvature, delta, damping)
