"""``awake-tutorial adapt``: the inner loop alone, on evaluation tasks or (``--machine``) a machine."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from awake_tutorial.atomic import write_json_atomic
from awake_tutorial.runs.training import adapt
from awake_tutorial.ui.cli.base import option
from awake_tutorial.ui.cli.common import (CONFIG, OVERWRITE, SEED, TASKS, evaluation_tasks, load_meta_policy,
                                          load_settings, print_table, run_folder, save_standard_figures)
from awake_tutorial.ui.cli.machine import MACHINE_OPTIONS, adapt_on_machine

ADAPTATION_FILE = "adaptation.json"  # adapt's own settings (adaptation batches), beside config.yaml

OPTIONS = (option("--policy", required=True, help="policy file (.pt) or 'random'"), TASKS,
           option("--num-batches", type=int, default=5, help="adaptation batches (default 5)"), SEED,
           option("--run-dir", type=Path, help="run folder (default: runs/adapt_<time>)"), OVERWRITE, *CONFIG,
           *MACHINE_OPTIONS,)


def run(args) -> None:
    config = load_settings(args)  # its num_batches (meta-training's) stays as it is: the run's config.yaml
    policy = load_meta_policy(args.policy, config, args.seed)
    run_dir = run_folder(args, "adapt")
    write_json_atomic(run_dir / ADAPTATION_FILE, {"adaptation_batches": args.num_batches, "policy": args.policy,
                                                  "tasks": args.tasks, "seed": args.seed, "machine": args.machine,
                                                  "machine_backend": args.machine_backend if args.machine else None})
    if args.machine:
        return adapt_on_machine(args, config, policy, run_dir)
    tasks = evaluation_tasks(args.tasks)
    bar = tqdm(total=args.num_batches, unit="batch", desc="adapt", dynamic_ncols=True)
    try:
        records = adapt(policy, tasks, args.num_batches, config, seed=args.seed, run_dir=run_dir,
                        callback=lambda batch: bar.update(1) and False, overwrite=args.overwrite).records
    finally:
        bar.close()
    first = {r["task_id"]: r for r in records if r["batch"] == 0}
    last = {r["task_id"]: r for r in records}  # later batches overwrite: the last one stays
    rows = [{"task": t, "plain length first": first[t]["mean_length"], "plain length last": last[t]["mean_length"],
             "success first": first[t]["success_rate"], "success last": last[t]["success_rate"]}
            for t in first]
    print_table(rows, f"adaptation of {args.policy} over {args.num_batches} batches; sampled actions, plain mean "
                      f"lengths (a failure at its own length; the course's score: awake-tutorial evaluate)")
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir}")
