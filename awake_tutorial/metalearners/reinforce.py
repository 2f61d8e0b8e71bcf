"""The inner loop of MAML: REINFORCE (vanilla policy gradient) steps on one batch each.

    L_inner(theta) = - E_t[ log pi_theta(a_t | s_t) * A_t ]
    theta'         = theta - fast_lr * grad L_inner(theta)

With per-task parameters (leading dim K, see ``stack_params``) the losses of the K tasks
are summed before differentiating: task k's loss depends only on its own copy, so one
backward pass yields all K per-task gradients.

first_order=True treats the gradient as a constant (FOMAML): d theta'/d theta = I.
first_order=False keeps its graph (create_graph=True), so the outer loop gets the exact
meta-gradient, second derivatives included.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from awake_tutorial.episodes import BatchEpisodes

Params = dict[str, torch.Tensor]


def inner_loss(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor] | None) -> torch.Tensor:
    """REINFORCE loss per task, shape (...) (a scalar for one task).

    ``episodes.advantages`` must be set (see ``BatchEpisodes.compute_advantages``).
    """
    if episodes.advantages is None:
        raise ValueError("episodes have no advantages; call episodes.compute_advantages(...) first.")
    steps = episodes.packed()  # only the steps that ran
    log_probs = policy.distribution(steps.observations, params).log_prob(steps.actions).sum(dim=-1)
    return -steps.mean(log_probs * steps.advantages)


def inner_step(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor], fast_lr: float,
               first_order: bool = True) -> Params:
    """One SGD step theta' = theta - fast_lr * grad inner_loss, for every task at once."""
    params = {name: p if p.requires_grad else p.detach().requires_grad_() for name, p in params.items()}
    loss = inner_loss(policy, episodes, params).sum()  # sum over tasks: per-task gradients
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
    return {name: p - fast_lr * g for (name, p), g in zip(params.items(), grads)}


def adapt(policy, episodes: Sequence[BatchEpisodes], params: Mapping[str, torch.Tensor], fast_lr: float,
          first_order: bool = True) -> Params:
    """``len(episodes)`` inner steps, step i on ``episodes[i]`` (num_steps = len(episodes))."""
    params = dict(params)
    for batch in episodes:
        params = inner_step(policy, batch, params, fast_lr, first_order)
    return params
