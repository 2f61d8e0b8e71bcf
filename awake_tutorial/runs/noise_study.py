"""How each steering method degrades with BPM noise.

Every method sees BPM readings with Gaussian noise of std ``bpm_noise`` mm (the env option
of the same name): the policy acts on noisy readings, and the episode succeeds when the
*measured* RMS falls below 1 mm, as in a control room, where nothing else is known. So
noise of std s alone adds s**2 to the measured mean square: beyond ~1 mm no method can
succeed, and close to it every method needs luck.

Scoring, as in :mod:`awake_tutorial.runs.compare`: ``steps_failed_as_max``, the steps per
episode with every failure (wall or time limit) counted as ``max_steps`` (100), and the
success rate, averaged over the evaluation tasks; Gaussian policies act with their mean
action (what an operator runs).

The methods are :data:`awake_tutorial.runs.methods.NOISE_STUDY`, built by the registry
under the same noise: ``meta-K`` adapts its K batches on the noisy machine (adaptation
samples its actions); measure then correct probes the noisy machine (its 11 machine steps
are not counted in the episode lengths); the inverse on the nominal matrix and Broyden
act on the noisy readings from the nominal matrix; ``inverse`` and ``fewest-steps`` are
given the true matrix.

Each (method, noise) is run for several seeds (adaptation, probes and episodes); the
summary gives the mean over seeds of the task-averaged score and its spread (std over seeds).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from awake_tutorial.config import Config
from awake_tutorial.envs import evaluate
from awake_tutorial.physics.tasks import Task
from awake_tutorial.runs import methods as registry
from awake_tutorial.runs.compare import STEPS, spread_over_seeds, task_scores

NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.5)  # mm


def run_noise_study(tasks: Sequence[Task], meta_policy, config: Config, noise_levels=NOISE_LEVELS,
                    methods: Sequence[str] = registry.NOISE_STUDY, episodes: int = 20,
                    seeds: Sequence[int] = (0, 1000), progress: Callable[[str], None] | None = None) -> list[dict]:
    """One row per (method, noise, seed): task-averaged ``steps_failed_as_max`` and success rate."""
    for method in methods:
        registry.resolve(method)  # ValueError naming the methods
    rows = []
    for bpm_noise in noise_levels:
        for seed in seeds:
            setting = registry.Setting(config, seed, float(bpm_noise), {registry.META: meta_policy})
            for method in methods:
                if progress is not None:
                    progress(f"{method}, {bpm_noise} mm, seed {seed}")
                policy = registry.build(method, tasks, setting).policy
                results = evaluate(policy, tasks, episodes=episodes, seed=seed, max_steps=config.max_steps,
                                   plane=config.plane, wall_penalty=config.wall_penalty, bpm_noise=bpm_noise)
                scores = task_scores(results, config.max_steps)
                rows.append({"method": method, "bpm_noise": float(bpm_noise), "seed": int(seed),
                             STEPS: float(np.mean([s[STEPS] for s in scores])),
                             "success_rate": float(np.mean([s["success_rate"] for s in scores]))})
    return rows


def summarize_noise(rows: Sequence[dict]) -> list[dict]:
    """Per (method, noise): mean over seeds and spread (std over seeds, ddof 1, as
    :func:`awake_tutorial.runs.compare.spread_over_seeds`) of ``steps_failed_as_max`` and success."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["bpm_noise"]), []).append(row)
    summary = []
    for (method, noise), group in groups.items():
        steps = spread_over_seeds([r[STEPS] for r in group], STEPS)
        success = spread_over_seeds([r["success_rate"] for r in group], "success_rate")
        summary.append({"method": method, "bpm_noise": noise, "seeds": len(group),
                        STEPS: steps[STEPS], f"{STEPS}_std": steps[f"{STEPS}_std"],
                        "success_rate": success["success_rate"], "success_rate_std": success["success_rate_std"]})
    return summary
