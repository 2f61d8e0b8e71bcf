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
* every per-task product runs on the steps that ran only, in chunks of one task each
  (:mod:`.chunks`): the (K, N) packed layout pads each task to the longest one (~3.7x the
  mean over a default training), and at these sizes the line search is bound by arithmetic.
* the Gaussian log-ratio and KL in closed form for per-task stds (K, A):
  log pi - log pi_old = sum_a [(a - mu_old)^2 / 2 sigma_old^2 - (a - mu)^2 / 2 sigma^2 + log sigma_old - log sigma],
  KL(pi || pi_old) = sum_a [log sigma_old - log sigma + (sigma^2 + (mu - mu_old)^2) / 2 sigma_old^2 - 1/2].

* the inner step's trust region (``inner_max_kl`` > 0, ``metalearners.inner_bound``) on each
  candidate's inner steps, as the textbook's ``inner_loop`` applies it: c = min(1, sqrt(inner_max_kl / KL))
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
from awake_tutorial.rl.fast.chunks import ChunkedSteps
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


def step_kl(policy, episodes: BatchEpisodes, theta: Mapping[str, torch.Tensor],
            adapted: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """KL_k (K,) of an inner step from per-task ``theta`` to ``adapted`` (``metalearners.inner_bound``):
    sum_n w_n KL(pi_adapted(.|s_n) || pi_theta(.|s_n)) over the steps that ran, in chunks (no padding),
    in closed form. The textbook ``inner_bound.step_kl`` computes the same with torch.distributions."""
    chunked = ChunkedSteps.of(episodes.packed())
    chunks = chunked.chunks
    with torch.no_grad():
        new, old = ({n: chunks.params(p.detach()) for n, p in params.items()} for params in (adapted, theta))
        new_mean, old_mean = (policy.forward_layers(chunked.observations, p)[-1] for p in (new, old))
        return chunks.sum_tasks(_gaussian_kl(new_mean, new["log_std"], old_mean, old["log_std"], chunked.weights))


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
        # the steps that ran, in chunks of one task each (.chunks): the padding's arithmetic is skipped
        self.train_chunks = [ChunkedSteps.of(steps, weights) for steps, weights in self.train]
        self.valid_chunks = ChunkedSteps.of(self.valid)
        self.num_tasks = valid_episodes.rewards.shape[0]
        with torch.no_grad():
            self.gradient = self._gradient({n: a.detach() for n, a in adapted.items()})

    def _deployed_log_std(self, log_std: torch.Tensor) -> torch.Tensor:
        return torch.full_like(log_std, math.log(self.adapted_std)) if self.adapted_std else log_std

    def _gradient(self, adapted: Params) -> torch.Tensor:
        K, valid, chunked = self.num_tasks, self.valid, self.valid_chunks
        log_std = self._deployed_log_std(adapted["log_std"])
        deployed = {n: chunked.chunks.params(p) for n, p in {**adapted, "log_std": log_std}.items()}
        jacobian = MeanJacobian(self.policy, chunked.observations, deployed)
        self.old_valid = (jacobian.output, deployed["log_std"])  # per chunk
        per_chunk = _score_gradient(jacobian, chunked.actions, deployed["log_std"],
                                    -chunked.weights * chunked.advantages / K, not self.adapted_std)
        per_task = {n: chunked.chunks.sum_tasks(per_chunk[n]) for n in self.names}
        grads = {n: per_task[n].sum(0) for n in self.names}
        loss = -valid.mean(valid.advantages).mean()
        if STEP_SIZES in self.theta:  # d theta'_k,n / d log alpha_n = theta'_k,n - theta_n
            grads[STEP_SIZES] = torch.stack([(per_task[n] * (adapted[n] - self.theta[n])).sum() for n in self.names])
        if self.zero_shot_weight:
            steps, chunked = self.train[0][0], self.train_chunks[0]
            params = {n: self.theta[n].unsqueeze(0) for n in self.names}  # one set for all tasks, (1, ...)
            obs, actions = chunked.observations, chunked.actions  # all steps as one batch, (1, G L, .)
            jacobian = MeanJacobian(self.policy, obs.reshape(1, -1, obs.shape[-1]), params)
            self.old_zero_shot = (jacobian.output.view_as(actions), self.theta["log_std"])
            coef = -self.zero_shot_weight / K * (chunked.weights * chunked.advantages).reshape(1, -1)
            zero_shot = _score_gradient(jacobian, actions.reshape(1, -1, actions.shape[-1]),
                                        params["log_std"], coef, True)
            for n in self.names:
                grads[n] = grads[n] + zero_shot[n][0]
            loss = loss - self.zero_shot_weight * steps.mean(steps.advantages).mean()
        self.loss = float(loss)
        return flatten([grads[n] for n in self.theta])

    def _bound(self, chunked: ChunkedSteps, C: int, params: Params, mean: torch.Tensor, stepped: Params) -> Params:
        """The inner step's trust region (``metalearners.inner_bound``): params + c (stepped - params),
        c = min(1, sqrt(inner_max_kl / KL)) per candidate and task (G = C * K), KL(pi_stepped || pi_params)
        on the batch's states weighted as ``steps.mean``; ``mean`` (C * chunks, L, A) is pi_params' mean there."""
        chunks = chunked.chunks
        per_chunk = {n: chunks.params(p, C) for n, p in stepped.items()}
        stepped_mean = self.policy.forward_layers(_repeat(chunked.observations, C), per_chunk)[-1]
        kl = _gaussian_kl(stepped_mean, per_chunk["log_std"], mean, chunks.params(params["log_std"], C),
                          _repeat(chunked.weights, C))
        kl = chunks.sum_tasks(kl, C)
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
            for i, chunked in enumerate(self.train_chunks):
                chunks = chunked.chunks
                per_chunk = {n: chunks.params(p, C) for n, p in params.items()}
                jacobian = MeanJacobian(self.policy, _repeat(chunked.observations, C), per_chunk)
                if i == 0:
                    zero_shot_mean = jacobian.output  # theta_c on the first batch: the unadapted policy
                grads = _score_gradient(jacobian, _repeat(chunked.actions, C), per_chunk["log_std"],
                                        _repeat(chunked.coef, C), True)
                stepped = {n: p - _expand_like(sizes[n], p) * chunks.sum_tasks(grads[n], C) for n, p in params.items()}
                params = self._bound(chunked, C, params, jacobian.output, stepped) if self.inner_max_kl else stepped
            valid, (old_mean, old_log_std) = self.valid_chunks, self.old_valid
            per_chunk = {n: valid.chunks.params(p, C) for n, p in params.items()}
            mean = self.policy.forward_layers(_repeat(valid.observations, C), per_chunk)[-1]
            log_std = self._deployed_log_std(per_chunk["log_std"])
            losses, kls = _gaussian_terms(_repeat(valid.actions, C), mean, log_std, _repeat(old_mean, C),
                                          _repeat(old_log_std, C), _repeat(valid.weights, C),
                                          _repeat(valid.advantages, C))
            losses = valid.chunks.sum_tasks(losses, C).view(C, K).mean(1)
            kls = valid.chunks.sum_tasks(kls, C).view(C, K).mean(1)
            if self.zero_shot_weight:
                chunked, (old_mean, old_log_std) = self.train_chunks[0], self.old_zero_shot
                log_std = chunked.chunks.params(_repeat_candidates(cand["log_std"], K), C)
                z_losses, z_kls = _gaussian_terms(_repeat(chunked.actions, C), zero_shot_mean, log_std,
                                                  _repeat(old_mean, C), old_log_std, _repeat(chunked.weights, C),
                                                  _repeat(chunked.advantages, C))
                losses = losses + self.zero_shot_weight * chunked.chunks.sum_tasks(z_losses, C).view(C, K).mean(1)
                kls = kls + self.zero_shot_weight * chunked.chunks.sum_tasks(z_kls, C).view(C, K).mean(1)
        return losses, kls


def _repeat_candidates(x: torch.Tensor, num_tasks: int) -> torch.Tensor:
    """(C, ...) -> (C * K, ...): candidate c's tensor for each of its K tasks."""
    return x.unsqueeze(1).expand(x.shape[0], num_tasks, *x.shape[1:]).reshape(-1, *x.shape[1:])


def _expand_like(size, p: torch.Tensor):
    """A step size (float, or (G,) per candidate and task) shaped to multiply p (G, ...)."""
    return size if isinstance(size, float) else size.view(-1, *([1] * (p.dim() - 1)))
