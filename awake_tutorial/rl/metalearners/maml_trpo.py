"""MAML-TRPO: the outer loop (Finn et al. 2017, as in pytorch-maml-rl).

For every task k of a meta-batch: adapt theta with the inner loop on the task's
training episodes (theta -> theta'_k), then measure the adapted policy on fresh
validation episodes. The meta-objective is the mean over tasks of the surrogate loss

    L(theta) = - mean_k E_valid[ pi_theta'_k(a|s) / pi_old'_k(a|s) * A ],

and TRPO updates theta under mean_k KL(pi_theta'_k || pi_old'_k) <= max_kl.

``adapted_std`` > 0 scores the adapted policy as it is deployed, close to its mean action:
the validation episodes and the loss use pi_theta'_k with its std set to ``adapted_std``
(:meth:`MAMLTRPO.deployed`), while the adaptation episodes still explore with the
policy's own std (which then learns only through the zero-shot term below, if any).

``zero_shot_weight`` w > 0 also counts the policy *before* adaptation, on the first
batch of adaptation episodes: loss L(theta'_k) + w * L(theta), KL likewise. Those
episodes cost machine time too, and an operator runs the unadapted policy first.

Fisher-vector products (``fisher_product``):
  * "double_backward": exact Hessian of the KL by double backward, through the
    adaptation itself (required for second-order MAML).
  * "analytic": first-order MAML makes theta'_k = theta + (constant), so the KL Hessian is
    the Gaussian Fisher at the adapted policies: J^T diag(w / sigma^2) J for the mean
    network (J = d mean / d theta) and 2 * I for the log-std. Same matrix, computed by
    one Jacobian-vector and one vector-Jacobian product (``policy.mean_jacobian``)
    instead of a double backward: about 10x faster.
  * "auto": analytic for first-order, double_backward for second-order.
Nothing here knows about a particular environment.
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Sequence

import torch
from torch.distributions import Normal

from awake_tutorial.rl.episodes import BatchEpisodes, PackedSteps
from awake_tutorial.rl.metalearners.reinforce import StepSizes, adapt, step_size
from awake_tutorial.rl.metalearners.trpo import (
    conjugate_gradient,
    flatten,
    gauss_newton_vector_product,
    gradient,
    hessian_vector_product,
    kl_divergence,
    line_search,
    unflatten,
)
from awake_tutorial.rl.mean_jacobian import MeanJacobian
from awake_tutorial.rl.policies import stack_params

FISHER_PRODUCTS = ("auto", "analytic", "double_backward")


def detach_distribution(pi: Normal) -> Normal:
    """A copy of ``pi`` that carries no gradient (the "old" policy)."""
    return Normal(pi.loc.detach(), pi.scale.detach(), validate_args=False)


class MAMLTRPO:
    """Meta-learner: inner loop = REINFORCE (:mod:`.reinforce`), outer loop = TRPO (:mod:`.trpo`).

    Episodes are batched over tasks: every BatchEpisodes has shapes (K, T, B, ...) and
    carries advantages. ``train_episodes`` is a list with one batch per inner step.
    """

    def __init__(self, policy, fast_lr: float = 0.01, first_order: bool = True, max_kl: float = 1e-3,
                 cg_iters: int = 80, cg_damping: float = 1e-5, cg_residual_tol: float = 1e-10,
                 ls_max_steps: int = 100, ls_backtrack_ratio: float = 0.6, fisher_product: str = "auto",
                 fisher_max_samples: int = 0, adapted_std: float = 0.0, inner_weighting: str = "mean",
                 zero_shot_weight: float = 0.0):
        if fisher_product not in FISHER_PRODUCTS:
            raise ValueError(f"fisher_product must be one of {FISHER_PRODUCTS}, got {fisher_product!r}.")
        if fisher_product == "analytic" and not first_order:
            raise ValueError("fisher_product='analytic' needs first_order=True (the analytic Fisher "
                             "ignores second derivatives of the adaptation); use 'double_backward' or 'auto'.")
        if fisher_product == "auto":
            fisher_product = "analytic" if first_order else "double_backward"
        self.policy = policy
        self.fast_lr, self.first_order, self.max_kl = fast_lr, first_order, max_kl
        self.cg_iters, self.cg_damping, self.cg_residual_tol = cg_iters, cg_damping, cg_residual_tol
        self.ls_max_steps, self.ls_backtrack_ratio = ls_max_steps, ls_backtrack_ratio
        self.fisher_product = fisher_product
        self.fisher_max_samples = fisher_max_samples  # analytic Fisher: steps per task used (0 = all)
        self.adapted_std = adapted_std  # > 0: std of the adapted policies in the outer loss (see deployed)
        self.inner_weighting = inner_weighting  # how the inner REINFORCE loss weighs steps (.reinforce)
        self.zero_shot_weight = zero_shot_weight  # weight of the unadapted policy's loss (see above)

    # --- what the outer loop learns: MAML learns theta; Meta-SGD (.meta_sgd) adds step sizes ---

    def meta_parameters(self) -> dict[str, torch.Tensor]:
        """The tensors TRPO updates, by name (here the policy's parameters themselves)."""
        return self.policy.params()

    def set_meta_parameters(self, values: Mapping[str, torch.Tensor]) -> None:
        """Write new values of :meth:`meta_parameters` into the policy."""
        with torch.no_grad():
            for name, param in self.policy.params().items():
                param.copy_(values[name])

    def step_sizes(self, params: Mapping[str, torch.Tensor]) -> StepSizes:
        """The inner loop's step size(s) at meta-parameters ``params``: fast_lr."""
        return self.fast_lr

    def step_scales(self, params: Mapping[str, torch.Tensor]) -> StepSizes:
        """Factors equal to 1 whose gradient is d alpha_n / alpha_n (0 for a fixed fast_lr),
        so that theta + scale * (theta'_k - theta) has the value and first-order gradient of
        theta'_k (see :meth:`surrogate_loss`)."""
        return 1.0

    def policy_params(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The policy's parameters theta among the meta-parameters ``params``."""
        return {name: params[name] for name in self.policy.params()}

    def deployed(self, adapted: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The adapted parameters as the outer loss scores them: with ``adapted_std`` > 0 their
        log-std is replaced by log(adapted_std) (a constant), else unchanged."""
        if not self.adapted_std:
            return dict(adapted)
        return {**adapted, "log_std": torch.full_like(adapted["log_std"], math.log(self.adapted_std)).detach()}

    def adapt(self, train_episodes: Sequence[BatchEpisodes], params: Mapping[str, torch.Tensor] | None = None,
              first_order: bool | None = None) -> dict[str, torch.Tensor]:
        """Per-task adapted parameters theta'_k (K, ...) from meta-parameters ``params``
        (default: the current ones)."""
        params = self.meta_parameters() if params is None else params
        num_tasks = train_episodes[0].rewards.shape[0]
        first_order = self.first_order if first_order is None else first_order
        theta = stack_params(self.policy_params(params), num_tasks)
        return adapt(self.policy, train_episodes, theta, self.step_sizes(params), first_order, self.inner_weighting)

    def surrogate_loss(self, train_episodes, valid_episodes: BatchEpisodes, params=None, old_pi=None,
                       first_order: bool | None = None, adapted=None):
        """(loss, kl, old_pi, adapted params): means over tasks of the surrogate loss and KL.

        With ``old_pi`` None the current adapted policy is the old one (ratio 1, KL 0).
        ``adapted``: first-order only, the adapted params theta'_k already computed at
        ``params`` (e.g. while sampling); they are reused as theta + scale * (theta'_k - theta)
        (:meth:`step_scales`), which has the same value and first-order gradient as adapting again.
        """
        if adapted is None:
            adapted = self.adapt(train_episodes, params, first_order)
        else:
            if not (self.first_order if first_order is None else first_order):
                raise ValueError("precomputed adapted params are first-order only; pass adapted=None.")
            params = self.meta_parameters() if params is None else params
            theta = stack_params(self.policy_params(params), adapted["log_std"].shape[0])
            scales = self.step_scales(params)
            adapted = {n: theta[n] + step_size(scales, n) * (adapted[n] - theta[n]).detach() for n in theta}
        adapted = self.deployed(adapted)
        pis = self._distributions(train_episodes, valid_episodes, self.meta_parameters() if params is None else params,
                                  adapted)
        if old_pi is None:
            old_pi = [detach_distribution(pi) for pi, _ in pis]
        loss, kl = self._loss_and_kl(pis, old_pi)
        return loss, kl, old_pi, adapted

    def _distributions(self, train_episodes, valid_episodes, params, adapted) -> list:
        """[(pi, steps)] the loss scores: the adapted policies on the validation episodes, and
        with zero_shot_weight > 0 the unadapted policy on the first adaptation batch."""
        steps = valid_episodes.packed()
        pis = [(self.policy.distribution(steps.observations, adapted), steps)]
        if self.zero_shot_weight:
            steps = train_episodes[0].packed()
            pis.append((self.policy.distribution(steps.observations, self.policy_params(params)), steps))
        return pis

    def _loss_and_kl(self, pis, old_pis) -> tuple[torch.Tensor, torch.Tensor]:
        """Surrogate loss and KL: adapted term + zero_shot_weight * unadapted term."""
        terms = [surrogate_and_kl(pi, old_pi, steps) for (pi, steps), old_pi in zip(pis, old_pis)]
        weights = [1.0, self.zero_shot_weight][:len(terms)]
        return (sum(w * loss for w, (loss, _) in zip(weights, terms)),
                sum(w * kl for w, (_, kl) in zip(weights, terms)))

    def _zero_shot_fisher(self, theta, train_episodes):
        """v (theta's tensors) -> zero_shot_weight * F_0 v, F_0 the Fisher of the unadapted
        policy on the first adaptation batch; None without a zero-shot term."""
        if not self.zero_shot_weight:
            return None
        num_tasks = train_episodes[0].rewards.shape[0]
        steps = train_episodes[0].packed().subsample(self.fisher_max_samples)
        params = {n: p.detach() for n, p in stack_params(self.policy_params(theta), num_tasks).items()}
        jacobian = MeanJacobian(self.policy, steps.observations, params)
        scale = self.zero_shot_weight / num_tasks
        metric = scale * steps.weights.unsqueeze(-1) / torch.exp(2 * params["log_std"]).unsqueeze(1)
        mean_product = gauss_newton_vector_product(jacobian.jvp, jacobian.vjp, metric)
        log_std_curvature = 2.0 * scale * steps.weights.sum()

        def product(v):
            out = mean_product(v)
            out["log_std"] = log_std_curvature * v["log_std"]
            return out

        return product

    def _analytic_fisher(self, theta, adapted, valid_episodes: BatchEpisodes, train_episodes=None):
        """v -> (F + damping I) v with the Gaussian Fisher at the adapted policies (first order).

        Mean block: (1/K) sum_k J_k^T diag(w / sigma_k^2) J_k (J_k = d mean_k / d theta, a
        shared tangent since theta'_k = theta + const); log-std block: 2 I; no cross terms.
        With ``fisher_max_samples`` > 0 the mean block is estimated on at most that many
        evenly spaced steps per task (a subsampled Fisher, as in the original TRPO).
        """
        num_tasks = valid_episodes.rewards.shape[0]
        steps = valid_episodes.packed().subsample(self.fisher_max_samples)
        log_std = adapted["log_std"].detach()
        jacobian = MeanJacobian(self.policy, steps.observations, adapted)
        metric = steps.weights.unsqueeze(-1) / num_tasks / torch.exp(2 * log_std).unsqueeze(1)  # (K, N, A)
        log_std_curvature = 0.0 if self.adapted_std else 2.0 * steps.weights.sum() / num_tasks  # d2 KL/d log_std2
        mean_product = gauss_newton_vector_product(jacobian.jvp, jacobian.vjp, metric)
        mean_names = [n for n in theta if n != "log_std"]
        zero_shot = self._zero_shot_fisher(theta, train_episodes)

        def product(vector):
            v = unflatten(vector, theta)
            out = mean_product({n: v[n] for n in mean_names})
            out["log_std"] = log_std_curvature * v["log_std"]
            if zero_shot is not None:
                out = {n: out[n] + extra for n, extra in zero_shot(v).items()}
            return torch.add(flatten([out[n] for n in theta]), vector, alpha=self.cg_damping)

        return product

    def step(self, train_episodes: Sequence[BatchEpisodes], valid_episodes: BatchEpisodes,
             adapted: Mapping[str, torch.Tensor] | None = None) -> dict:
        """One TRPO meta-update of the policy's parameters (in place). Returns a log dict.

        ``adapted``: optional per-task adapted params at the current theta (first-order only,
        see :meth:`surrogate_loss`); saves recomputing the inner loop.
        """
        theta = self.meta_parameters()
        if not self.first_order:
            adapted = None
        loss, kl, old_pi, adapted = self.surrogate_loss(train_episodes, valid_episodes, theta, adapted=adapted)
        grad = flatten(gradient(loss, theta.values(), retain_graph=True))
        if self.fisher_product == "double_backward":
            fvp = hessian_vector_product(kl, theta, self.cg_damping)
        else:
            fvp = self._analytic_fisher(theta, adapted, valid_episodes, train_episodes)
        start = time.perf_counter()
        step_dir, cg_used, cg_residual = conjugate_gradient(fvp, grad, self.cg_iters, self.cg_residual_tol)
        shs = 0.5 * torch.dot(step_dir, fvp(step_dir)).item()  # KL of the unscaled step, quadratic model
        log = {"loss_before": loss.item(), "cg_iters_used": cg_used, "cg_residual": cg_residual,
               "cg_time": time.perf_counter() - start}
        old_params = flatten(theta).detach()
        if not (math.isfinite(shs) and shs > 0):
            return {**log, "loss_after": loss.item(), "kl": 0.0, "step_accepted": False, "ls_steps": 0,
                    "reject_reason": "bad curvature", "ls_rejections": {}, "line_search_time": 0.0}
        full_step = step_dir * math.sqrt(self.max_kl / shs)

        def evaluate(flat_params):
            with torch.no_grad():
                new_loss, new_kl = self._evaluate(train_episodes, valid_episodes, unflatten(flat_params, theta), old_pi)
            return new_loss.item(), new_kl.item()

        start = time.perf_counter()
        result = line_search(evaluate, old_params, full_step, loss.item(), self.max_kl,
                             self.ls_max_steps, self.ls_backtrack_ratio)
        log["line_search_time"] = time.perf_counter() - start
        self.set_meta_parameters(unflatten(result.params, theta))
        return {**log, "loss_after": result.loss, "kl": result.kl, "step_accepted": result.accepted,
                "ls_steps": result.steps, "reject_reason": result.reject_reason,
                "ls_rejections": result.rejections}

    def _evaluate(self, train_episodes, valid_episodes, params, old_pi):
        """Surrogate loss and KL at trial parameters (first-order adaptation, no outer graph)."""
        with torch.enable_grad():  # the inner loop needs gradients even inside no_grad
            adapted = self.adapt(train_episodes, params, first_order=True)
        adapted = self.deployed({n: p.detach() for n, p in adapted.items()})
        return self._loss_and_kl(self._distributions(train_episodes, valid_episodes, params, adapted), old_pi)


def surrogate_and_kl(pi: Normal, old_pi: Normal, steps: PackedSteps) -> tuple[torch.Tensor, torch.Tensor]:
    """Means over tasks of -E[pi/pi_old * A] and of KL(pi || pi_old); pi's batch shape (K, N, A)."""
    log_ratio = pi.log_prob(steps.actions).sum(-1) - old_pi.log_prob(steps.actions).sum(-1)
    losses = -steps.mean(torch.exp(log_ratio) * steps.advantages)  # (K,)
    kls = steps.mean(kl_divergence(pi, old_pi))  # (K,)
    return losses.mean(), kls.mean()
