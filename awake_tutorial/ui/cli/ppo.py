"""``awake-tutorial ppo``: the single-task PPO baseline, trained on one task and tested on all."""

from __future__ import annotations

import time
from pathlib import Path

from awake_tutorial.runs.ppo import load_ppo, ppo_policy, save_ppo, train_ppo
from awake_tutorial.ui import plotting
from awake_tutorial.ui.cli.base import CLIError, option
from awake_tutorial.ui.cli.common import CONFIG, EPISODES, SEED, TASKS, evaluate_and_print, evaluation_tasks, load_settings

OPTIONS = (option("--train", action="store_true", help="train on --task-id, then test"),
           option("--test", action="store_true", help="test the model saved at --out"),
           option("--task-id", type=int, required=True, help="evaluation task to train on"),
           option("--timesteps", type=int, help="environment steps (default: config ppo)"),
           option("--out", type=Path, help="model file (default: runs/ppo_task<K>.zip)"),
           TASKS, EPISODES, SEED, *CONFIG,)


def run(args) -> None:
    if args.train == args.test:
        raise CLIError("pass one of --train (train on --task-id, then test) or --test.")
    config = load_settings(args)
    task = evaluation_tasks([args.task_id])[0]
    out = args.out or Path("runs") / f"ppo_task{args.task_id}.zip"
    if args.train:
        if args.timesteps is not None and args.timesteps < 1:
            raise CLIError(f"--timesteps must be >= 1, got {args.timesteps}.")
        records, start = [], time.perf_counter()
        model = train_ppo(task, config, records.append, progress=True, total_timesteps=args.timesteps)
        out = save_ppo(model, out, {"task_id": args.task_id, "ppo": vars(config.ppo),
                                    "wall_time_s": round(time.perf_counter() - start, 1),
                                    "command": f"awake-tutorial ppo --train --task-id {args.task_id} --out {out}"})
        curve = plotting.save_figure(plotting.plot_ppo_learning_curve(records),
                                     out.with_name(out.stem + "_learning_curve.png"))
        print(f"model: {out}\nfigure: {curve}")
    else:
        model = load_ppo(out)
    evaluate_and_print(ppo_policy(model), args, config, f"PPO trained on task {args.task_id}")
