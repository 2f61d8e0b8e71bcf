"""The meta-learners by name: the config's ``learner`` key picks one (the one place the names are written).

A new meta-learner is a class with the interface of :class:`.base.MetaLearner` (built as
``Learner(policy, config, engine)``, reading its settings from the config), one entry here, and
its config keys in ``awake_tutorial/config.py``. ``runs.training.make_learner`` builds it.
"""

from __future__ import annotations

from awake_tutorial.rl.metalearners.base import MetaLearner
from awake_tutorial.rl.metalearners.maml_trpo import MAMLTRPO
from awake_tutorial.rl.metalearners.meta_sgd import MetaSGDTRPO
from awake_tutorial.rl.metalearners.rl2_trpo import RL2TRPO

LEARNERS: dict[str, type[MetaLearner] | type[RL2TRPO]] = {
    "maml-trpo": MAMLTRPO,  # MAML (Finn et al. 2017), first or second order, TRPO meta-update
    "meta-sgd-trpo": MetaSGDTRPO,  # Meta-SGD (Li et al. 2017): MAML-TRPO that learns the inner step sizes
    "rl2-trpo": RL2TRPO,  # RL² (Duan et al. 2016): a GRU policy that adapts in its hidden state; settings: rl2
}


def learner_class(name: str) -> type[MetaLearner] | type[RL2TRPO]:
    """The class registered as ``name``; ValueError naming the known ones otherwise."""
    if name not in LEARNERS:
        raise ValueError(f"config key 'learner': got {name!r}, allowed: one of {list(LEARNERS)} "
                         "(awake_tutorial/rl/metalearners/registry.py).")
    return LEARNERS[name]
