"""Regenerate the README's pictures: `python docs/make_figures.py` (about half a minute).

Inputs: the shipped evaluation tasks and pretrained policy, the comparison table written
by `awake-tutorial compare --out docs/results`, and the pretrained run's figure
(`awake-tutorial meta-train ... --run-dir runs/pretrained`).

`python docs/make_figures.py --compare` first reruns the comparison itself (full budgets,
about 3 minutes): docs/results (csv, json, figures), then every picture, including
docs/figures/comparison*.png (drawn from docs/results/comparison.json). Run it after
reshipping a policy.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from awake_tutorial.ui import plotting, plotting_compare  # noqa: E402
from awake_tutorial.config import load_config  # noqa: E402
from awake_tutorial.runs.pretrained import load_pretrained  # noqa: E402
from awake_tutorial.physics.tasks import load_evaluation_tasks  # noqa: E402
from awake_tutorial.runs.training import adapt  # noqa: E402
from awake_tutorial.ui.cli import main  # noqa: E402

DOCS = Path(__file__).parent
OUT = DOCS / "figures"


def save(fig, name):
    print(plotting.save_figure(fig, OUT / name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true",
                        help="first rerun `awake-tutorial compare --out docs/results` (about 3 minutes)")
    parser.add_argument("--comparison-only", action="store_true",
                        help="only redraw comparison*.png (docs/figures, docs/results) from docs/results/comparison.json (after "
                             "`awake-tutorial compare --append` added a method)")
    options = parser.parse_args()
    if options.comparison_only:
        summary = json.loads((DOCS / "results" / "comparison.json").read_text())["summary"]
        for folder in (OUT, DOCS / "results"):
            for path in plotting_compare.save_comparison_figures(summary, folder).values():
                print(path)
        sys.exit(0)
    if options.compare:
        if main(["compare", "--out", str(DOCS / "results")]) != 0:
            sys.exit("awake-tutorial compare failed")
    tasks = load_evaluation_tasks()
    config = load_config()
    save(plotting.plot_tasks(tasks[:3]), "response_matrices.png")
    comparison = json.loads((DOCS / "results" / "comparison.json").read_text())
    per_task = comparison["per_task"]  # seeds pooled
    evaluation = {m: [r for r in per_task if r["method"] == m and r["task_set"] == "evaluation"]
                  for m in ("ppo", "inverse", "fewest-steps")}
    save(plotting_compare.plot_comparison(evaluation, "PPO trained on task 0, on every evaluation task"),
         "ppo_tasks.png")
    save(plotting.plot_adaptation(adapt(None, tasks, 40, config, seed=0).records), "adaptation_random.png")
    save(plotting.plot_adaptation(adapt(load_pretrained("meta"), tasks, 4, config, seed=0).records),
         "adaptation_meta.png")
    for path in plotting_compare.save_comparison_figures(comparison["summary"], OUT).values():
        print(path)
    run_figure = Path("runs/pretrained/meta_training.png")
    if run_figure.exists():
        shutil.copy(run_figure, OUT / "meta_training.png")
