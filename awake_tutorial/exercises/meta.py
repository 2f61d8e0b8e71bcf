"""Exercise of notebook 05: adapt the meta-policy to a task of your choice and score it.

The course's headline convention: adaptation *samples* its actions (that is how the
policy gradient explores), the adapted policy is then scored with its *mean* action
(deterministic, what an operator would run on the machine).
"""

from __future__ import annotations

from typing import Callable

from awake_tutorial.envs import evaluate
from awake_tutorial.exercises._feedback import call, checker
from awake_tutorial.runs.training import adapt

KEYS = ("mean_length", "success_rate")


def adapt_and_score_reference(meta_policy, task, config, num_batches: int, episodes: int, seed: int) -> dict:
    """``adapt`` for ``num_batches`` batches (seed), then ``evaluate`` the mean action (seed)."""
    adapted = adapt(meta_policy, [task], num_batches, config, seed=seed).policies[0]
    return evaluate(adapted.as_numpy_policy(deterministic=True), [task], episodes=episodes, seed=seed,
                    max_steps=config.max_steps, plane=config.plane, wall_penalty=config.wall_penalty)[0]


def _same(mine: dict, row: dict) -> bool:
    # the return too: a well-adapted policy can take as many steps sampled as with its mean
    keys = KEYS + tuple(k for k in ("mean_return",) if k in mine and k in row)
    return all(abs(float(mine[k]) - float(row[k])) <= 1e-9 for k in keys)


@checker("adapt and score the meta-policy (notebook 05)", fallback=adapt_and_score_reference,
         fallback_name="adapt_and_score (exercises.meta.adapt_and_score_reference)")
def check_adapt_and_score(fn: Callable, meta_policy, task, config, num_batches: int = 2, episodes: int = 20,
                          seed: int = 0) -> str | None:
    """``fn(meta_policy, task, config, num_batches, episodes, seed) -> row`` (a dict with
    ``mean_length`` and ``success_rate``), compared with :func:`adapt_and_score_reference`."""
    mine = call(fn, meta_policy, task, config, num_batches, episodes, seed)
    if isinstance(mine, list) and len(mine) == 1:
        mine = mine[0]
    if not isinstance(mine, dict) or not all(k in mine for k in KEYS):
        return "return evaluate's row for the task: a dict with 'mean_length' and 'success_rate' (evaluate(...)[0])."
    if _same(mine, adapt_and_score_reference(meta_policy, task, config, num_batches, episodes, seed)):
        return None
    adapted = adapt(meta_policy, [task], num_batches, config, seed=seed).policies[0]
    sampled = evaluate(adapted.as_numpy_policy(deterministic=False, seed=seed), [task], episodes=episodes,
                       seed=seed)[0]
    if _same(mine, sampled):
        return ("you scored the sampled actions. Adaptation samples (to explore), but the course scores "
                "the adapted policy's mean action (deterministic).")
    unadapted = evaluate(meta_policy.as_numpy_policy(deterministic=True), [task], episodes=episodes, seed=seed)[0]
    if num_batches > 0 and _same(mine, unadapted):
        return ("this is the meta-policy before adaptation: score the policy adapted to your task.")
    return (f"your row {({k: mine[k] for k in KEYS})} differs from the reference: are the adaptation and "
            "the scoring both given the seed, the number of batches and of episodes you were given, and "
            "is it fresh episodes (not the adaptation's own) that you score?")
