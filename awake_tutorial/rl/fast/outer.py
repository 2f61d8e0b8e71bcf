"""Fast path: the first-order TRPO meta-update's loss, gradient and line search by hand.

The textbook step (``metalearners.maml_trpo.MAMLTRPO.step``) builds the surrogate loss with
``torch.distributions``, differentiates it by autograd and evaluates the line search's trial
steps one after another, each re-running the inner loop. Same maths here, with less overhead:

* the gradient at the old parameters, where every ratio pi / pi_old is 1: per task, the
  surrogate's gradient w.r.t. the adapted parameters is a REINFORCE gradient,
  -(1/K) sum_n w_n A_n grad log pi(a_n | s_n), carried back through the MLP by
  :meth:`MeanJacobian.vjp`; first-order MAML adds the tasks' gradients (d theta'_k / d theta
  = I), and Meta-SGD's log step sizes get sum_k <g_k,n, theta'_k,n - theta_n> per tensor n
  (see ``metalearners.meta_sgd``). The zero-shot term is the same at theta on the first
  adaptation batch.
* the line search's candidates theta_c = theta - ratio^c * step: one inner step and one
  forward pass per candidate, all candidates of a pass stacked along the task dimension
  (:data:`CANDIDATES_PER_PASS`; measured, 2-4 at once cost 2-4x one: the work is arithmetic,
  not call overhead, so one per pass). The inner step's forward pass at theta_c on the first
  adaptation batch is also the zero-shot term's mean, computed once.
* the Gaussian log-ratio and KL in closed form for per-task stds (K, A):
  log pi - log pi_old = sum_a [(a - mu_old)^2 / 2 sigma_old^2 - (a - mu)^2 / 2 sigma^2 + log sigma_old - log sigma],
  KL(pi || pi_old) = sum_a [log sigma_old - log sigma + (sigma^2 + (mu - mu_old)^2) / 2 sigma_old^2 - 1/2].

* the inner step's trust region (``inner_max_kl`` > 0, ``metalearners.inner_bound``) on each
  candidate's inner steps, as the textbook's ``adapt`` applies it: c = min(1, sqrt(inner_max_kl / KL))
  per candidate and task, KL in closed form on the batch's states (one more forward pass per step).
  At theta the ``adapted`` handed in are already bounded, and c is a constant for the gradient
  in both paths, so the gradient above is unchanged.

Settings are passed as values (``fast_lr``, ``inner_weighting``, ``adapted_std``,
``zero_shot_weight``, ``inner_max_kl``), never the learner; ``tests/test_fast_path.py`` compares with the
textbook step.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from awake_tutorial.rl.episodes import BatchEpisodes, step_weights
from awake_tutorial.rl.fast.gradients import MeanJacobian
from awake_tutorial.rl.policies import STEP_SIZES, Params, flatten

CANDIDATES_PER_PASS = 1  # line-search steps per pass: 2-4 cost 2-4x one (measured: the work is arithmetic, not overhead)


def _gaussian_kl(mean, log_std, old_mean, old_log_std, weights):
    """Per task (G,): sum_n w_n KL(pi(.|s_n) || pi_old(.|s_n)); means (G, N, A), log-stds (G, A)
    or broadcastable, weights (G, N)."""
    log_std_diff = (old_log_std - log_std).unsqueeze(-2)  # log sigma_old - log sigma
    mean_diff = mean - old_mean
    old_inv_var = torch.exp(-2 * old_log_std).unsqueeze(-2)
    kl = (log_std_diff + 0.5 * (torch.exp(-2 * log_std_diff) + mean_diff * mean_diff * old_inv_var) - 0.5).sum(-1)
    return (weights * kl).sum(-1)


def _gaussian_terms(actions, mean, log_std, old_mean, old_log_std, weights, advantages):
    """Per task (G,): -sum_n w A pi/pi_old and sum_n w KL(pi || pi_old); means (G, N, A),
    log-stds (G, A) or broadcastable, weights and advantages (G, N)."""
    inv_var, old_inv_var = torch.exp(-2 * log_std).unsqueeze(-2), torch.exp(-2 * old_log_std).unsqueeze(-2)
    diff, old_diff = actions - mean, actions - old_mean
    log_ratio = (0.5 * (old_diff * old_diff * old_inv_var - diff * diff * inv_var)
                 + (old_log_std - log_std).unsqueeze(-2)).sum(-1)
    return (-(weights * advantages * torch.exp(log_ratio)).sum(-1),
            _gaussian_kl(mean, log_std, old_mean, old_log_std, weights))


def _score_gradient(jacobian: MeanJacobian, actions, log_std, coef, with_log_std: bool) -> Params:
    """sum_n coef_n grad log pi(a_n | s_n) per task (G, ...): the mean's part through the MLP,
    the log-std's (a - mu)^2 / sigma^2 - 1 (if ``with_log_std``, else zero)."""
    inv_var = torch.exp(-2 * log_std).unsqueeze(-2)  # (G, 1, A)
    diff = actions - jacobian.output
    coef = coef.unsqueeze(-1)
    grads = jacobian.vjp(coef * diff * inv_var, per_task=True)
    grads["log_std"] = (coef * (diff * diff * inv_var - 1)).sum(1) if with_log_std else torch.zeros_like(log_std)
    return grads


def _repeat(x: torch.Tensor, times: int) -> torch.Tensor:
    """(K, ...) -> (times * K, ...), block c holding x (candidate c of every task)."""
    return x.unsqueeze(0).expand(times, *x.shape).reshape(times * x.shape[0], *x.shape[1:])


class FirstOrderOuter:
    """The meta-objective of one meta-batch around theta (first order, fast path).

    Args:
        policy: the Gaussian MLP (its architecture; parameters come from ``theta``).
        theta: the meta-parameters by name: the policy's, plus ``log_step_sizes`` (Meta-SGD).
        adapted: theta'_k at theta, per task (K, ...), as sampled (not deployed; inner steps bounded).
        train_episodes: one batch per inner step, with advantages; valid_episodes: likewise.
    Attributes: ``loss`` (float, at theta) and ``gradient`` (flat, in theta's order).
    :meth:`evaluate` gives (loss, KL) at candidate meta-parameters.
    """

    def __init__(self, policy, theta: Mapping[str, torch.Tensor], adapted: Mapping[str, torch.Tensor],
                 train_episodes: Sequence[BatchEpisodes], valid_episodes: BatchEpisodes, *, fast_lr: float,
                 inner_weighting: str, adapted_std: float, zero_shot_weight: float, inner_max_kl: float):
        self.policy, self.names = policy, list(policy.params())
        self.theta = {n: t.detach() for n, t in theta.items()}
        self.fast_lr, self.adapted_std, self.zero_shot_weight = fast_lr, adapted_std, zero_shot_weight
        self.inner_max_kl = inner_max_kl
        self.per_pass = CANDIDATES_PER_PASS
        self.train = [(e.packed(), step_weights(e, inner_weighting)) for e in train_episodes]
        self.valid = valid_episodes.packed()
        self.num_tasks = valid_episodes.rewards.shape[0]
        with torch.no_grad():
            self.gradient = self._gradient({n: a.detach() for n, a in adapted.items()})

    def _deployed_log_std(self, log_std: torch.Tensor) -> torch.Tensor:
        return torch.full_like(log_std, math.log(self.adapted_std)) if self.adapted_std else log_std

    def _gradient(self, adapted: Params) -> torch.Tensor:
        K, valid = self.num_tasks, self.valid
        log_std = self._deployed_log_std(adapted["log_std"])
        deployed = {**adapted, "log_std": log_std}
        jacobian = MeanJacobian(self.policy, valid.observations, deployed)
        self.old_valid = (jacobian.output, log_std)
        per_task = _score_gradient(jacobian, valid.actions, log_std, -valid.weights * valid.advantages / K,
                                   not self.adapted_std)
        grads = {n: per_task[n].sum(0) for n in self.names}
        loss = -valid.mean(valid.advantages).mean()
        if STEP_SIZES in self.theta:  # d theta'_k,n / d log alpha_n = theta'_k,n - theta_n
            grads[STEP_SIZES] = torch.stack([(per_task[n] * (adapted[n] - self.theta[n])).sum() for n in self.names])
        if self.zero_shot_weight:
            steps = self.train[0][0]
            params = {n: self.theta[n].unsqueeze(0) for n in self.names}  # one set for all tasks, (1, ...)
            jacobian = MeanJacobian(self.policy, steps.observations.reshape(1, -1, steps.observations.shape[-1]), params)
            self.old_zero_shot = (jacobian.output.view_as(steps.actions), self.theta["log_std"])
            coef = -self.zero_shot_weight / K * (steps.weights * steps.advantages).reshape(1, -1)
            zero_shot = _score_gradient(jacobian, steps.actions.reshape(1, -1, steps.actions.shape[-1]),
                                        params["log_std"], coef, True)
            for n in self.names:
                grads[n] = grads[n] + zero_shot[n][0]
            loss = loss - self.zero_shot_weight * steps.mean(steps.advantages).mean()
        self.loss = float(loss)
        return flatten([grads[n] for n in self.theta])

    def _bound(self, steps, C: int, params: Params, mean: torch.Tensor, stepped: Params) -> Params:
        """The inner step's trust region (``metalearners.inner_bound``): params + c (stepped - params),
        c = min(1, sqrt(inner_max_kl / KL)) per candidate and task (G = C * K), KL(pi_stepped || pi_params)
        on the batch's states weighted as ``steps.mean``; ``mean`` (G, N, A) is pi_params' mean there."""
        stepped_mean = self.policy.forward_layers(_repeat(steps.observations, C), stepped)[-1]
        kl = _gaussian_kl(stepped_mean, stepped["log_std"], mean, params["log_std"], _repeat(steps.weights, C))
        scale = (self.inner_max_kl / kl.clamp(min=1e-30)).sqrt().clamp(max=1.0)
        return {n: p + _expand_like(scale, p) * (stepped[n] - p) for n, p in params.items()}

    def evaluate(self, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(losses (C,), KLs (C,)) at C candidate meta-parameters, rows of ``candidates`` (C, P):
        the inner loop re-run from each (first order), then the surrogate and KL against the
        old policies, plus the zero-shot term; all candidates in one batched pass."""
        C, K = candidates.shape[0], self.num_tasks
        pieces = torch.split(candidates, [t.numel() for t in self.theta.values()], dim=1)
        cand = {n: piece.reshape(C, *t.shape) for (n, t), piece in zip(self.theta.items(), pieces)}
        with torch.no_grad():
            if STEP_SIZES in cand:  # alpha_n per candidate, (C, number of tensors) -> (C * K, 1, ...)
                alphas = torch.exp(cand[STEP_SIZES])
                sizes = {n: _repeat_candidates(alphas[:, i], K) for i, n in enumerate(self.names)}
            else:
                sizes = {n: self.fast_lr for n in self.names}
            params = {n: _repeat_candidates(cand[n], K) for n in self.names}  # (C * K, ...), task-minor
            zero_shot_mean = None
            for i, (steps, weights) in enumerate(self.train):
                jacobian = MeanJacobian(self.policy, _repeat(steps.observations, C), params)
                if i == 0:
                    zero_shot_mean = jacobian.output  # theta_c on the first batch: the unadapted policy
                grads = _score_gradient(jacobian, _repeat(steps.actions, C), params["log_std"],
                                        -_repeat(weights * steps.advantages, C), True)
                stepped = {n: p - _expand_like(sizes[n], p) * grads[n] for n, p in params.items()}
                params = self._bound(steps, C, params, jacobian.output, stepped) if self.inner_max_kl else stepped
            valid, old_mean, old_log_std = self.valid, *self.old_valid
            mean = self.policy.forward_layers(_repeat(valid.observations, C), params)[-1]
            log_std = self._deployed_log_std(params["log_std"])
            losses, kls = _gaussian_terms(_repeat(valid.actions, C), mean, log_std, _repeat(old_mean, C),
                                          _repeat(old_log_std, C), _repeat(valid.weights, C),
                                          _repeat(valid.advantages, C))
            losses, kls = losses.view(C, K).mean(1), kls.view(C, K).mean(1)
            if self.zero_shot_weight:
                steps, old_mean, old_log_std = self.train[0][0], *self.old_zero_shot
                z_losses, z_kls = _gaussian_terms(_repeat(steps.actions, C), zero_shot_mean,
                                                  _repeat_candidates(cand["log_std"], K), _repeat(old_mean, C),
                                                  old_log_std, _repeat(steps.weights, C), _repeat(steps.advantages, C))
                losses = losses + self.zero_shot_weight * z_losses.view(C, K).mean(1)
                kls = kls + self.zero_shot_weight * z_kls.view(C, K).mean(1)
        return losses, kls


def _repeat_candidates(x: torch.Tensor, num_tasks: int) -> torch.Tensor:
    """(C, ...) -> (C * K, ...): candidate c's tensor for each of its K tasks."""
    return x.unsqueeze(1).expand(x.shape[0], num_tasks, *x.shape[1:]).reshape(-1, *x.shape[1:])


def _expand_like(size, p: torch.Tensor):
    """A step size (float, or (G,) per candidate and task) shaped to multiply p (G, ...)."""
    return size if isinstance(size, float) else size.view(-1, *([1] * (p.dim() - 1)))
