"""All methods of the course on the same tasks, counted in machine steps.

On a real accelerator every step costs beam time, so each method is scored by two numbers:
the **machine steps it spends on a task before it acts** (``machine_steps``) and the
**steps it then needs per episode** to bring the orbit below 1 mm RMS.

======================  =====================================================  ===================
method                  what it is                                             machine steps spent
======================  =====================================================  ===================
``random``              a randomly initialised policy (= ``reinforce-0``)       0
``reinforce-K``         the random policy after K REINFORCE batches             its K batches' steps
``ppo``                 PPO trained on evaluation task 0 only                   its training steps
``meta-K``              the shipped meta-policy after K adaptation batches      its K batches' steps
``reference-K``         the reference course's meta-policy (configs/reference)  its K batches' steps
``nominal``             fewest-steps planner on the nominal optics' matrix      0
``measure-correct``     probe each corrector, then plan on the measured matrix  11 (10 probes, 1 restore)
``inverse``             inverse response, given the task's true matrix          0
``fewest-steps``        fewest-steps planner, given the true matrix (the limit) 0
======================  =====================================================  ===================

PPO's steps (``num_timesteps`` of the model) were spent on task 0, not on the task scored.
Meta-training's own steps were spent on a simulator and are not counted.

**Scoring (one convention).** ``steps_failed_as_max``: the mean number of steps to reach
RMS < 1 mm, where a failed episode (time limit or beam on the wall) counts as
``max_steps`` (100): failures are never averaged in at their (short) length. The headline
scores the **mean action** of the Gaussian policies (deterministic: what an operator runs);
``sampled_*`` columns score the same policies sampling their actions (as they are trained),
empty for deterministic methods. PPO acts with its mean action. ``mean_length`` is the
plain mean episode length (failures at their own length), kept for reference.

**Seeds.** Each seed ``s`` adapts with seed ``s`` and evaluates with ``evaluate(seed=s)``
(sub-env i starts from seed s + i): seeds 1000 apart never share a start. Summaries report
the mean over seeds and the spread over seeds (std, min, max) of each seed's mean over tasks.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from awake_tutorial.atomic import write_json_atomic, write_text_atomic
from awake_tutorial.config import REFERENCE_CONFIG_FILE, Config, load_config
from awake_tutorial.controllers import FewestStepsPolicy, InverseResponsePolicy
from awake_tutorial.controllers.measured import MeasureThenCorrectPolicy, NominalModelPolicy
from awake_tutorial.envs import evaluate, per_task, steps_failed_as_max
from awake_tutorial.physics.tasks import Task, sample_tasks
from awake_tutorial.runs.ppo import ppo_policy
from awake_tutorial.runs.training import EVALUATE, adapt, new_policy, seed_for, torch_threads

HELDOUT_SEED = 777  # never used in training: meta-training draws its tasks from other seeds
HELDOUT_FIRST_ID = 100
ADAPTATION_BATCHES = (0, 1, 2, 4)
REINFORCE_BATCHES = (10, 40)
SEEDS = (0, 1000, 2000, 3000)  # >= 4 adaptation seeds; 1000 apart: no shared starts
METHODS = ("random", *(f"reinforce-{k}" for k in REINFORCE_BATCHES), "ppo",
           *(f"meta-{k}" for k in ADAPTATION_BATCHES), *(f"reference-{k}" for k in ADAPTATION_BATCHES),
           "nominal", "measure-correct", "inverse", "fewest-steps")
GIVEN_R = {"inverse": InverseResponsePolicy, "fewest-steps": FewestStepsPolicy, "nominal": NominalModelPolicy}
STEPS = "steps_failed_as_max"  # the headline score, see the module docstring
CONVENTION = ("steps_failed_as_max: mean steps to reach RMS < 1 mm, a failed episode (time limit or wall) "
              "counted as max_steps; headline: mean action of Gaussian policies, sampled_*: sampled actions; "
              "spread: over seeds (std, min, max of each seed's mean over the tasks); machine_steps: steps "
              "spent on the task before acting (adaptation episodes, probes, PPO's training steps on task 0).")
FIELDS = ("method", "task_set", "task_id", "seed", "machine_steps", STEPS, "success_rate",
          f"sampled_{STEPS}", "sampled_success_rate", "mean_length", "std_length", "mean_return")


def heldout_tasks(n: int = 20) -> list[Task]:
    """``n`` fresh tasks from the task distribution (ids 100, 101, ...), fixed seed."""
    return sample_tasks(n, seed=HELDOUT_SEED, first_id=HELDOUT_FIRST_ID)


def _sampling(policy, seed: int, task_id: int, num_batches: int = 0):
    """``policy`` sampling its actions, with noise seeded by (seed, task, batches)."""
    return policy.as_numpy_policy(deterministic=False, seed=seed_for(seed, EVALUATE, task_id, num_batches))


def sampling_policy(policy, seed: int = 0):
    """``per_task`` policy: a GaussianMLPPolicy sampling its actions, as the ``sampled_*`` columns."""
    return per_task(lambda task, plane: _sampling(policy, seed, task.id))


def split_method(method: str) -> tuple[str, int]:
    """"meta-2" -> ("meta", 2), "random" -> ("reinforce", 0), "ppo" -> ("ppo", 0)."""
    if method == "random":
        return "reinforce", 0
    family, _, batches = method.rpartition("-")
    return (family, int(batches)) if batches.isdigit() else (method, 0)


def _gaussian(method: str, tasks, models: dict, config: Config, seed: int):
    """(mean-action policy, sampling policy, machine steps per task id) of an adapted policy."""
    family, num_batches = split_method(method)
    start = new_policy(config, seed) if family == "reinforce" else models[family]
    config = models.get("reference_config", config) if family == "reference" else config
    result = adapt(start, tasks, num_batches, config, seed=seed)
    steps = {task.id: 0.0 for task in tasks}
    for record in result.records:  # mean length of the batch's episodes, per task
        steps[record["task_id"]] += record["mean_length"] * config.fast_batch_size
    by_id = {task.id: p for task, p in zip(tasks, result.policies)}
    mean = per_task(lambda task, plane: by_id[task.id].as_numpy_policy())
    sampled = per_task(lambda task, plane: _sampling(by_id[task.id], seed, task.id, num_batches))
    return mean, sampled, {i: int(round(s)) for i, s in steps.items()}


def _policies(method: str, tasks, models: dict, config: Config, seed: int):
    """(headline policy, sampling policy or None, machine steps per task id)."""
    zero = {task.id: 0 for task in tasks}
    if method in GIVEN_R:
        return per_task(GIVEN_R[method]), None, zero
    if method == "measure-correct":
        controllers = {task.id: MeasureThenCorrectPolicy(task, config.plane, seed=seed) for task in tasks}
        return (per_task(lambda task, plane: controllers[task.id]), None,
                {i: c.machine_steps for i, c in controllers.items()})
    if method == "ppo":
        return ppo_policy(models["ppo"]), None, {task.id: int(models["ppo"].num_timesteps) for task in tasks}
    return _gaussian(method, tasks, models, config, seed)


def task_scores(results: list[dict], max_steps: int, prefix: str = "") -> list[dict]:
    """The course's score of each task's :func:`~awake_tutorial.envs.evaluate` result:
    ``{prefix}steps_failed_as_max`` (failures counted as ``max_steps``) and
    ``{prefix}success_rate``."""
    return [{f"{prefix}{STEPS}": steps_failed_as_max(r["lengths"], r["successes"], max_steps),
             f"{prefix}success_rate": r["success_rate"]} for r in results]


def check_models(methods: Sequence[str], meta_policy=None, ppo_model=None, reference_policy=None) -> None:
    """Clear errors for unknown methods and for methods whose model is missing."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}.")
    needs = {"meta": (meta_policy, "meta_policy= (e.g. pretrained.load_pretrained('meta'))"),
             "reference": (reference_policy, "reference_policy= (pretrained.load_pretrained('reference'))"),
             "ppo": (ppo_model, "ppo_model= (e.g. ppo.load_ppo('data/ppo_task0.zip'))")}
    for family, (model, how) in needs.items():
        if model is None and any(split_method(m)[0] == family for m in methods):
            raise ValueError(f"the {family} method(s) need {how}.")


def compare_methods(tasks: Sequence[Task], methods: Sequence[str] | None = None, episodes: int = 50,
                    seed: int | Sequence[int] = 0, meta_policy=None, ppo_model=None, config: Config | None = None,
                    task_set: str = "evaluation", progress: Callable[[str], None] | None = None,
                    reference_policy=None, reference_config: Config | None = None) -> list[dict]:
    """Score each method on each task with each seed; one row per (method, task, seed) with
    ``FIELDS`` (+ "lengths": the headline episode lengths).

    ``seed``: one seed or several (see the module docstring). ``meta_policy`` (a
    GaussianMLPPolicy) is needed for ``meta-K``, ``reference_policy`` for ``reference-K``
    (adapted with ``reference_config``, default ``configs/reference.yaml``), ``ppo_model``
    (an SB3 PPO) for ``ppo``; a method whose model is missing raises a clear error.
    """
    config = load_config() if config is None else config
    methods = list(METHODS if methods is None else methods)
    check_models(methods, meta_policy, ppo_model, reference_policy)
    if reference_config is None and reference_policy is not None:
        reference_config = load_config(REFERENCE_CONFIG_FILE, num_threads=config.num_threads)
    models = {"meta": meta_policy, "ppo": ppo_model, "reference": reference_policy,
              "reference_config": reference_config}
    settings = dict(episodes=episodes, max_steps=config.max_steps, plane=config.plane,
                    wall_penalty=config.wall_penalty)
    rows = []
    for method in methods:
        if progress is not None:
            progress(method)
        with torch_threads(config.num_threads):  # torch runs the Gaussian policies at every step
            rows += _method_rows(method, tasks, models, config, np.atleast_1d(seed).tolist(), task_set, settings)
    return rows


def _method_rows(method, tasks, models, config, seeds, task_set, settings) -> list[dict]:
    """The rows of one method: adapt or build it and score it, seed by seed."""
    rows = []
    for s in seeds:
        headline, sampled, machine_steps = _policies(method, tasks, models, config, s)
        results = evaluate(headline, tasks, seed=s, **settings)
        scores = task_scores(results, config.max_steps)
        if sampled is not None:
            extra = task_scores(evaluate(sampled, tasks, seed=s, **settings), config.max_steps, "sampled_")
        else:
            extra = [{f"sampled_{STEPS}": None, "sampled_success_rate": None}] * len(results)
        rows += [{"method": method, "task_set": task_set, "task_id": r["task_id"], "seed": s,
                  "machine_steps": machine_steps[r["task_id"]], **score, **more,
                  **{k: r[k] for k in ("mean_length", "std_length", "mean_return", "lengths")}}
                 for r, score, more in zip(results, scores, extra)]
    return rows


def pooled_by_task(rows: Sequence[dict]) -> list[dict]:
    """Rows with all seeds pooled: one dict per method, task set and task with the means
    over seeds of the numeric ``FIELDS`` and the quartiles (25, 50, 75 %) of the episode
    lengths of every seed, "length_quartiles" (what ``plot_comparison`` draws)."""
    pooled: dict[tuple, list[dict]] = {}
    for r in rows:
        pooled.setdefault((r["method"], r["task_set"], r["task_id"]), []).append(r)
    numeric = [k for k in FIELDS[4:] if k not in ("std_length",)]
    return [{"method": method, "task_set": task_set, "task_id": task_id, "seeds": len(group),
             **{k: None if group[0][k] is None else float(np.mean([r[k] for r in group])) for k in numeric},
             "length_quartiles": np.percentile([n for r in group for n in r["lengths"]], [25, 50, 75]).tolist()}
            for (method, task_set, task_id), group in pooled.items()]


def spread_over_seeds(values: Sequence[float], name: str) -> dict:
    """The course's spread of a figure: mean, std over seeds (ddof 1; None for one seed), min
    and max of the per-seed values, as ``name``, ``name_std``, ``name_min``, ``name_max``."""
    values = np.asarray(values, dtype=float)
    return {name: float(values.mean()), f"{name}_std": float(values.std(ddof=1)) if len(values) > 1 else None,
            f"{name}_min": float(values.min()), f"{name}_max": float(values.max())}


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Per method and task set (with its "family" and adaptation "batches"), over seeds:
    machine steps, ``steps_failed_as_max``, its ``sampled_`` twin and the success rate
    (each: mean, std, min, max of each seed's mean over the tasks), ``worst_steps`` and
    ``worst_success_rate`` (the worst task, mean over seeds), ``steps_over_fewest`` (mean
    of steps / the fewest-steps planner's on the same task and seed, 1 = the physical
    limit) and the plain ``mean_length``."""
    fewest = {(r["task_set"], r["task_id"], r["seed"]): r[STEPS] for r in rows if r["method"] == "fewest-steps"}
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["task_set"]), []).append(r)
    summary = []
    for (method, task_set), group in groups.items():
        seeds = sorted({r["seed"] for r in group})
        task_ids = sorted({r["task_id"] for r in group})

        def per(key, by, ids, g=group):  # mean of ``key`` per seed (by="seed") or per task
            return [np.mean([r[key] for r in g if r[by] == i]) for i in ids]

        ratios = [r[STEPS] / fewest[key] for r in group
                  if (key := (task_set, r["task_id"], r["seed"])) in fewest]
        family, batches = split_method(method)
        row = {"method": method, "family": family, "batches": batches, "task_set": task_set,
               "tasks": len(task_ids), "seeds": len(seeds),
               **spread_over_seeds(per("machine_steps", "seed", seeds), "machine_steps"),
               **spread_over_seeds(per(STEPS, "seed", seeds), STEPS),
               "worst_steps": float(np.max(per(STEPS, "task_id", task_ids))),
               **spread_over_seeds(per("success_rate", "seed", seeds), "success_rate"),
               "worst_success_rate": float(np.min(per("success_rate", "task_id", task_ids))),
               "steps_over_fewest": float(np.mean(ratios)) if ratios else None,
               "mean_length": float(np.mean([r["mean_length"] for r in group])),
               "mean_return": float(np.mean([r["mean_return"] for r in group]))}
        sampled = f"sampled_{STEPS}"
        if group[0][sampled] is None:
            row.update({f"{sampled}{end}": None for end in ("", "_std", "_min", "_max")}, sampled_success_rate=None)
        else:
            row.update(**spread_over_seeds(per(sampled, "seed", seeds), sampled),
                       sampled_success_rate=float(np.mean([r["sampled_success_rate"] for r in group])))
        summary.append(row)
    return summary


def _csv(rows: Sequence[dict], fields: Sequence[str]) -> str:
    """``rows`` as CSV text with the header ``fields`` (other keys left out)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_results(rows: Sequence[dict], out_dir) -> dict:
    """Write into ``out_dir``: ``comparison.csv`` (one row per method, task and seed; the
    header names the scoring convention), ``comparison_summary.csv`` (:func:`summarize`),
    ``comparison.json`` (convention, summary, and per task the seeds pooled:
    :func:`pooled_by_task`); returns their paths. The UI layer draws the figures of the same
    folder: :func:`awake_tutorial.ui.plotting_compare.save_comparison_figures`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "comparison.csv", "summary_csv": out_dir / "comparison_summary.csv",
             "json": out_dir / "comparison.json"}
    summary = summarize(rows)
    write_text_atomic(paths["csv"], _csv(rows, FIELDS))
    write_text_atomic(paths["summary_csv"], _csv(summary, list(summary[0])))
    write_json_atomic(paths["json"], {"convention": CONVENTION,
                                      "summary": summary, "per_task": pooled_by_task(rows)})
    return paths
