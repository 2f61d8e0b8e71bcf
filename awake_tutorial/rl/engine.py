"""The one seam between the textbook path and the fast path (the config key ``fast_path``).

The pieces of meta-training below have two implementations each, with the same maths (tested
equal in ``tests/test_fast_path.py``):

==================  ==========================================  ==============================================
piece               textbook (``fast_path: false``)             fast path (:mod:`awake_tutorial.rl.fast`)
==================  ==========================================  ==============================================
inner gradient      ``reinforce.policy_gradient`` (autograd)    ``fast.gradients.reinforce_gradient`` (by hand)
inner step's KL     ``inner_bound.step_kl`` (distributions)     ``fast.outer.step_kl`` (chunks, closed form)
TRPO's Fisher       double backward through the KL              analytic Gaussian Fisher (first order)
TRPO's loss, step   autograd, one line-search step at a time    by hand, candidates batched (``fast.outer``)
action sampler      the policy's torch forward pass             ``fast.rollout.RolloutPolicy`` (numpy)
==================  ==========================================  ==============================================

:func:`select` is the only place that reads the switch: the learner and the samplers are
handed an :class:`Engine` (or ask :func:`select` for one) and never import :mod:`rl.fast`
themselves. This module imports both paths; nothing in :mod:`rl.fast` imports a learner, so
there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from awake_tutorial.rl.fast import gradients as fast_gradients
from awake_tutorial.rl.fast.outer import FirstOrderOuter, step_kl as fast_step_kl
from awake_tutorial.rl.fast.rollout import RolloutPolicy
from awake_tutorial.rl.metalearners.inner_bound import step_kl
from awake_tutorial.rl.metalearners.reinforce import policy_gradient
from awake_tutorial.rl.policies import TorchRolloutPolicy


@dataclass(frozen=True)
class Engine:
    """Which implementation each piece uses.

    gradient: (policy, episodes, per-task params, weighting) -> per-task REINFORCE gradient.
    actor: (policy, per-task params (K, ...)) -> callable (obs (K, B, obs_dim), noise (K, B, A)) -> actions,
        the Gaussian MLP's; the sampler asks the policy (``policy.rollout_actor(params, engine)``),
        which takes this one or hands over its own (another policy class).
    maml_fisher, meta_sgd_fisher: the analytic first-order Fisher-vector products (settings as
        keywords, see :func:`awake_tutorial.rl.fast.gradients.maml_fisher`), or None: the
        learner then uses the double-backward Hessian of the KL.
    outer: the first-order TRPO step's loss, gradient and batched line search by hand
        (:class:`awake_tutorial.rl.fast.outer.FirstOrderOuter`), or None: autograd through
        ``torch.distributions``, one trial step at a time.
    step_kl: (policy, episodes, theta, adapted) -> KL_k (K,) of an inner step, for the inner
        trust region (``metalearners.inner_bound``).
    """

    fast_path: bool
    gradient: Callable
    actor: Callable
    maml_fisher: Callable | None
    meta_sgd_fisher: Callable | None
    outer: Callable | None
    step_kl: Callable


TEXTBOOK = Engine(False, policy_gradient, TorchRolloutPolicy, None, None, None, step_kl)
FAST = Engine(True, fast_gradients.reinforce_gradient, RolloutPolicy, fast_gradients.maml_fisher,
              fast_gradients.meta_sgd_fisher, FirstOrderOuter, fast_step_kl)


def select(fast_path: bool) -> Engine:
    """The engine for the config's ``fast_path`` (the one place the switch is read)."""
    return FAST if fast_path else TEXTBOOK
