"""All methods of the course on the same tasks, counted in machine steps.

On a real accelerator every step costs beam time, so each method is scored by two numbers:
the **machine steps it spends on a task before it acts** (``machine_steps``) and the
**steps it then needs per episode** to bring the orbit below 1 mm RMS.

The methods (their names, families, costs and builders) are the registry of
:mod:`awake_tutorial.runs.methods`: the classical controllers (nominal model, inverse on the
nominal matrix, Broyden from the nominal matrix, measure then correct, and the two that are
given the true matrix), the random policy after K REINFORCE batches, PPO, the meta-policy
and the reference course's meta-policy after K adaptation batches.

PPO's steps (``num_timesteps`` of the model) were spent on task 0, not on the task scored.
Meta-training's own steps were spent on a simulator and are not counted.

**Scoring (one convention).** ``steps_failed_as_max``: the mean number of steps to reach
RMS < 1 mm, where a failed episode (time limit or beam on the wall) counts as
``max_steps`` (100): failures are never averaged in at their (short) length. The headline
scores the **mean action** of the Gaussian policies (deterministic: what an operator runs);
``sampled_*`` columns score the same policies sampling their actions (as they are trained),
empty for deterministic methods. PPO acts with its mean action. ``mean_length`` is the
plain mean episode length (failures at their own length), kept for reference.

**Task sets.** ``evaluation`` (the 5 shipped tasks), ``held-out`` (:func:`heldout_tasks`,
from the config's ``task_distribution``) and ``out-of-distribution`` (:func:`ood_tasks`, from
``ood_tasks``: wider knob ranges, a dead BPM, a miscalibrated corrector, scored and adapted
under its BPM noise).

**Seeds.** Each seed ``s`` adapts with seed ``s`` and evaluates with ``evaluate(seed=s)``
(sub-env i starts from seed s + i): seeds 1000 apart never share a start. Summaries report
the mean over seeds and the spread over seeds (std, min, max) of each seed's mean over tasks.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from awake_tutorial.atomic import write_json_atomic, write_text_atomic
from awake_tutorial.config import REFERENCE_CONFIG_FILE, Config, load_config
from awake_tutorial.envs import evaluate, per_task, steps_failed_as_max
from awake_tutorial.physics.tasks import Task, TaskDistribution, load_evaluation_tasks
from awake_tutorial.runs import methods as registry
from awake_tutorial.runs.training import torch_threads

HELDOUT_SEED = 777  # never used in training: meta-training draws its tasks from other seeds
HELDOUT_FIRST_ID = 100
OOD_SEED, OOD_FIRST_ID = 4242, 200  # the out-of-distribution set: its own seed and ids
SEEDS = (0, 1000, 2000, 3000)  # >= 4 adaptation seeds; 1000 apart: no shared starts
METHODS = registry.COMPARISON  # every method's name, from the registry
TASK_SETS = ("evaluation", "held-out", "out-of-distribution")
STEPS = "steps_failed_as_max"  # the headline score, see the module docstring
CONVENTION = ("steps_failed_as_max: mean steps to reach RMS < 1 mm, a failed episode (time limit or wall) "
              "counted as max_steps; headline: mean action of Gaussian policies, sampled_*: sampled actions; "
              "spread: over seeds (std, min, max of each seed's mean over the tasks); machine_steps: steps "
              "spent on the task before acting (adaptation episodes, probes, PPO's training steps on task 0).")
FIELDS = ("method", "task_set", "task_id", "seed", "machine_steps", STEPS, "success_rate",
          f"sampled_{STEPS}", "sampled_success_rate", "mean_length", "std_length", "mean_return")


def heldout_tasks(n: int = 20, config: Config | None = None) -> list[Task]:
    """``n`` fresh tasks from the config's ``task_distribution`` (ids 100, 101, ...), fixed seed."""
    distribution = TaskDistribution.from_config(load_config() if config is None else config)
    return distribution.sample(n, seed=HELDOUT_SEED, first_id=HELDOUT_FIRST_ID)


def ood_tasks(n: int = 20, config: Config | None = None) -> tuple[list[Task], float]:
    """(tasks, BPM noise in mm): ``n`` tasks of the config's ``ood_tasks`` distribution (ids
    200, ...; fixed seed), out of the training distribution, and the noise to score them with."""
    distribution = TaskDistribution.from_config(load_config() if config is None else config, "ood_tasks")
    return distribution.sample(n, seed=OOD_SEED, first_id=OOD_FIRST_ID), distribution.bpm_noise


def task_sets(config: Config, names: Sequence[str] = TASK_SETS, heldout: int = 20,
              ood: int = 20) -> dict[str, tuple[list[Task], float]]:
    """{task set: (tasks, BPM noise in mm)} of the named sets (``TASK_SETS``)."""
    unknown = sorted(set(names) - set(TASK_SETS))
    if unknown:
        raise ValueError(f"unknown task set(s) {unknown}; choose from {list(TASK_SETS)}.")
    made = {TASK_SETS[0]: lambda: (load_evaluation_tasks(), 0.0),
            TASK_SETS[1]: lambda: (heldout_tasks(heldout, config), 0.0),
            TASK_SETS[2]: lambda: ood_tasks(ood, config)}
    return {name: made[name]() for name in names}


def sampling_policy(policy, seed: int = 0):
    """``per_task`` policy: a GaussianMLPPolicy sampling its actions, as the ``sampled_*`` columns."""
    return per_task(lambda task, plane: registry._sampling(policy, seed, task.id))


def task_scores(results: list[dict], max_steps: int, prefix: str = "") -> list[dict]:
    """The course's score of each task's :func:`~awake_tutorial.envs.evaluate` result:
    ``{prefix}steps_failed_as_max`` (failures counted as ``max_steps``) and
    ``{prefix}success_rate``."""
    return [{f"{prefix}{STEPS}": steps_failed_as_max(r["lengths"], r["successes"], max_steps),
             f"{prefix}success_rate": r["success_rate"]} for r in results]


def check_models(methods: Sequence[str], meta_policy=None, ppo_model=None, reference_policy=None,
                 models: dict | None = None) -> None:
    """Clear errors for unknown methods and for methods whose model is missing."""
    given = {registry.META: meta_policy, registry.PPO: ppo_model, registry.REFERENCE: reference_policy,
             **(models or {})}
    for name in methods:
        method, _ = registry.resolve(name)  # ValueError naming the methods
        if method.needs is not None and given.get(method.needs) is None:
            raise ValueError(f"the {method.family} method(s) need {method.needs}_policy= (or ppo_model= for PPO): "
                             "see awake_tutorial.runs.pretrained.load_pretrained.")


def compare_methods(tasks: Sequence[Task], methods: Sequence[str] | None = None, episodes: int = 50,
                    seed: int | Sequence[int] = 0, meta_policy=None, ppo_model=None, config: Config | None = None,
                    task_set: str = "evaluation", progress: Callable[[str], None] | None = None,
                    reference_policy=None, reference_config: Config | None = None,
                    bpm_noise: float = 0.0, models: dict | None = None) -> list[dict]:
    """Score each method on each task with each seed; one row per (method, task, seed) with
    ``FIELDS`` (+ "lengths": the headline episode lengths).

    ``seed``: one seed or several (see the module docstring). ``meta_policy`` (a
    GaussianMLPPolicy) is needed for ``meta-K``, ``reference_policy`` for ``reference-K``
    (adapted with ``reference_config``, default ``configs/reference.yaml``), ``ppo_model``
    (an SB3 PPO) for ``ppo``; a method whose model is missing raises a clear error.
    ``bpm_noise`` (mm): the machine's BPM noise, for the episodes, adaptation and probes.
    ``models``: the models of other registry entries, by their ``needs`` key.
    """
    config = load_config() if config is None else config
    methods = list(METHODS if methods is None else methods)
    check_models(methods, meta_policy, ppo_model, reference_policy, models)
    if reference_config is None and reference_policy is not None:
        reference_config = load_config(REFERENCE_CONFIG_FILE, num_threads=config.num_threads)
    models = {registry.META: meta_policy, registry.PPO: ppo_model, registry.REFERENCE: reference_policy,
              f"{registry.REFERENCE}_config": reference_config, **(models or {})}
    settings = dict(episodes=episodes, max_steps=config.max_steps, plane=config.plane,
                    wall_penalty=config.wall_penalty, bpm_noise=bpm_noise)
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
        built = registry.build(method, tasks, registry.Setting(config, s, settings["bpm_noise"], models))
        rows += score_built(method, built, tasks, task_set, s, settings)
    return rows


def score_built(method: str, built: registry.Built, tasks: Sequence[Task], task_set: str, seed: int,
                settings: dict) -> list[dict]:
    """The rows (``FIELDS`` + "lengths") of a built method on ``tasks`` with one seed;
    ``settings``: the keyword arguments of :func:`~awake_tutorial.envs.evaluate` (episodes,
    max_steps, plane, wall_penalty, bpm_noise). Also scores a method of your own:
    ``score_built("mine", methods.Built(per_task(factory), None, machine_steps), ...)``."""
    max_steps = settings["max_steps"]
    results = evaluate(built.policy, tasks, seed=seed, **settings)
    scores = task_scores(results, max_steps)
    if built.sampled is not None:
        extra = task_scores(evaluate(built.sampled, tasks, seed=seed, **settings), max_steps, "sampled_")
    else:
        extra = [{f"sampled_{STEPS}": None, "sampled_success_rate": None}] * len(results)
    return [{"method": method, "task_set": task_set, "task_id": r["task_id"], "seed": seed,
             "machine_steps": built.machine_steps[r["task_id"]], **score, **more,
             **{k: r[k] for k in ("mean_length", "std_length", "mean_return", "lengths")}}
            for r, score, more in zip(results, scores, extra)]


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
    fewest = {(r["task_set"], r["task_id"], r["seed"]): r[STEPS] for r in rows
              if r["method"] == registry.FEWEST_STEPS}
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
        family, batches = registry.family_of(method)
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


def read_rows(path) -> list[dict]:
    """The rows of a ``comparison.csv`` (numbers typed again; "lengths" is not stored)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    ints = {"task_id", "seed", "machine_steps"}
    return [{k: v if k in FIELDS[:2] else None if v == "" else int(v) if k in ints else float(v)
             for k, v in r.items()} for r in rows]


def read_summary(out_dir) -> list[dict]:
    """The summary rows of the ``comparison.json`` in ``out_dir``."""
    return json.loads((Path(out_dir) / "comparison.json").read_text())["summary"]


def write_results(rows: Sequence[dict], out_dir, append: bool = False) -> dict:
    """Write into ``out_dir``: ``comparison.csv`` (one row per method, task and seed; the
    header names the scoring convention), ``comparison_summary.csv`` (:func:`summarize`),
    ``comparison.json`` (convention, summary, and per task the seeds pooled:
    :func:`pooled_by_task`); returns their paths. The UI layer draws the figures of the same
    folder: :func:`awake_tutorial.ui.plotting_compare.save_comparison_figures`. With ``append``
    the results already in ``out_dir`` are kept, except the rows of the methods and task sets
    that ``rows`` holds: one method can be added without rerunning the others."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "comparison.csv", "summary_csv": out_dir / "comparison_summary.csv",
             "json": out_dir / "comparison.json"}
    per_task = pooled_by_task(rows)
    if append and paths["csv"].exists():
        new = {(r["method"], r["task_set"]) for r in rows}
        kept = [r for r in read_rows(paths["csv"]) if (r["method"], r["task_set"]) not in new]
        old_pooled = json.loads(paths["json"].read_text())["per_task"]
        rows = kept + list(rows)
        per_task = [r for r in old_pooled if (r["method"], r["task_set"]) not in new] + per_task
    summary = summarize(rows)
    write_text_atomic(paths["csv"], _csv(rows, FIELDS))
    write_text_atomic(paths["summary_csv"], _csv(summary, list(summary[0])))
    write_json_atomic(paths["json"], {"convention": CONVENTION, "summary": summary, "per_task": per_task})
    return paths
