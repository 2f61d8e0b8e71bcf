"""Meta-learning algorithms, independent of any particular environment.

- :mod:`.reinforce`: the inner loop (REINFORCE adaptation steps).
- :mod:`.trpo`: conjugate gradient, Hessian/Fisher-vector products, line search.
- :mod:`.maml_trpo`: the outer loop, MAML with a TRPO meta-update.
- :mod:`.meta_sgd`: Meta-SGD, MAML-TRPO that also learns the inner step sizes.
"""

from awake_tutorial.rl.metalearners.reinforce import inner_loop, inner_loss, inner_step, policy_gradient
from awake_tutorial.rl.metalearners.trpo import conjugate_gradient, kl_divergence, line_search
from awake_tutorial.rl.metalearners.maml_trpo import MAMLTRPO  # after its building blocks (the fast path imports them)
from awake_tutorial.rl.metalearners.meta_sgd import MetaSGDTRPO

__all__ = ["MAMLTRPO", "MetaSGDTRPO", "inner_loop", "inner_loss", "inner_step", "policy_gradient",
           "conjugate_gradient", "kl_divergence", "line_search"]
