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
from awake_tutorial.rl.policies import NONLINEARITIES, STEP_SIZES, Params, flatten, linear, stack_params, unflatten


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
        params = {name: lead(p.detach()) for name, p in params.items()}
        jacobian = MeanJacobian(policy, lead(steps.observations), params)
        inv_var = torch.exp(-2 * params["log_std"]).unsqueeze(1)  # (K, 1, A)
        diff = lead(steps.actions) - jacobian.output  # a - mean, (K, N, A)
        coef = -lead(step_weights(episodes, weighting) * steps.advantages).unsqueeze(-1)  # d loss/d log pi
        grads = jacobian.vjp(coef * diff * inv_var, per_task=True)
        grads["log_std"] = (coef * (diff * diff * inv_var - 1)).sum(dim=1)
    return {name: grads[name][0] if one_task else grads[name] for name in params}  # in params' order


# --- TRPO's Fisher-vector products (first-order MAML), the textbook one is a double backward ---
# They take tensors and settings, not the learner: ``max_samples`` (the config's fisher_max_samples),
# ``adapted_std``, ``zero_shot_weight`` and ``damping`` (cg_damping), see metalearners.maml_trpo.


def zero_shot_fisher(policy, theta: Params, train_episodes: BatchEpisodes, max_samples: int, weight: float):
    """v (theta's tensors) -> weight * F_0 v, F_0 the Fisher of the unadapted policy (parameters
    ``theta``) on the first adaptation batch; None without a zero-shot term (weight 0).
    J^T M J v as in ``trpo.gauss_newton_vector_product``."""
    if not weight:
        return None
    num_tasks = train_episodes.rewards.shape[0]
    steps = train_episodes.packed().subsample(max_samples)
    params = {n: p.detach().unsqueeze(0) for n, p in theta.items()}  # one policy for all tasks: their
    obs = steps.observations.reshape(1, -1, steps.observations.shape[-1])  # steps as one batch, (1, K N, .)
    jacobian = MeanJacobian(policy, obs, params)
    scale = weight / num_tasks
    metric = scale * steps.weights.reshape(1, -1, 1) / torch.exp(2 * params["log_std"]).unsqueeze(1)
    log_std_curvature = 2.0 * scale * steps.weights.sum()

    def product(v):
        out = jacobian.vjp(metric * jacobian.jvp(v))
        out["log_std"] = log_std_curvature * v["log_std"]
        return out

    return product


def _fisher_at_adapted(policy, adapted, valid_episodes: BatchEpisodes, max_samples: int):
    """What both first-order Fisher products start from: the number of tasks K, the (subsampled)
    validation steps, J at the adapted policies and the metric w / (K sigma_k^2), (K, N, A)."""
    num_tasks = valid_episodes.rewards.shape[0]
    steps = valid_episodes.packed().subsample(max_samples)
    log_std = adapted["log_std"].detach()
    jacobian = MeanJacobian(policy, steps.observations, adapted)
    metric = steps.weights.unsqueeze(-1) / num_tasks / torch.exp(2 * log_std).unsqueeze(1)  # (K, N, A)
    return num_tasks, steps, jacobian, metric


def maml_fisher(policy, theta: Params, adapted: Params, valid_episodes: BatchEpisodes,
                train_episodes: BatchEpisodes | None, *, max_samples: int, adapted_std: float,
                zero_shot_weight: float, damping: float):
    """v -> (F + damping I) v with the Gaussian Fisher at the adapted policies (first order).

    Mean block: (1/K) sum_k J_k^T diag(w / sigma_k^2) J_k (J_k = d mean_k / d theta, a
    shared tangent since theta'_k = theta + const); log-std block: 2 I (0 with ``adapted_std``
    > 0: the std is fixed); no cross terms. With ``max_samples`` > 0 the mean block is
    estimated on at most that many evenly spaced steps per task (a subsampled Fisher, as in
    the original TRPO). ``theta``: the policy's parameters; ``adapted``: theta'_k, (K, ...).
    """
    num_tasks, steps, jacobian, metric = _fisher_at_adapted(policy, adapted, valid_episodes, max_samples)
    log_std_curvature = 0.0 if adapted_std else 2.0 * steps.weights.sum() / num_tasks  # d2 KL/d log_std2
    mean_names = [n for n in theta if n != "log_std"]
    zero_shot = zero_shot_fisher(policy, theta, train_episodes, max_samples, zero_shot_weight)

    def product(vector):
        v = unflatten(vector, theta)
        out = jacobian.vjp(metric * jacobian.jvp({n: v[n] for n in mean_names}))
        out["log_std"] = log_std_curvature * v["log_std"]
        if zero_shot is not None:
            out = {n: out[n] + extra for n, extra in zero_shot(v).items()}
        return torch.add(flatten([out[n] for n in theta]), vector, alpha=damping)

    return product


def meta_sgd_fisher(policy, theta: Params, adapted: Params, valid_episodes: BatchEpisodes,
                    train_episodes: BatchEpisodes | None, *, max_samples: int, adapted_std: float,
                    zero_shot_weight: float, damping: float):
    """v -> (F + damping I) v over (theta, log_alpha), first order (see ``meta_sgd``'s docstring):
    task k's adapted parameters move along u_k = v_theta + (theta'_k - theta) * v_alpha.
    ``theta``: the policy's parameters and ``log_step_sizes``; settings as :func:`maml_fisher`."""
    names = list(policy.params())
    policy_theta = {n: theta[n] for n in names}
    num_tasks, steps, jacobian, metric = _fisher_at_adapted(policy, adapted, valid_episodes, max_samples)
    base = stack_params(policy_theta, num_tasks)
    delta = {n: (adapted[n] - base[n]).detach() for n in names}  # theta'_k - theta, (K, ...)
    log_std_curvature = (0.0 if adapted_std else 2.0) * steps.weights.sum(-1).unsqueeze(-1) / num_tasks
    zero_shot = zero_shot_fisher(policy, policy_theta, train_episodes, max_samples, zero_shot_weight)

    def product(vector):
        v = unflatten(vector, theta)
        u = {n: v[n] + v[STEP_SIZES][i] * delta[n] for i, n in enumerate(names)}  # per task
        out = jacobian.vjp(metric * jacobian.jvp(u), per_task=True)
        out["log_std"] = log_std_curvature * u["log_std"]
        result = {n: out[n].sum(0) for n in names}
        if zero_shot is not None:  # the unadapted policy moves with v_theta only
            result = {n: result[n] + extra for n, extra in zero_shot(v).items()}
        result[STEP_SIZES] = torch.stack([(out[n] * delta[n]).sum() for n in names])
        return torch.add(flatten([result[n] for n in theta]), vector, alpha=damping)

    return product
