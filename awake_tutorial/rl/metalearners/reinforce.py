"""The inner loop of MAML: REINFORCE (vanilla policy gradient) steps on one batch each.

    L_inner(theta) = - E_t[ log pi_theta(a_t | s_t) * A_t ]
    theta'         = theta - fast_lr * grad L_inner(theta)

``fast_lr`` is one number (MAML) or one step size per parameter tensor, {name: alpha_n}
(Meta-SGD, :mod:`.meta_sgd`): theta'_n = theta_n - alpha_n * grad_n L_inner(theta).

``weighting`` says how E_t weighs the steps of the B episodes:
  * "mean" (the reference, pytorch-maml-rl): mean over each episode's steps, then over
    the episodes, so every episode counts the same whatever its length;
  * "sum" (the textbook estimator, grad J = E_tau[ sum_t grad log pi(a_t|s_t) A_t ]):
    sum over each episode's steps, mean over the episodes. An episode that needs many
    steps (a task the policy does not yet solve) moves theta more than one that ends
    after one step (a task it already solves).

With per-task parameters (leading dim K, see ``stack_params``) the losses of the K tasks
are summed before differentiating: task k's loss depends only on its own copy, so one
backward pass yields all K per-task gradients.

first_order=True treats the gradient as a constant (FOMAML): d theta'/d theta = I; it is
:func:`policy_gradient`, by autograd (the fast path passes its hand-written
``rl.fast.gradients.reinforce_gradient`` instead: same numbers, tested). first_order=False
keeps its graph (create_graph=True), so the outer loop gets the exact meta-gradient,
second derivatives included.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from awake_tutorial.rl.episodes import WEIGHTINGS, BatchEpisodes, step_weights  # noqa: F401 (re-export)
from awake_tutorial.rl.policies import Params

def inner_loss(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor] | None,
               weighting: str = "mean") -> torch.Tensor:
    """REINFORCE loss per task, shape (...) (a scalar for one task).

    ``episodes.advantages`` must be set (see ``BatchEpisodes.compute_advantages``).
    """
    if episodes.advantages is None:
        raise ValueError("episodes have no advantages; call episodes.compute_advantages(...) first.")
    steps = episodes.packed()  # only the steps that ran
    log_probs = policy.distribution(steps.observations, params).log_prob(steps.actions).sum(dim=-1)
    return -(log_probs * steps.advantages * step_weights(episodes, weighting)).sum(dim=-1)


def policy_gradient(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor],
                    weighting: str = "mean") -> Params:
    """grad inner_loss w.r.t. ``params`` (per task (K, ...), or one set), by autograd, as constants."""
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    with torch.enable_grad():  # also inside no_grad (the line search)
        loss = inner_loss(policy, episodes, params, weighting).sum()  # sum over tasks: per-task gradients
        grads = torch.autograd.grad(loss, list(params.values()))
    return dict(zip(params, grads))


Gradient = Callable[..., Params]  # (policy, episodes, params, weighting) -> gradient, like policy_gradient


StepSizes = float | Mapping[str, torch.Tensor]  # one step size, or one per parameter tensor


def step_size(fast_lr: StepSizes, name: str):
    """The step size of parameter ``name``: ``fast_lr`` itself or ``fast_lr[name]``."""
    return fast_lr[name] if isinstance(fast_lr, Mapping) else fast_lr


def inner_step(policy, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor], fast_lr: StepSizes,
               first_order: bool = True, weighting: str = "mean", gradient: Gradient = policy_gradient) -> Params:
    """One SGD step theta' = theta - fast_lr * grad inner_loss, for every task at once.

    First order: the gradient is a constant (``gradient``, default :func:`policy_gradient`),
    so theta' depends on theta only through "theta -". Second order: autograd keeps
    the gradient's graph (create_graph=True) for the meta-gradient.
    """
    if first_order:
        grads = gradient(policy, episodes, params, weighting)
        return {name: p - step_size(fast_lr, name) * grads[name] for name, p in params.items()}
    params = {name: p if p.requires_grad else p.detach().requires_grad_() for name, p in params.items()}
    loss = inner_loss(policy, episodes, params, weighting).sum()  # sum over tasks: per-task gradients
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    return {name: p - step_size(fast_lr, name) * g for (name, p), g in zip(params.items(), grads)}


def inner_loop(policy, episodes: Sequence[BatchEpisodes], params: Mapping[str, torch.Tensor],
               fast_lr: StepSizes, first_order: bool = True, weighting: str = "mean",
               gradient: Gradient = policy_gradient) -> Params:
    """The inner loop: one :func:`inner_step` per batch, step i on ``episodes[i]``."""
    params = dict(params)
    for batch in episodes:
        params = inner_step(policy, batch, params, fast_lr, first_order, weighting, gradient)
    return params
