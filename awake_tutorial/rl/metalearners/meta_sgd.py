"""Meta-SGD (Li et al. 2017): MAML that also learns the inner loop's step sizes.

MAML adapts with one hand-set step size, theta'_k = theta - fast_lr * g_k (g_k: the
REINFORCE gradient on task k's training episodes). Meta-SGD learns a step size per
parameter tensor n, log-parametrised so that it stays positive:

    theta'_k,n = theta_n - alpha_n * g_k,n,      alpha_n = exp(log_alpha_n),

and the outer loop updates (theta, log_alpha) together, with the same TRPO step inside
the same trust region mean_k KL(pi_theta'_k || pi_old'_k) <= max_kl. Every log_alpha_n
starts at log(fast_lr): training starts from MAML.

First order (FOMAML): g_k is a constant, so theta'_k = theta + alpha * d_k with
d_k = -g_k, and

    d theta'_k / d theta = I,      d theta'_k,n / d log_alpha_n = alpha_n * d_k,n = theta'_k,n - theta_n.

A change v = (v_theta, v_alpha) of the meta-parameters moves task k's adapted parameters
along u_k = v_theta + (theta'_k - theta) * v_alpha (v_alpha_n broadcast over tensor n), so
the Fisher-vector product is the MAML one with a per-task tangent:

    F v = (1/K) sum_k  [ I ; (theta'_k - theta)^T ] J_k^T M_k J_k u_k,

one Jacobian-vector and one vector-Jacobian product per task, as before (the fast path's
``rl.fast.gradients.meta_sgd_fisher``, checked against the double-backward Hessian of the KL). The learned step sizes live in the
policy's ``log_step_sizes`` buffer, so they are saved with it and used when adapting.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch

from awake_tutorial.rl.metalearners.maml_trpo import MAMLTRPO
from awake_tutorial.rl.policies import STEP_SIZES  # the step sizes' name among the meta-parameters


class MetaSGDTRPO(MAMLTRPO):
    """MAML-TRPO whose inner step sizes alpha_n (one per parameter tensor) are learned too.

    Same arguments as :class:`MAMLTRPO`; the config's ``fast_lr`` is the initial step size, used
    only if the policy has no step sizes yet (``policy.log_step_sizes`` is None).
    """

    def __init__(self, policy, config, engine):
        super().__init__(policy, config, engine)
        if policy.log_step_sizes is None:
            policy.set_step_sizes(math.log(self.fast_lr))

    @staticmethod
    def _analytic_fisher(engine):
        """Over (theta, log_alpha); see the module docstring and
        :func:`awake_tutorial.rl.fast.gradients.meta_sgd_fisher`."""
        return engine.meta_sgd_fisher

    def meta_parameters(self) -> dict[str, torch.Tensor]:
        """theta (the policy's parameters) and log_alpha (a leaf copy of its step sizes)."""
        return {**self.policy.params(), STEP_SIZES: self.policy.log_step_sizes.detach().clone().requires_grad_()}

    def set_meta_parameters(self, values: Mapping[str, torch.Tensor]) -> None:
        super().set_meta_parameters(values)
        self.policy.set_step_sizes(values[STEP_SIZES])

    def step_sizes(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """alpha_n = exp(log_alpha_n), by parameter name (differentiable)."""
        return dict(zip(self.policy.params(), params[STEP_SIZES].exp()))

    def step_scales(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """exp(log_alpha - log_alpha.detach()): 1, with gradient 1 w.r.t. log_alpha."""
        log_alpha = params[STEP_SIZES]
        return dict(zip(self.policy.params(), (log_alpha - log_alpha.detach()).exp()))
