"""The shipped recurrent (RL²) meta-policy: save, load and score it the course's way.

The file is a policy file (:mod:`awake_tutorial.runs.policy_files`: class, architecture and
weights, ``torch.load(weights_only=True)``; the shipped one is an older plain state_dict, which
:func:`load_rl2` still reads) with a .json beside it
(architecture, settings, training time, the command that makes it, sha256), as the other
shipped policies (:mod:`awake_tutorial.runs.pretrained`).

:func:`score_rl2` gives rows of :func:`awake_tutorial.runs.compare.compare_methods`' layout
(method "rl2", 0 machine steps): the comparison can list it as one more method on any
task set (evaluation, held-out, out of distribution, with BPM noise); the registry's
``rl2`` entry scores the same policy the same way in ``awake-tutorial compare``.
:func:`load_rl2` lives with that entry (:mod:`awake_tutorial.runs.methods`: this module
scores with ``compare``, which reads the registry) and is imported here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from awake_tutorial.envs import evaluate
from awake_tutorial.physics.tasks import Task
from awake_tutorial.rl.recurrent import GaussianGRUPolicy
from awake_tutorial.runs.compare import SEEDS, STEPS, spread_over_seeds, task_scores
from awake_tutorial.runs.methods import RL2, SHIPPED_RL2 as SHIPPED_FILE, load_rl2  # noqa: F401 (this module's API)
from awake_tutorial.runs.policy_files import save_policy
from awake_tutorial.runs.pretrained import write_metadata
from awake_tutorial.runs.training import EVALUATE, seed_for

METHOD = RL2  # its name in the method registry


def save_rl2(policy: GaussianGRUPolicy, path, info: Mapping) -> Path:
    """Write the policy (class, architecture, weights: ``policy_files.save_policy``) and its
    metadata ``info`` (+ sha256) beside it."""
    path = save_policy(policy, path)
    write_metadata(path, {"architecture": policy.architecture(), **dict(info)})
    return path


def score_rl2(policy: GaussianGRUPolicy, tasks: Sequence[Task], task_set: str = "evaluation",
              episodes: int = 100, seeds: Sequence[int] = SEEDS, bpm_noise: float = 0.0,
              max_steps: int = 100) -> list[dict]:
    """One row per (task, seed) in the comparison's layout: the mean action (headline) and
    sampled actions scored by ``steps_failed_as_max`` over ``episodes`` episodes started from
    ``evaluate(seed=s)``, 0 machine steps (it adapts within the episode, from no data)."""
    rows = []
    for s in seeds:
        settings = dict(episodes=episodes, seed=s, max_steps=max_steps, bpm_noise=bpm_noise)
        results = evaluate(policy.actor(deterministic=True), tasks, **settings)
        sampled = [evaluate(policy.actor(False, seed_for(s, EVALUATE, t.id, 0)), [t], **settings)[0] for t in tasks]
        rows += [{"method": METHOD, "task_set": task_set, "task_id": r["task_id"], "seed": s, "machine_steps": 0,
                  **score, **more, **{k: r[k] for k in ("mean_length", "std_length", "mean_return", "lengths")}}
                 for r, score, more in zip(results, task_scores(results, max_steps),
                                           task_scores(sampled, max_steps, "sampled_"))]
    return rows


def summary_of(rows: Sequence[dict]) -> dict:
    """Steps (mean over seeds of each seed's mean over tasks, with the spread), success rate
    and the worst seed's success rate of :func:`score_rl2`'s rows."""
    seeds = sorted({r["seed"] for r in rows})
    per_seed = {key: [float(np.mean([r[key] for r in rows if r["seed"] == s])) for s in seeds]
                for key in (STEPS, "success_rate", f"sampled_{STEPS}", "sampled_success_rate")}
    return {**spread_over_seeds(per_seed[STEPS], "steps"), "success": float(np.mean(per_seed["success_rate"])),
            "success_min": float(np.min(per_seed["success_rate"])),
            **spread_over_seeds(per_seed[f"sampled_{STEPS}"], "sampled_steps"),
            "sampled_success": float(np.mean(per_seed["sampled_success_rate"]))}
