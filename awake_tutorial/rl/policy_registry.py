"""The policy classes by name: a policy file records its class and architecture, and is rebuilt from them.

Every class here provides ``architecture() -> dict`` (plain values: ints, strings, lists, bools)
and ``from_architecture(dict)``, so :mod:`awake_tutorial.runs.policy_files` saves and loads any of
them without knowing their layout. A new policy class is one entry here.
"""

from __future__ import annotations

from typing import Mapping

from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.rl.recurrent import GaussianGRUPolicy

POLICIES = {cls.__name__: cls for cls in (GaussianMLPPolicy, GaussianGRUPolicy)}


def describe(policy) -> dict:
    """{"policy_class": its registered name, "architecture": policy.architecture()}."""
    name = type(policy).__name__
    if POLICIES.get(name) is not type(policy):
        raise ValueError(f"{name} is not a registered policy class ({list(POLICIES)}); add it to "
                         "awake_tutorial/rl/policy_registry.py.")
    return {"policy_class": name, "architecture": policy.architecture()}


def build(policy_class: str, architecture: Mapping):
    """A fresh policy of the class registered as ``policy_class``, with ``architecture``."""
    if policy_class not in POLICIES:
        raise ValueError(f"unknown policy class {policy_class!r}; known: {list(POLICIES)} "
                         "(awake_tutorial/rl/policy_registry.py).")
    return POLICIES[policy_class].from_architecture(architecture)
