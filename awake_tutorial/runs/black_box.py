"""Black-box against gradient-based meta-RL, on any task set, with or without BPM noise.

* ``rl2``: the recurrent policy (:mod:`awake_tutorial.runs.rl2_policy`) adapts inside its
  hidden state during the episode: 0 machine steps, and more data does not change it
  (its hidden state starts afresh every episode);
* ``meta-K``: the gradient-based meta-policy after K adaptation batches taken on the task
  (under the same noise): K batches of ``config.fast_batch_size`` episodes of machine steps.

Scoring as :mod:`awake_tutorial.runs.compare`: the mean action, ``steps_failed_as_max``
(failures count as ``max_steps``), per seed the mean over tasks, then mean and spread
(std over seeds, ddof 1) over seeds; seed s adapts with seed s and starts the episodes
from ``evaluate(seed=s)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from awake_tutorial.config import Config
from awake_tutorial.envs import evaluate, per_task, steps_failed_as_max
from awake_tutorial.physics.tasks import Task, sample_tasks
from awake_tutorial.runs.compare import SEEDS, spread_over_seeds
from awake_tutorial.runs.rl2_policy import METHOD as RL2, score_rl2
from awake_tutorial.runs.training import adapt, new_sampler


OUT_OF_DISTRIBUTION_RANGE = (0.5, 1.5)  # knob scales; training draws U(0.75, 1.25)


def out_of_distribution_tasks(n: int = 20) -> list[Task]:
    """``n`` tasks (ids 300, 301, ...) with every knob scaled by U(0.5, 1.5), fixed seed: almost
    all have a knob outside the training range U(0.75, 1.25)."""
    return sample_tasks(n, seed=9090, first_id=300, scale_range=OUT_OF_DISTRIBUTION_RANGE)


def _meta_rows(meta_policy, tasks, batches, config, bpm_noise, episodes, seed) -> list[dict]:
    """One row per K of ``batches``: the meta-policy after K batches on each task (seed ``seed``)."""
    result = adapt(meta_policy, tasks, max(batches), config, seed=seed, sampler=new_sampler(config, bpm_noise),
                   snapshots=[k for k in batches if k > 0])
    snapshots = {0: [meta_policy] * len(tasks), **result.snapshots}
    rows = []
    for k in batches:
        acting = {task.id: p.as_numpy_policy() for task, p in zip(tasks, snapshots[k])}
        results = evaluate(per_task(lambda task, plane, acting=acting: acting[task.id]), tasks, episodes=episodes,
                           seed=seed, max_steps=config.max_steps, bpm_noise=bpm_noise)
        spent = sum(r["mean_length"] * config.fast_batch_size for r in result.records if r["batch"] < k)
        rows.append({"method": f"meta-{k}", "seed": seed, "machine_steps": spent / len(tasks),
                     "steps": float(np.mean([steps_failed_as_max(r["lengths"], r["successes"], config.max_steps)
                                             for r in results])),
                     "success": float(np.mean([r["success_rate"] for r in results]))})
    return rows


def black_box_rows(tasks: Sequence[Task], rl2_policy, meta_policy, config: Config, batches=(0, 1, 4),
                   bpm_noise: float = 0.0, episodes: int = 100, seeds: Sequence[int] = SEEDS) -> list[dict]:
    """One row per (method, seed): "rl2" and "meta-K" for K in ``batches``, with machine steps
    spent per task, steps (failures as max_steps) and success rate, means over ``tasks``."""
    rows = []
    for seed in seeds:
        scored = score_rl2(rl2_policy, tasks, episodes=episodes, seeds=(seed,), bpm_noise=bpm_noise,
                           max_steps=config.max_steps)
        rows.append({"method": RL2, "seed": seed, "machine_steps": 0.0,
                     "steps": float(np.mean([r["steps_failed_as_max"] for r in scored])),
                     "success": float(np.mean([r["success_rate"] for r in scored]))})
        rows += _meta_rows(meta_policy, list(tasks), batches, config, bpm_noise, episodes, seed)
    return rows


def summarize_black_box(rows: Sequence[dict]) -> list[dict]:
    """Per method: machine steps, steps (mean, std, min, max over seeds), success (mean,
    worst seed)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = []
    for method in methods:
        group = [r for r in rows if r["method"] == method]
        out.append({"method": method, "machine_steps": float(np.mean([r["machine_steps"] for r in group])),
                    **spread_over_seeds([r["steps"] for r in group], "steps"),
                    "success": float(np.mean([r["success"] for r in group])),
                    "success_min": float(np.min([r["success"] for r in group]))})
    return out


def table(summary: Sequence[dict]) -> str:
    """The summary as a plain-text table."""
    lines = [f"{'method':<8} {'machine steps':>13} {'steps (mean +- std over seeds)':>31} {'success':>8} "
             f"{'worst seed':>10}"]
    for s in summary:
        std = "" if s["steps_std"] is None else f" +- {s['steps_std']:.2f}"
        lines.append(f"{s['method']:<8} {s['machine_steps']:13.0f} {s['steps']:>23.2f}{std:<8} "
                     f"{s['success']:8.1%} {s['success_min']:10.1%}")
    return "\n".join(lines)
