"""``awake-tutorial meta-train``: meta-train a policy (resumable, exportable)."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from awake_tutorial.runs.folders import POLICY_FILE
from awake_tutorial.runs.pretrained import export_meta_policy
from awake_tutorial.runs.training import meta_train
from awake_tutorial.ui.cli.base import CLIError, option
from awake_tutorial.ui.cli.common import CONFIG, OVERWRITE, load_settings, print_table, run_folder, save_standard_figures

OPTIONS = (*CONFIG,
           option("--num-batches", type=int, help="meta-batches (default: config)"),
           option("--seed", type=int, help="random seed (default: config)"),
           option("--run-dir", type=Path, help="run folder (default: runs/meta_train_<time>)"),
           option("--resume", action="store_true", help="continue the run in --run-dir"), OVERWRITE,
           option("--export", type=Path, help="also write the policy + metadata .json here "
                                              "(how data/pretrained_meta_policy.pt is made)"),)


def run(args) -> None:
    if args.resume and args.run_dir is None:
        raise CLIError("--resume needs --run-dir: the folder of the run to continue.")
    config = load_settings(args, seed=args.seed, num_batches=args.num_batches)
    run_dir = run_folder(args, "meta_train")
    bar = tqdm(total=config.num_batches, unit="batch", desc="meta-train", dynamic_ncols=True)

    def show(r):
        bar.set_postfix(ret=f"{r['return_after']:.1f}", succ=f"{r['success_after']:.0%}", refresh=False)
        bar.update(r["batch"] + 1 - bar.n)

    try:
        result = meta_train(config, run_dir, show, resume=args.resume, overwrite=args.overwrite)
        records = result.records
    finally:
        bar.close()
    if not records:
        raise CLIError(f"no meta-batch ran: {run_dir} already holds all {config.num_batches} batches.")
    rows = [{"batch": r["batch"] + 1, "return before": r["return_before"], "return after": r["return_after"],
             "plain length after": r["length_after"], "success after": r["success_after"],
             "outer step": "accepted" if r["step_accepted"] else "rejected"} for r in records[-5:]]
    print_table(rows, f"meta-training: {len(records)} of {config.num_batches} batches "
                      f"in {records[-1]['wall_time']:.0f} s (last 5 shown; plain mean lengths of sampled episodes)")
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir} (policy: {Path(run_dir) / POLICY_FILE})")
    if args.export:
        path = export_meta_policy(result.policy, config, args.export, records[-1]["batch"] + 1, records[-1]["wall_time"])
        print(f"exported: {path} (+ {path.with_suffix('.json').name})")
