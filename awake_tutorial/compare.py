"""All methods of the course on the same tasks: how many steps does each need?

Methods: a random policy, PPO trained on task 0, the meta-policy after 0/1/2/4
adaptation batches (``meta-K``), and the two benchmarks that know the response matrix
(``inverse``, ``fewest-steps``: the physical limit). Each is scored by
:func:`awake_tutorial.benchmark.evaluate` with the same seeds, so every method starts
from the same initial orbits.

The Gaussian policies (``random``, ``meta-K``) act as they are trained and adapted: they
sample their actions (seeded, so the scores are reproducible). MAML optimises the
return of the sampling policy, and its mean action alone can settle in a limit cycle
just above the 1 mm goal after a noisy adaptation step (notebook 6, exercise 2).
PPO acts with its mean action, as stable-baselines3 evaluates it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from awake_tutorial.benchmark import FewestStepsPolicy, InverseResponsePolicy, evaluate, per_task
from awake_tutorial.config import Config, load_config
from awake_tutorial.tasks import Task, load_evaluation_tasks, sample_tasks

HELDOUT_SEED = 777  # never used in training: meta-training draws its tasks from other seeds
HELDOUT_FIRST_ID = 100
ADAPTATION_BATCHES = (0, 1, 2, 4)
METHODS = ("random", "ppo", *(f"meta-{k}" for k in ADAPTATION_BATCHES), "inverse", "fewest-steps")
FIELDS = ("method", "task_set", "task_id", "mean_length", "std_length", "success_rate", "mean_return")


def heldout_tasks(n: int = 20) -> list[Task]:
    """``n`` fresh tasks from the task distribution (ids 100, 101, ...), fixed seed."""
    return sample_tasks(n, seed=HELDOUT_SEED, first_id=HELDOUT_FIRST_ID)


def _sampling(policy, seed: int, task_id: int, num_batches: int = 0):
    """``policy`` sampling its actions, with noise seeded by (seed, task, batches)."""
    from awake_tutorial.training import EVALUATE, seed_for

    return policy.as_numpy_policy(deterministic=False, seed=seed_for(seed, EVALUATE, task_id, num_batches))


def sampling_policy(policy, seed: int = 0):
    """``per_task`` policy: a GaussianMLPPolicy sampling its actions, as ``meta-0`` is scored."""
    return per_task(lambda task, plane: _sampling(policy, seed, task.id))


def _adapted(policy, tasks: Sequence[Task], num_batches: int, config: Config, seed: int):
    """``per_task`` policy: ``policy`` adapted to each task with ``num_batches`` batches."""
    from awake_tutorial.training import adapt

    policies = adapt(policy, tasks, num_batches, config, seed=seed).policies
    by_id = {task.id: _sampling(p, seed, task.id, num_batches) for task, p in zip(tasks, policies)}
    return per_task(lambda task, plane: by_id[task.id])


def _policy_for(method: str, tasks, meta_policy, ppo_model, config: Config, seed: int):
    if method == "inverse":
        return per_task(InverseResponsePolicy)
    if method == "fewest-steps":
        return per_task(FewestStepsPolicy)
    if method == "random":
        from awake_tutorial.training import new_policy

        return sampling_policy(new_policy(config, seed), seed)
    if method == "ppo":
        from awake_tutorial.ppo import ppo_policy

        return ppo_policy(ppo_model)
    if method.startswith("meta-"):
        return _adapted(meta_policy, tasks, int(method.split("-")[1]), config, seed)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}.")


def compare_methods(tasks: Sequence[Task], methods: Sequence[str] | None = None, episodes: int = 50,
                    seed: int = 0, meta_policy=None, ppo_model=None, config: Config | None = None,
                    task_set: str = "evaluation",
                    progress: Callable[[str], None] | None = None) -> list[dict]:
    """Score each method on each task; one row per (method, task) with ``FIELDS``.

    ``meta_policy`` (a GaussianMLPPolicy) is needed for ``meta-K``, ``ppo_model`` (an SB3
    PPO) for ``ppo``; methods whose model is missing raise a clear error.
    """
    config = load_config() if config is None else config
    methods = list(METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}.")
    if meta_policy is None and any(m.startswith("meta-") for m in methods):
        raise ValueError("meta-K methods need meta_policy= (e.g. policies.load_pretrained('meta')).")
    if ppo_model is None and "ppo" in methods:
        raise ValueError("the ppo method needs ppo_model= (e.g. ppo.load_ppo('data/ppo_task0.zip')).")
    rows = []
    for method in methods:
        if progress is not None:
            progress(method)
        policy = _policy_for(method, tasks, meta_policy, ppo_model, config, seed)
        results = evaluate(policy, tasks, episodes=episodes, seed=seed, max_steps=config.max_steps,
                           plane=config.plane, wall_penalty=config.wall_penalty)
        rows += [{"method": method, "task_set": task_set, **{k: r[k] for k in FIELDS[2:]}} for r in results]
    return rows


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Per method and task set: mean and spread (over tasks) of the episode length,
    success rate, return, and ``steps_over_fewest`` = mean length / fewest-steps length."""
    fewest = {(r["task_set"], r["task_id"]): r["mean_length"] for r in rows if r["method"] == "fewest-steps"}
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["task_set"]), []).append(r)
    summary = []
    for (method, task_set), group in groups.items():
        lengths = np.array([r["mean_length"] for r in group])
        ratios = [r["mean_length"] / fewest[(task_set, r["task_id"])] for r in group
                  if (task_set, r["task_id"]) in fewest]
        summary.append({
            "method": method, "task_set": task_set, "tasks": len(group),
            "mean_length": float(lengths.mean()), "std_length": float(lengths.std()),
            "worst_length": float(lengths.max()),
            "success_rate": float(np.mean([r["success_rate"] for r in group])),
            "worst_success_rate": float(np.min([r["success_rate"] for r in group])),
            "mean_return": float(np.mean([r["mean_return"] for r in group])),
            "steps_over_fewest": float(np.mean(ratios)) if ratios else float("nan"),
        })
    return summary


def write_results(rows: Sequence[dict], out_dir) -> dict[str, Path]:
    """Write ``comparison.csv`` (per task), ``comparison.json`` (rows + summary) and
    ``comparison.png`` into ``out_dir``; returns their paths."""
    from awake_tutorial.plotting import plot_method_summary, save_figure
    from awake_tutorial.runs import write_json_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "comparison.csv", "json": out_dir / "comparison.json",
             "png": out_dir / "comparison.png"}
    tmp = paths["csv"].with_name("comparison.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: r[k] for k in FIELDS} for r in rows)
    tmp.replace(paths["csv"])
    summary = summarize(rows)
    write_json_atomic(paths["json"], {"rows": list(rows), "summary": summary})
    save_figure(plot_method_summary(summary), paths["png"])
    return paths

