"""Meta-learning algorithms, independent of any particular environment.

- :mod:`.reinforce`: the inner loop (REINFORCE adaptation steps).
- :mod:`.trpo`: conjugate gradient, Hessian/Fisher-vector products, line search.
- :mod:`.maml_trpo`: the outer loop, MAML with a TRPO meta-update.
- :mod:`.meta_sgd`: Meta-SGD, MAML-TRPO that also learns the inner step sizes.
"""

from awake_tutorial.rl.metalearners.maml_trpo import MAMLTRPO
from awake_tutorial.rl.metalearners.meta_sgd import MetaSGDTRPO
from awake_tutorial.rl.metalearners.reinforce import adapt, inner_loss, inner_step
from awake_tutorial.rl.metalearners.trpo import conjugate_gradient, kl_divergence, line_search

__all__ = ["MAMLTRPO", "MetaSGDTRPO", "adapt", "inner_loss", "inner_step", "conjugate_gradient", "kl_divergence",
           "line_search"]
