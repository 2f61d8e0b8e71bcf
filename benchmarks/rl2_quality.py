"""The recurrent (RL²) meta-policy against the gradient-based one: the table of issue 24.

    python benchmarks/rl2_quality.py                 # writes docs/results/rl2_comparison.json
    python benchmarks/rl2_quality.py --episodes 20   # a quicker look

Task sets: the 5 evaluation tasks, the 20 held-out tasks, and 20 out-of-distribution
tasks (``black_box.out_of_distribution_tasks``: each knob scaled by U(0.5, 1.5), as notebook 09); BPM noise
0 and 0.3 mm. Methods: "rl2" (0 machine steps) and "meta-K" (the shipped meta-policy after
K adaptation batches under the same noise). Scoring as the comparison: mean action,
failures as 100 steps, 4 seeds (mean and std over seeds, worst seed's success).
"""

from __future__ import annotations

import argparse
import time

from awake_tutorial.atomic import write_json_atomic
from awake_tutorial.config import load_config
from awake_tutorial.paths import REPO_DIR
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.runs.black_box import (OUT_OF_DISTRIBUTION_RANGE, black_box_rows, out_of_distribution_tasks,
                                           summarize_black_box, table)
from awake_tutorial.runs.compare import SEEDS, heldout_tasks
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.rl2_policy import load_rl2

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--batches", type=int, nargs="+", default=[0, 1, 4, 10])
    parser.add_argument("--out", default=str(REPO_DIR / "docs" / "results" / "rl2_comparison.json"))
    args = parser.parse_args()
    config, rl2, meta = load_config(), load_rl2(), load_pretrained("meta")
    task_sets = {"evaluation": load_evaluation_tasks(), "held-out": heldout_tasks(),
                 "out of distribution": out_of_distribution_tasks(20)}
    results = []
    for noise in (0.0, 0.3):
        for name, tasks in task_sets.items():
            start = time.perf_counter()
            summary = summarize_black_box(black_box_rows(tasks, rl2, meta, config, tuple(args.batches), noise,
                                                         args.episodes, SEEDS))
            print(f"\n{name} ({len(tasks)} tasks), BPM noise {noise} mm, {len(SEEDS)} seeds x {args.episodes} "
                  f"episodes ({time.perf_counter() - start:.0f} s)\n{table(summary)}", flush=True)
            results += [{"task_set": name, "bpm_noise": noise, **row} for row in summary]
    write_json_atomic(args.out, {"convention": "mean action; failures count as 100 steps; per seed the mean over "
                                               "tasks, then mean/std (ddof 1)/min/max over seeds; machine_steps "
                                               "spent per task before acting",
                                 "seeds": list(SEEDS), "episodes": args.episodes,
                                 "out_of_distribution_knob_range": list(OUT_OF_DISTRIBUTION_RANGE),
                                 "rows": results})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
