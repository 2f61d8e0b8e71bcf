"""A safeguard on the inner step: bound how much one adaptation step may change the policy.

One REINFORCE step moves task k's parameters by Delta_k = theta'_k - theta. Its size is
the step size times a gradient whose scale the task sets: with the "sum" weighting an
episode that runs to the time limit (a cycling policy) contributes 100 steps, so the
step is largest exactly where the policy is already unstable, and a step that raises
the policy's gain too far makes the closed loop overshoot (a limit cycle).

With ``inner_max_kl`` = delta > 0, each task's step is scaled, a trust region on the
inner step as TRPO puts one on the outer step:

    theta'_k = theta + c_k Delta_k,   c_k = min(1, sqrt(delta / KL_k)),
    KL_k = E_s[ KL(pi_theta+Delta_k(.|s) || pi_theta(.|s)) ]  over the batch's states s

(E_s with the inner loss's step weights). In the quadratic model of the KL the scaled
step's KL is c_k^2 KL_k <= delta. c_k is computed without gradient: a constant for the
meta-gradient, as the first-order inner gradient is. delta = 0 leaves every step as it is.
Shapes: per-task parameters (K, ...), c (K,).
"""

from __future__ import annotations

from typing import Mapping

import torch

from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners.trpo import kl_divergence


def step_kl(policy, episodes: BatchEpisodes, theta: Mapping[str, torch.Tensor],
            adapted: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """KL_k (K,) of the module docstring, with ``torch.distributions`` on the packed steps (the
    textbook; the fast path's ``rl.fast.outer.step_kl`` gives the same on the steps that ran)."""
    steps = episodes.packed()
    with torch.no_grad():
        pi_new = policy.distribution(steps.observations, {n: p.detach() for n, p in adapted.items()})
        pi_old = policy.distribution(steps.observations, {n: p.detach() for n, p in theta.items()})
        return steps.mean(kl_divergence(pi_new, pi_old))


def step_scale(policy, episodes: BatchEpisodes, theta: Mapping[str, torch.Tensor],
               adapted: Mapping[str, torch.Tensor], max_kl: float, kl=step_kl) -> torch.Tensor:
    """c_k (K,) of the module docstring: 1 where the step's KL is within ``max_kl`` nats.
    ``kl``: how KL_k is computed (:func:`step_kl`, or the engine's fast one)."""
    with torch.no_grad():
        return (max_kl / kl(policy, episodes, theta, adapted).clamp(min=1e-30)).sqrt().clamp(max=1.0)


def bound_step(policy, episodes: BatchEpisodes, theta: Mapping[str, torch.Tensor],
               adapted: Mapping[str, torch.Tensor], max_kl: float, kl=step_kl) -> dict[str, torch.Tensor]:
    """theta + c_k (theta'_k - theta) for every task k; ``adapted`` unchanged if max_kl is 0."""
    if not max_kl:
        return dict(adapted)
    scale = step_scale(policy, episodes, theta, adapted, max_kl, kl)
    return {n: theta[n] + scale.view(-1, *[1] * (theta[n].dim() - 1)) * (adapted[n] - theta[n]) for n in theta}
