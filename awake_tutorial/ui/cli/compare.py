"""``awake-tutorial compare``: every method of the registry on the evaluation, held-out and out-of-distribution tasks."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from awake_tutorial.quick import budget
from awake_tutorial.runs import compare
from awake_tutorial.runs import methods as registry
from awake_tutorial.runs.ppo import load_ppo
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.ui.cli.base import option
from awake_tutorial.ui.cli.common import CONFIG, load_settings, print_table
from awake_tutorial.ui.plotting_compare import save_comparison_figures

OPTIONS = (*CONFIG,
           option("--meta-policy", default="meta", help="meta-policy: 'meta' (shipped) or a .pt file"),
           option("--ppo", default="ppo", help="PPO policy: 'ppo' (shipped) or a .zip file"),
           option("--methods", nargs="+", metavar="M", help="subset of the methods (default: all)"),
           option("--episodes", type=int, help="episodes per task and seed (default 12; quick mode 4)"),
           option("--heldout", type=int, help="number of held-out tasks (default 20; quick mode 3)"),
           option("--ood", type=int, help="number of out-of-distribution tasks (default 20; quick mode 3)"),
           option("--task-sets", nargs="+", metavar="SET", choices=compare.TASK_SETS, default=list(compare.TASK_SETS),
                  help=f"task sets to score (default all: {' '.join(compare.TASK_SETS)})"),
           option("--append", action="store_true",
                  help="add to the results already in --out (rows of the same method and task set replaced)"),
           option("--seeds", type=int, nargs="+", metavar="S",
                  help="adaptation and episode seeds (default 0 1000 2000 3000; quick mode 0 1000)"),
           option("--out", type=Path, default=Path("runs/comparison"), help="output folder"),)


def run(args) -> None:
    config = load_settings(args)
    methods = args.methods or list(compare.METHODS)
    compare.check_models(methods, meta_policy=True, ppo_model=True, reference_policy=True)  # unknown names
    family = {m: registry.resolve(m)[0].family for m in methods}
    reference = None
    if registry.REFERENCE in family.values():
        try:
            reference = load_pretrained(registry.REFERENCE)  # the shipped policy of that name
        except (FileNotFoundError, KeyError) as error:
            methods = [m for m in methods if family[m] != registry.REFERENCE]
            print(f"skipping the reference-K methods: no reference meta-policy ({error})", file=sys.stderr)
    meta = load_pretrained(args.meta_policy) if registry.META in family.values() else None
    ppo = load_ppo(args.ppo) if registry.PPO in methods else None  # load_ppo("ppo"): the shipped model
    episodes = args.episodes or budget(12, 4)
    seeds = args.seeds or list(budget(compare.SEEDS, compare.SEEDS[:2]))
    task_sets = compare.task_sets(config, args.task_sets, args.heldout or budget(20, 3), args.ood or budget(20, 3))
    bar = tqdm(total=len(methods) * len(task_sets), unit="method", desc="compare", dynamic_ncols=True)
    rows = []
    for task_set, (tasks, bpm_noise) in task_sets.items():
        rows += compare.compare_methods(tasks, methods, episodes=episodes, seed=seeds, meta_policy=meta,
                                        ppo_model=ppo, config=config, task_set=task_set, reference_policy=reference,
                                        progress=lambda method: bar.update(1), bpm_noise=bpm_noise)
    bar.close()
    summary, steps = compare.summarize(rows), compare.STEPS
    columns = {"method": "method", "task_set": "tasks", "machine_steps": "machine steps", steps: "steps",
               f"{steps}_std": "+-", "success_rate": "success", f"sampled_{steps}": "sampled steps",
               "sampled_success_rate": "sampled success", "steps_over_fewest": "steps/fewest"}
    print_table([{name: "-" if row[k] is None else row[k] for k, name in columns.items()}
                 for row in summary],
                f"{episodes} episodes per task and seed, {len(seeds)} seeds; steps: mean action, a failed episode "
                f"counts as {config.max_steps}; +-: std over seeds; sampled: the Gaussian policies sampling")
    paths = compare.write_results(rows, args.out, append=args.append)
    summary = compare.read_summary(args.out) if args.append else summary  # the figures show every row
    for kind, path in {**paths, **save_comparison_figures(summary, args.out)}.items():
        print(f"{kind}: {path}")
