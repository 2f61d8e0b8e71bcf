"""The Broyden controller's variants, measured (issue 23): which robustness device helps.

Run: ``python benchmarks/broyden_variants.py`` (about 5 minutes on 2 cores). Scores each
variant of :class:`awake_tutorial.controllers.BroydenPolicy` the course's way (mean steps to
1 mm with a failure counted as 100, 12 episodes per task and seed, 4 seeds, mean over seeds
± std over seeds, success rate) on the evaluation tasks (noise-free, 0.1 and 0.3 mm of BPM
noise), the 20 held-out tasks (noise-free, 0.3 mm) and the out-of-distribution set (its own
noise), and writes the table to ``docs/results/broyden_variants.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from awake_tutorial.atomic import write_text_atomic
from awake_tutorial.config import load_config
from awake_tutorial.controllers import BroydenPolicy
from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.runs.compare import SEEDS, STEPS, heldout_tasks, ood_tasks, spread_over_seeds, task_scores

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "broyden_variants.md"
VARIANTS = {  # name -> BroydenPolicy keyword arguments (the default is the shipped choice)
    "plain secant (no truncation, no damping)": dict(rcond=0.0),
    "skip steps with norm(a) < 0.5": dict(rcond=0.0, min_step=0.5),
    "damping 0.5": dict(rcond=0.0, damping=0.5),
    "trust region max(abs(a)) <= 0.5": dict(rcond=0.0, max_action=0.5),
    "start from the mean matrix of 500 tasks": dict(rcond=0.0, start="mean"),
    "truncated pseudo-inverse, rcond 0.01 (default)": dict(),
    "rcond 0.02": dict(rcond=0.02),
    "rcond 0.03": dict(rcond=0.03),
    "rcond 0.1": dict(rcond=0.1),
    "rcond 0.02 + trust region 0.7": dict(rcond=0.02, max_action=0.7),
}


def score(kwargs: dict, tasks, bpm_noise: float, max_steps: int) -> str:
    """'steps ± std (success)' of one variant on ``tasks``, the course's way."""
    steps, success = [], []
    for seed in SEEDS:
        results = evaluate(per_task(lambda task, plane: BroydenPolicy(task, plane, **kwargs)), tasks, episodes=12,
                           seed=seed, max_steps=max_steps, bpm_noise=bpm_noise)
        scores = task_scores(results, max_steps)
        steps.append(np.mean([s[STEPS] for s in scores]))
        success.append(np.mean([s["success_rate"] for s in scores]))
    spread = spread_over_seeds(steps, STEPS)
    return f"{spread[STEPS]:.2f} ± {spread[STEPS + '_std']:.2f} ({np.mean(success):.1%})"


def main() -> None:
    config, start = load_config(), time.perf_counter()
    ood, ood_noise = ood_tasks(20, config)
    mean_matrix = np.mean([t.response(config.plane) for t in heldout_tasks(500, config)], axis=0)
    sets = {"evaluation": (load_evaluation_tasks(), 0.0), "evaluation, 0.1 mm": (load_evaluation_tasks(), 0.1),
            "evaluation, 0.3 mm": (load_evaluation_tasks(), 0.3), "held-out": (heldout_tasks(20, config), 0.0),
            "held-out, 0.3 mm": (heldout_tasks(20, config), 0.3),
            f"out-of-distribution ({ood_noise} mm)": (ood, ood_noise)}
    lines = ["| variant | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|"]
    for name, kwargs in VARIANTS.items():
        kwargs = {**kwargs, "start": mean_matrix} if kwargs.get("start") == "mean" else kwargs
        cells = [score(kwargs, tasks, noise, config.max_steps) for tasks, noise in sets.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    head = ("Broyden from the nominal matrix, variants (`python benchmarks/broyden_variants.py`): mean steps to "
            "1 mm with a failure counted as 100 ± std over 4 seeds (success rate), 12 episodes per task and seed, "
            "0 machine steps.\n\n")
    write_text_atomic(OUT, head + "\n".join(lines) + "\n")
    print(f"table: {OUT} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
