"""AWAKE steering environments: one task (:class:`AwakeSteeringEnv`) or many at once
(:class:`AwakeSteeringVectorEnv`). ``gymnasium.make("AwakeSteering-v0", task=...)`` works
once this package is imported. :func:`evaluate` scores any policy on tasks."""

import gymnasium

from awake_tutorial.envs.steering import AwakeSteeringEnv
from awake_tutorial.envs.scoring import evaluate, evaluate_on_env, per_task, steps_failed_as_max
from awake_tutorial.envs.vector import AwakeSteeringVectorEnv

ENV_ID = "AwakeSteering-v0"

# Register once: re-importing (e.g. importlib.reload in a notebook) must not warn.
if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="awake_tutorial.envs.steering:AwakeSteeringEnv")

__all__ = ["AwakeSteeringEnv", "AwakeSteeringVectorEnv", "ENV_ID", "evaluate", "evaluate_on_env", "per_task", "steps_failed_as_max"]
