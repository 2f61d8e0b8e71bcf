"""How each steering method degrades with BPM noise.

Every method sees BPM readings with Gaussian noise of std ``bpm_noise`` mm (the env option
of the same name): the policy acts on noisy readings, and the episode succeeds when the
*measured* RMS falls below 1 mm, as in a control room, where nothing else is known. So
noise of std s alone adds s**2 to the measured mean square: beyond ~1 mm no method can
succeed, and close to it every method needs luck.

Scoring, as in :mod:`awake_tutorial.runs.compare`: steps per episode with every failure (wall
or time limit) counted as ``max_steps`` (100), and the success rate, averaged over the
evaluation tasks; Gaussian policies act with their mean action (what an operator runs).

* ``meta-K``: the meta-policy after K adaptation batches **taken under the same noise**
  (``training.adapt`` with a noisy sampler; adaptation samples its actions);
* ``inverse``: the inverse-response controller with the true matrix;
* ``measure-then-correct``: the matrix measured with probes on the noisy machine
  (:func:`awake_tutorial.controllers.measured.measure_response`, the 11 machine steps not counted
  in the episode lengths), then the fewest-steps planner on it;
* ``fewest-steps``: the fewest-steps planner with the true matrix.

Each (method, noise) is run for several seeds (adaptation, probes and episodes); the
summary gives the mean over seeds of the task-averaged score and its spread (std over seeds).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from awake_tutorial.config import Config
from awake_tutorial.controllers import FewestStepsPolicy, InverseResponsePolicy, measure_response
from awake_tutorial.envs import AwakeSteeringEnv, evaluate, per_task, steps_failed_as_max
from awake_tutorial.physics.tasks import Task
from awake_tutorial.runs.compare import spread_over_seeds
from awake_tutorial.runs.training import adapt, new_sampler

NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.5)  # mm
META_BATCHES = (0, 1, 2)
METHODS = (*(f"meta-{k}" for k in META_BATCHES), "inverse", "measure-then-correct", "fewest-steps")


def _meta_policies(meta_policy, tasks: Sequence[Task], bpm_noise: float, config: Config, seed: int) -> dict:
    """{K: per_task policy} for K in META_BATCHES: adapted under noise, acting with the mean."""
    sampler = new_sampler(config, bpm_noise)
    result = adapt(meta_policy, tasks, max(META_BATCHES), config, seed=seed, sampler=sampler,
                   snapshots=[k for k in META_BATCHES if k > 0])
    policies = {0: [meta_policy] * len(tasks), **result.snapshots}
    by_k = {}
    for k in META_BATCHES:
        acting = {task.id: p.as_numpy_policy() for task, p in zip(tasks, policies[k])}
        by_k[k] = per_task(lambda task, plane, acting=acting: acting[task.id])
    return by_k


def _measure_then_correct(tasks: Sequence[Task], bpm_noise: float, config: Config, seed: int):
    """per_task policy: fewest steps on the matrix measured with probes under noise."""
    planners = {}
    for task in tasks:
        env = AwakeSteeringEnv(task, max_steps=config.max_steps, plane=config.plane, bpm_noise=bpm_noise)
        measured = measure_response(env, seed=seed).response
        planners[task.id] = FewestStepsPolicy(Task.from_response(measured, measured, task.id), config.plane)
    return per_task(lambda task, plane: planners[task.id])


def run_noise_study(tasks: Sequence[Task], meta_policy, config: Config, noise_levels=NOISE_LEVELS,
                    methods: Sequence[str] = METHODS, episodes: int = 20, seeds: Sequence[int] = (0, 1000),
                    progress: Callable[[str], None] | None = None) -> list[dict]:
    """One row per (method, noise, seed): task-averaged steps (failures = max_steps) and success rate."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}.")
    rows = []
    for bpm_noise in noise_levels:
        for seed in seeds:
            meta = (_meta_policies(meta_policy, tasks, bpm_noise, config, seed)
                    if any(m.startswith("meta-") for m in methods) else {})
            for method in methods:
                if progress is not None:
                    progress(f"{method}, {bpm_noise} mm, seed {seed}")
                if method.startswith("meta-"):
                    policy = meta[int(method.split("-")[1])]
                elif method == "inverse":
                    policy = per_task(InverseResponsePolicy)
                elif method == "fewest-steps":
                    policy = per_task(FewestStepsPolicy)
                else:
                    policy = _measure_then_correct(tasks, bpm_noise, config, seed)
                results = evaluate(policy, tasks, episodes=episodes, seed=seed, max_steps=config.max_steps,
                                   plane=config.plane, wall_penalty=config.wall_penalty, bpm_noise=bpm_noise)
                rows.append({"method": method, "bpm_noise": float(bpm_noise), "seed": int(seed),
                             "mean_length": float(np.mean([steps_failed_as_max(r["lengths"], r["successes"],
                                                                               config.max_steps) for r in results])),
                             "success_rate": float(np.mean([r["success_rate"] for r in results]))})
    return rows


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Per (method, noise): mean over seeds and spread (std over seeds, ddof 1, as
    :func:`awake_tutorial.runs.compare.spread_over_seeds`) of length and success."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["bpm_noise"]), []).append(row)
    summary = []
    for (method, noise), group in groups.items():
        length = spread_over_seeds([r["mean_length"] for r in group], "mean_length")
        success = spread_over_seeds([r["success_rate"] for r in group], "success_rate")
        summary.append({"method": method, "bpm_noise": noise, "seeds": len(group),
                        "mean_length": length["mean_length"], "std_length": length["mean_length_std"],
                        "success_rate": success["success_rate"], "std_success": success["success_rate_std"]})
    return summary
