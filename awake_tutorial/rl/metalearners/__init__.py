"""Meta-learning algorithms, independent of any particular environment.

- :mod:`.reinforce`: the inner loop (REINFORCE adaptation steps).
- :mod:`.trpo`: conjugate gradient, Hessian/Fisher-vector products, line search.
- :mod:`.maml_trpo`: the outer loop, MAML with a TRPO meta-update.
- :mod:`.meta_sgd`: Meta-SGD, MAML-TRPO that also learns the inner step sizes.
- :mod:`.base`: what a meta-learner provides, one meta-batch; :mod:`.registry`: the learners by name.
"""

from awake_tutorial.rl.metalearners.reinforce import inner_loop, inner_loss, inner_step, policy_gradient
from awake_tutorial.rl.metalearners.trpo import conjugate_gradient, kl_divergence, line_search
from awake_tutorial.rl.metalearners.maml_trpo import MAMLTRPO  # after its building blocks (the fast path imports them)
from awake_tutorial.rl.metalearners.meta_sgd import MetaSGDTRPO
from awake_tutorial.rl.metalearners.base import InnerLoop, MetaLearner, Stopwatch
from awake_tutorial.rl.metalearners.registry import LEARNERS, learner_class

__all__ = ["MAMLTRPO", "MetaSGDTRPO", "InnerLoop", "MetaLearner", "Stopwatch", "LEARNERS", "learner_class",
           "inner_loop", "inner_loss", "inner_step", "policy_gradient",
           "conjugate_gradient", "kl_divergence", "line_search"]
