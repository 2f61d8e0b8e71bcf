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

The learner owns its loop's settings: ``num_steps`` inner steps of size ``fast_lr`` (or
learned step sizes, :mod:`.meta_sgd`) and the trust region, read from a validated config
(``MAMLTRPO(policy, config, engine)``: the :data:`SETTINGS` keys; the learner has no defaults
of its own, the config's are the defaults). Which path computes it is the ``engine``
(:mod:`awake_tutorial.rl.engine`, chosen there by the config's ``fast_path``). One
meta-batch, as ``learner.meta_batch`` (:mod:`.base`) runs it:

    params = learner.initial_params(K)                       # theta for every task
    for step in range(learner.num_steps):
        D_k = sample(pi_params);  params = learner.adapt_step(D_k, params)
    D'_k = sample(pi_deployed(params))
    learner.step([D_1..], D')                                 # TRPO on the meta-objective

Fisher-vector products (``fisher_product``):
  * "double_backward" (the textbook): exact Hessian of the KL by double backward, through
    the adaptation itself (required for second-order MAML).
  * "analytic" (the fast path's engine, :mod:`awake_tutorial.rl.fast.gradients`): first-order MAML
    makes theta'_k = theta + (constant), so the KL Hessian is the Gaussian Fisher at the
    adapted policies, J^T diag(w / sigma^2) J for the mean network and 2 * I for the
    log-std: the same matrix by one Jacobian-vector and one vector-Jacobian product, ~10x faster.
  * "auto": analytic if first-order on the fast path, else double_backward.
The engine also gives the inner loop's gradient: by hand (fast) or by autograd.
Nothing here knows about a particular environment, nor imports the fast path.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch.distributions import Normal

from awake_tutorial.rl.episodes import BatchEpisodes, PackedSteps
from awake_tutorial.rl.metalearners.base import InnerLoop, MetaLearner
from awake_tutorial.rl.metalearners.inner_bound import bound_step
from awake_tutorial.rl.metalearners.reinforce import StepSizes, inner_loop, inner_step, step_size
from awake_tutorial.rl.metalearners.trpo import (
    OuterProblem,
    flatten,
    gradient,
    hessian_vector_product,
    kl_divergence,
    trpo_update,
    unflatten,
)
from awake_tutorial.rl.policies import stack_params

FISHER_PRODUCTS = ("auto", "analytic", "double_backward")
# the learner's settings, as named in the config (MAMLTRPO reads them from the config it is given)
SETTINGS = ("gamma", "gae_lambda", "fast_lr", "num_steps", "first_order", "max_kl", "cg_iters", "cg_damping",
            "cg_residual_tol", "ls_max_steps", "ls_backtrack_ratio", "fisher_product", "fisher_max_samples",
            "adapted_std", "inner_weighting", "zero_shot_weight", "inner_max_kl")


def detach_distribution(pi: Normal) -> Normal:
    """A copy of ``pi`` that carries no gradient (the "old" policy)."""
    return Normal(pi.loc.detach(), pi.scale.detach(), validate_args=False)


class MAMLTRPO(MetaLearner):
    """Meta-learner: inner loop = REINFORCE (:mod:`.reinforce`), outer loop = TRPO (:mod:`.trpo`).

    Episodes are batched over tasks: every BatchEpisodes has shapes (K, T, B, ...) and
    carries advantages. ``train_episodes`` is a list with one batch per inner step.
    """

    LABEL = "MAML-TRPO"

    def __init__(self, policy, config, engine):
        """``config``: a validated ``awake_tutorial.config.Config`` (its :data:`SETTINGS` are read);
        ``engine``: the textbook or fast implementations (``awake_tutorial.rl.engine.select``)."""
        super().__init__(policy, config, engine)  # the inner loop's settings (.base.InnerLoop)
        settings = {name: getattr(config, name) for name in SETTINGS if name not in InnerLoop.SETTINGS}
        fisher_product, first_order = settings["fisher_product"], settings["first_order"]
        analytic_available = first_order and self._analytic_fisher(engine) is not None
        if fisher_product not in FISHER_PRODUCTS:
            raise ValueError(f"fisher_product must be one of {FISHER_PRODUCTS}, got {fisher_product!r}.")
        if fisher_product == "analytic" and not analytic_available:
            raise ValueError("fisher_product='analytic' is the fast path's first-order Fisher: it needs "
                             "first_order=True and fast_path=True; use 'double_backward' or 'auto'.")
        if fisher_product == "auto":
            settings["fisher_product"] = "analytic" if analytic_available else "double_backward"
        for name, value in settings.items():
            setattr(self, name, value)
        # fisher_max_samples: analytic Fisher, steps per task used (0 = all); adapted_std > 0: std of the
        # adapted policies in the outer loss (see deployed); inner_weighting: how the inner REINFORCE
        # loss weighs steps (.reinforce); zero_shot_weight: weight of the unadapted policy's loss

    @staticmethod
    def _analytic_fisher(engine):
        """The engine's analytic Fisher product for this learner (None: double backward only)."""
        return engine.maml_fisher

    def inner_step_sizes(self) -> StepSizes:
        """The step sizes of :meth:`adapt_step` during meta-training: the learner's own (detached)."""
        sizes = self.step_sizes(self.meta_parameters())
        return sizes if not isinstance(sizes, Mapping) else {n: a.detach() for n, a in sizes.items()}

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

    def inner_loop(self, train_episodes: Sequence[BatchEpisodes], params: Mapping[str, torch.Tensor] | None = None,
                   first_order: bool | None = None) -> dict[str, torch.Tensor]:
        """Per-task adapted parameters theta'_k (K, ...) from meta-parameters ``params`` (default:
        the current ones): ``num_steps`` inner steps, step i on ``train_episodes[i]``."""
        if len(train_episodes) != self.num_steps:
            raise ValueError(f"got {len(train_episodes)} batches of adaptation episodes for num_steps="
                             f"{self.num_steps}; give one batch per inner step.")
        params = self.meta_parameters() if params is None else params
        num_tasks = train_episodes[0].rewards.shape[0]
        first_order = self.first_order if first_order is None else first_order
        theta = stack_params(self.policy_params(params), num_tasks)
        if not self.inner_max_kl:
            return inner_loop(self.policy, train_episodes, theta, self.step_sizes(params), first_order,
                              self.inner_weighting, self.gradient)
        for batch in train_episodes:  # the inner loop, each step inside its trust region
            adapted = inner_step(self.policy, batch, theta, self.step_sizes(params), first_order,
                                 self.inner_weighting, self.gradient)
            theta = bound_step(self.policy, batch, theta, adapted, self.inner_max_kl, self.step_kl)
        return theta

    def surrogate_loss(self, train_episodes, valid_episodes: BatchEpisodes, params=None, old_pi=None,
                       first_order: bool | None = None, adapted=None):
        """(loss, kl, old_pi, adapted params): means over tasks of the surrogate loss and KL.

        With ``old_pi`` None the current adapted policy is the old one (ratio 1, KL 0).
        ``adapted``: first-order only, the adapted params theta'_k already computed at
        ``params`` (e.g. while sampling); they are reused as theta + scale * (theta'_k - theta)
        (:meth:`step_scales`), which has the same value and first-order gradient as adapting again.
        """
        if adapted is None:
            adapted = self.inner_loop(train_episodes, params, first_order)
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

    def analytic_fisher(self, theta, adapted, valid_episodes: BatchEpisodes, train_episodes=None):
        """The fast path's v -> (F + damping I) v at the adapted policies (first order), see
        :func:`awake_tutorial.rl.fast.gradients.maml_fisher` (and ``meta_sgd_fisher``)."""
        return self._analytic_fisher(self.engine)(
            self.policy, theta, adapted, valid_episodes, train_episodes[0] if train_episodes else None,
            max_samples=self.fisher_max_samples, adapted_std=self.adapted_std,
            zero_shot_weight=self.zero_shot_weight, damping=self.cg_damping)

    def step(self, train_episodes: Sequence[BatchEpisodes], valid_episodes: BatchEpisodes,
             adapted: Mapping[str, torch.Tensor] | None = None) -> dict:
        """One TRPO meta-update of the policy's parameters (in place). Returns a log dict.

        ``adapted``: optional per-task adapted params at the current theta (first-order only,
        see :meth:`surrogate_loss`); saves recomputing the inner loop.
        """
        return self.update(self.outer_problem(train_episodes, valid_episodes, adapted))

    def update(self, problem: OuterProblem) -> dict:
        """TRPO on ``problem`` (:func:`.trpo.trpo_update`: CG, then the line search), written into the
        meta-parameters. Returns the log. ``problem`` may cover more tasks than one learner sampled
        (the weighted sum of several parts' problems, ``runs/shards.py``)."""
        theta = self.meta_parameters()
        params, log = trpo_update(problem, flatten(theta).detach(), self.max_kl, self.cg_iters, self.cg_residual_tol,
                                  self.ls_max_steps, self.ls_backtrack_ratio)
        self.set_meta_parameters(unflatten(params, theta))
        return log

    def outer_problem(self, train_episodes: Sequence[BatchEpisodes], valid_episodes: BatchEpisodes,
                      adapted: Mapping[str, torch.Tensor] | None = None) -> OuterProblem:
        """The meta-objective at the current theta as TRPO needs it (:class:`.trpo.OuterProblem`):
        the mean over this meta-batch's tasks of the surrogate loss, its gradient, F v and trial steps."""
        theta = self.meta_parameters()
        if not self.first_order:
            adapted = None
        if self.fisher_product == "analytic" and self.engine.outer is not None:  # first order, by hand
            if adapted is None:
                adapted = {n: p.detach() for n, p in self.inner_loop(train_episodes, theta).items()}
            outer = self.engine.outer(self.policy, theta, adapted, train_episodes, valid_episodes,
                                      fast_lr=self.fast_lr, inner_weighting=self.inner_weighting,
                                      adapted_std=self.adapted_std, zero_shot_weight=self.zero_shot_weight,
                                      inner_max_kl=self.inner_max_kl)
            fvp = self.analytic_fisher(theta, self.deployed(adapted), valid_episodes, train_episodes)

            def evaluate_one(flat_params):
                losses, kls = outer.evaluate(flat_params.unsqueeze(0))
                return losses.item(), kls.item()

            return OuterProblem(outer.loss, outer.gradient, fvp, evaluate_one, outer.evaluate, outer.per_pass)
        # the textbook: autograd through the surrogate loss
        loss, kl, old_pi, adapted = self.surrogate_loss(train_episodes, valid_episodes, theta, adapted=adapted)
        grad = flatten(gradient(loss, theta.values(), retain_graph=True))
        if self.fisher_product == "double_backward":
            fvp = hessian_vector_product(kl, theta, self.cg_damping)
        else:
            fvp = self.analytic_fisher(theta, adapted, valid_episodes, train_episodes)

        def evaluate(flat_params):
            with torch.no_grad():
                new_loss, new_kl = self._evaluate(train_episodes, valid_episodes, unflatten(flat_params, theta), old_pi)
            return new_loss.item(), new_kl.item()

        return OuterProblem(loss.item(), grad, fvp, evaluate)

    def _evaluate(self, train_episodes, valid_episodes, params, old_pi):
        """Surrogate loss and KL at trial parameters (first-order adaptation, no outer graph)."""
        adapted = self.inner_loop(train_episodes, params, first_order=True)  # either gradient works inside no_grad
        adapted = self.deployed({n: p.detach() for n, p in adapted.items()})
        return self._loss_and_kl(self._distributions(train_episodes, valid_episodes, params, adapted), old_pi)


def surrogate_and_kl(pi: Normal, old_pi: Normal, steps: PackedSteps) -> tuple[torch.Tensor, torch.Tensor]:
    """Means over tasks of -E[pi/pi_old * A] and of KL(pi || pi_old); pi's batch shape (K, N, A)."""
    log_ratio = pi.log_prob(steps.actions).sum(-1) - old_pi.log_prob(steps.actions).sum(-1)
    losses = -steps.mean(torch.exp(log_ratio) * steps.advantages)  # (K,)
    kls = steps.mean(kl_divergence(pi, old_pi))  # (K,)
    return losses.mean(), kls.mean()
