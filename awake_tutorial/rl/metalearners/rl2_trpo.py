"""RL² (Duan et al. 2016; Wang et al. 2016): a recurrent policy that adapts in its hidden state,
trained with the course's TRPO step (:mod:`.trpo`: conjugate gradient, KL line search).

The learner registered as ``rl2-trpo`` (:mod:`.registry`); its settings are the config's ``rl2``
section. One meta-batch: sample episodes of every task with the GRU policy (its hidden state
starts at 0 in every episode), fit a linear baseline per task on the inputs x_t (reading, change
of reading, previous applied action), then one TRPO step

    min -E[pi/pi_old A]  s.t.  E[KL(pi_old || pi)] <= max_kl   (means over all steps),

the KL Hessian estimated on ``fisher_episodes`` episodes. There is no inner gradient step: what
the policy knows of a task it learns within the episode.

Under ``meta_train`` (``learner: rl2-trpo``) a meta-batch has the config's ``meta_batch_size``
tasks and ``fast_batch_size`` episodes per task from the course's sampler, and the ``rl2``
section gives the policy (hidden_size, init_std), gamma, gae_lambda and the TRPO settings;
``python -m awake_tutorial.runs.rl2`` is the recipe of the shipped policy (its own rollouts and
iteration count, the rest of ``rl2``), with the same step (:func:`trpo_step`).
"""

from __future__ import annotations

import math
import time

import torch

from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners.base import MetaBatch, Stopwatch
from awake_tutorial.rl.metalearners.trpo import (conjugate_gradient, flatten, gradient, hessian_vector_product,
                                                 kl_divergence, line_search, unflatten)
from awake_tutorial.rl.recurrent import FEATURES, GaussianGRUPolicy, features


def trpo_step(policy: GaussianGRUPolicy, x: torch.Tensor, batch: BatchEpisodes, settings) -> dict:
    """One TRPO update of ``policy`` on inputs x (N, T, 30) of the episodes in ``batch`` (K, T, B);
    ``settings``: the config's ``rl2`` section (max_kl, cg_iters, cg_damping, fisher_episodes)."""
    K, T, B = batch.mask.shape
    to_episodes = (lambda a: a.transpose(1, 2).reshape(K * B, T, *a.shape[3:]))
    actions, mask, adv = to_episodes(batch.actions), to_episodes(batch.mask), to_episodes(batch.advantages)
    params = dict(policy.named_parameters())
    lengths = mask.sum(1)
    with torch.no_grad():
        old = policy.distribution(x, lengths)
    old_log_prob = old.log_prob(actions).sum(-1)

    def evaluate_at(values, rows=slice(None)):
        pi = _distribution(policy, values, x[rows], lengths[rows])
        old_rows = torch.distributions.Normal(old.loc[rows], old.scale[rows], validate_args=False)
        w = mask[rows] / mask[rows].sum()
        ratio = torch.exp(pi.log_prob(actions[rows]).sum(-1) - old_log_prob[rows])
        return -(ratio * adv[rows] * w).sum(), (kl_divergence(old_rows, pi) * w).sum()

    loss, _ = evaluate_at(params)
    grad = flatten(gradient(loss, params.values()))
    rows = torch.randperm(K * B, generator=torch.Generator().manual_seed(0))[:settings.fisher_episodes]
    _, kl = evaluate_at(params, rows)
    fvp = hessian_vector_product(kl, params, settings.cg_damping)
    direction, cg_iters_used, cg_residual = conjugate_gradient(fvp, grad, settings.cg_iters)
    shs = 0.5 * torch.dot(direction, fvp(direction)).item()
    old_flat = flatten(params).detach()
    log = {"loss_before": loss.item(), "cg_iters_used": int(cg_iters_used), "cg_residual": float(cg_residual)}
    if not (math.isfinite(shs) and shs > 0):
        return {"accepted": False, "kl": 0.0, **log, "loss_after": loss.item(), "ls_steps": 0,
                "reject_reason": "bad curvature", "ls_rejections": {}}

    def trial(flat):
        with torch.no_grad():
            new_loss, new_kl = evaluate_at(unflatten(flat, params))
        return new_loss.item(), new_kl.item()

    result = line_search(trial, old_flat, direction * math.sqrt(settings.max_kl / shs), loss.item(),
                         settings.max_kl, 15, 0.6)
    with torch.no_grad():
        for name, value in unflatten(result.params, params).items():
            params[name].copy_(value)
    return {"accepted": result.accepted, "kl": result.kl, **log, "loss_after": result.loss, "ls_steps": result.steps,
            "reject_reason": result.reject_reason, "ls_rejections": result.rejections}


def _distribution(policy: GaussianGRUPolicy, values: dict, x: torch.Tensor,
                  lengths: torch.Tensor) -> torch.distributions.Normal:
    """pi for inputs x (N, T, 30) of episodes of ``lengths`` steps at parameter ``values``
    (a dict by the policy's parameter names)."""
    mean = torch.func.functional_call(policy, values, (x, lengths))
    return torch.distributions.Normal(mean, values["log_std"].exp().expand_as(mean), validate_args=False)


def with_advantages(x: torch.Tensor, batch: BatchEpisodes, settings) -> BatchEpisodes:
    """``batch`` with GAE advantages from a linear baseline fit per task on the inputs x (K*B, T, 30)."""
    K, T, B = batch.mask.shape
    inputs = x.reshape(K, B, T, FEATURES).transpose(1, 2)  # (K, T, B, 30)
    return add_advantages(BatchEpisodes(inputs, batch.actions, batch.rewards, batch.mask, batch.success), settings)


class RL2TRPO:
    """The RL² meta-learner: ``RL2TRPO(policy, config, engine)`` reads ``config.rl2``; no inner step."""

    LABEL = "RL²-TRPO"
    LEARNS_STEP_SIZES = False

    def __init__(self, policy: GaussianGRUPolicy, config, engine):
        if not isinstance(policy, GaussianGRUPolicy):
            raise ValueError(f"rl2-trpo trains a GaussianGRUPolicy, got {type(policy).__name__}; build it with "
                             "RL2TRPO.new_policy(config, seed).")
        self.policy, self.settings, self.engine = policy, config.rl2, engine

    @staticmethod
    def new_policy(config, seed: int) -> GaussianGRUPolicy:
        """A fresh GRU policy of the config's ``rl2`` architecture, its weights from ``seed``."""
        return GaussianGRUPolicy(config.rl2.hidden_size, config.rl2.init_std, seed=seed)

    def meta_batch(self, streams, num_tasks: int, stopwatch: Stopwatch | None = None) -> MetaBatch:
        """Sample the tasks' episodes (``streams``), then one TRPO step; the episodes are both the
        "before" and the "after" of the record (adaptation happens inside them)."""
        stopwatch = stopwatch or Stopwatch()
        with stopwatch("sampling"):
            episodes = streams.sample(self.policy)
        with stopwatch("inner"):
            K, T, B = episodes.mask.shape
            time_major = (lambda a: a.permute(1, 0, 2, 3).reshape(T, K * B, -1).numpy())
            x = features(time_major(episodes.observations), time_major(episodes.actions))
            batch = with_advantages(x, episodes, self.settings)
        with stopwatch("outer"):
            start = time.perf_counter()
            log = trpo_step(self.policy, x, batch, self.settings)
            log = {**log, "step_accepted": log.pop("accepted"), "cg_time": 0.0,
                   "line_search_time": time.perf_counter() - start}
        return MetaBatch([episodes], episodes, log)
