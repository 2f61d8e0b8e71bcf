"""``awake-tutorial``: the course's command line (train, adapt, evaluate, plot).

A subcommand is one function decorated with ``@subcommand(name, help, *options)``
(see :mod:`awake_tutorial.ui.cli_tools`); it receives the parsed arguments. Long commands
show a tqdm bar and end with a short table; figures are saved as PNG files, never
shown. A user mistake (unknown task, missing file, bad config key, unwritable folder)
prints one line on stderr and exits with status 2; set AWAKE_TUTORIAL_DEBUG=1 to see
the traceback instead.

Start-up time is why some imports sit inside functions, here and in
:mod:`awake_tutorial.ui.cli_machine`: the modules that load torch, stable-baselines3 or
scipy (policies, training, PPO, pretrained files, compare; the controllers) are imported
by the command that uses them, and only those. ``awake-tutorial --help`` then takes 0.7 s
instead of 2.7 s with every import at the top (measured on 2 cores); tests/test_cli.py
checks that ``--help`` loads no torch.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import matplotlib
from tqdm.auto import tqdm

# light modules only at the top (torch, stable-baselines3, scipy: see the module docstring)
from awake_tutorial.envs import evaluate, steps_failed_as_max
from awake_tutorial.atomic import write_json_atomic
from awake_tutorial.physics.tasks import load_evaluation_tasks, write_evaluation_tasks
from awake_tutorial.quick import budget
from awake_tutorial.runs.folders import POLICY_FILE, check_run_dir, read_records
from awake_tutorial.ui import plotting
from awake_tutorial.ui.cli_tools import (CONFIG, EPISODES, OVERWRITE, SEED, SUBCOMMANDS, TASKS, USER_ERRORS,
                                      CLIError, build_parser, evaluation_tasks, load_settings, option,
                                      print_table, run_folder, save_standard_figures, subcommand)
from awake_tutorial.ui.cli_machine import MACHINE_OPTIONS, adapt_on_machine  # also registers serve-machine, restore

__all__ = ["SUBCOMMANDS", "main"]  # the registry of subcommands is public here too

# --help prints plain text (the module docstring above is reStructuredText for the API docs)
ADAPTATION_FILE = "adaptation.json"  # adapt's own settings (adaptation batches), beside config.yaml
DESCRIPTION = "awake-tutorial: the course's command line (train, adapt, evaluate, compare, plot)."


def load_meta_policy(spec: str, config, seed: int):
    """A GaussianMLPPolicy from a .pt file, or a seeded random one for "random"."""
    from awake_tutorial.runs.policy_files import load_policy
    from awake_tutorial.runs.training import new_policy

    return new_policy(config, seed) if spec == "random" else load_policy(spec, config=config)


def load_any_policy(spec: str, config, seed: int = 0, mean_action: bool = False):
    """``--policy`` as :func:`awake_tutorial.envs.evaluate` takes it: a file (.zip:
    PPO, else a meta-policy .pt), "random" (a random network, seeded), or a classical
    controller of the method registry (``methods.CONTROLLERS``). The Gaussian policies (.pt,
    random) sample their actions as ``compare`` scores them, or act with their mean
    with ``mean_action``; the others are deterministic."""
    from awake_tutorial.runs import compare, methods
    from awake_tutorial.runs.ppo import load_ppo, ppo_policy

    if spec in methods.CONTROLLERS:
        return methods.controller_policy(spec, config, seed)
    if spec.endswith(".zip"):
        return ppo_policy(load_ppo(spec))
    policy = load_meta_policy(spec, config, seed)
    return policy.as_numpy_policy() if mean_action else compare.sampling_policy(policy, seed)


def evaluate_and_print(policy, args, config, title: str) -> list[dict]:
    from awake_tutorial.runs.training import torch_threads

    tasks = tqdm(evaluation_tasks(args.tasks), unit="task", desc="evaluate", dynamic_ncols=True)
    with torch_threads(config.num_threads):  # as compare: same numbers, and fast on a busy machine
        results = [evaluate(policy, [task], episodes=args.episodes, seed=args.seed, max_steps=config.max_steps,
                            plane=config.plane, wall_penalty=config.wall_penalty)[0] for task in tasks]
    rows = [{"task": r["task_id"], "steps": steps_failed_as_max(r["lengths"], r["successes"], config.max_steps),
             "success": r["success_rate"], "plain mean length": r["mean_length"], "return": r["mean_return"]}
            for r in results]
    print_table(rows, f"{title}: {args.episodes} episodes per task; steps: the course's score (a failed episode "
                      f"counts as {config.max_steps}); plain mean length: failures at their own length")
    return results


# --- subcommands ------------------------------------------------------------------------


@subcommand("meta-train", "meta-train a policy with MAML-TRPO", *CONFIG,
            option("--num-batches", type=int, help="meta-batches (default: config)"),
            option("--seed", type=int, help="random seed (default: config)"),
            option("--run-dir", type=Path, help="run folder (default: runs/meta_train_<time>)"),
            option("--resume", action="store_true", help="continue the run in --run-dir"), OVERWRITE,
            option("--export", type=Path, help="also write the policy + metadata .json here "
                                               "(how data/pretrained_meta_policy.pt is made)"))
def meta_train_command(args) -> None:
    from awake_tutorial.runs.pretrained import export_meta_policy
    from awake_tutorial.runs.training import meta_train

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
             "length after": r["length_after"], "success after": r["success_after"],
             "outer step": "accepted" if r["step_accepted"] else "rejected"} for r in records[-5:]]
    print_table(rows, f"meta-training: {len(records)} of {config.num_batches} batches "
                      f"in {records[-1]['wall_time']:.0f} s (last 5 shown)")
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir} (policy: {Path(run_dir) / POLICY_FILE})")
    if args.export:
        path = export_meta_policy(result.policy, config, args.export, records[-1]["batch"] + 1, records[-1]["wall_time"])
        print(f"exported: {path} (+ {path.with_suffix('.json').name})")


@subcommand("adapt", "adapt a policy to evaluation tasks (the inner loop alone)",
            option("--policy", required=True, help="policy file (.pt) or 'random'"), TASKS,
            option("--num-batches", type=int, default=5, help="adaptation batches (default 5)"), SEED,
            option("--run-dir", type=Path, help="run folder (default: runs/adapt_<time>)"), OVERWRITE, *CONFIG,
            *MACHINE_OPTIONS)
def adapt_command(args) -> None:
    from awake_tutorial.runs.training import adapt

    config = load_settings(args)  # its num_batches (meta-training's) stays as it is: the run's config.yaml
    policy = load_meta_policy(args.policy, config, args.seed)
    run_dir = run_folder(args, "adapt")
    write_json_atomic(run_dir / ADAPTATION_FILE, {"adaptation_batches": args.num_batches, "policy": args.policy,
                                                  "tasks": args.tasks, "seed": args.seed, "machine": args.machine})
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
    rows = [{"task": t, "length first": first[t]["mean_length"], "length last": last[t]["mean_length"],
             "success first": first[t]["success_rate"], "success last": last[t]["success_rate"]}
            for t in first]
    print_table(rows, f"adaptation of {args.policy} over {args.num_batches} batches (plain mean lengths)")
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir}")


@subcommand("evaluate", "evaluate a policy on the evaluation tasks",
            option("--policy", required=True,
                   help="policy file (.pt meta-policy or .zip PPO), random, inverse or fewest-steps"),
            option("--mean-action", action="store_true",
                   help="a .pt or random policy acts with its mean (default: samples, as compare scores it)"),
            TASKS, EPISODES, SEED, option("--out", type=Path, help="also write the results as JSON"),
            *CONFIG)
def evaluate_command(args) -> None:
    config = load_settings(args)
    policy = load_any_policy(args.policy, config, args.seed, args.mean_action)
    results = evaluate_and_print(policy, args, config, args.policy)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"policy": args.policy, "results": results}, indent=2) + "\n")
        print(f"results: {args.out}")


@subcommand("ppo", "single-task PPO baseline (stable-baselines3): train on one task, test on all",
            option("--train", action="store_true", help="train on --task-id, then test"),
            option("--test", action="store_true", help="test the model saved at --out"),
            option("--task-id", type=int, required=True, help="evaluation task to train on"),
            option("--timesteps", type=int, help="environment steps (default: config ppo)"),
            option("--out", type=Path, help="model file (default: runs/ppo_task<K>.zip)"),
            TASKS, EPISODES, SEED, *CONFIG)
def ppo_command(args) -> None:
    from awake_tutorial.runs.ppo import load_ppo, ppo_policy, save_ppo, train_ppo

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


@subcommand("plot", "save the standard figures of a run folder as PNG",
            option("run_dir", type=Path, help="a meta-train or adapt run folder"),
            option("--out", type=Path, help="folder for the PNGs (default: the run folder)"))
def plot_command(args) -> None:
    save_standard_figures(read_records(check_run_dir(args.run_dir)), args.out or args.run_dir)  # ValueError if empty


@subcommand("make-tasks", "regenerate the evaluation tasks (data/evaluation_tasks.npz)",
            option("--out", type=Path, help="folder (default: the course's data/)"))
def make_tasks_command(args) -> None:
    print(f"evaluation tasks: {write_evaluation_tasks(args.out)}")


@subcommand("compare", "score every method on the evaluation and held-out tasks, in machine steps", *CONFIG,
            option("--meta-policy", default="meta", help="meta-policy: 'meta' (shipped) or a .pt file"),
            option("--ppo", default="ppo", help="PPO policy: 'ppo' (shipped) or a .zip file"),
            option("--methods", nargs="+", metavar="M", help="subset of the methods (default: all)"),
            option("--episodes", type=int, help="episodes per task and seed (default 12; quick mode 4)"),
            option("--heldout", type=int, help="number of held-out tasks (default 20; quick mode 3)"),
            option("--seeds", type=int, nargs="+", metavar="S",
                   help="adaptation and episode seeds (default 0 1000 2000 3000; quick mode 0 1000)"),
            option("--out", type=Path, default=Path("runs/comparison"), help="output folder"))
def compare_command(args) -> None:
    from awake_tutorial.runs import compare
    from awake_tutorial.runs import methods as registry
    from awake_tutorial.runs.pretrained import load_pretrained
    from awake_tutorial.runs.ppo import load_ppo
    from awake_tutorial.ui.plotting_compare import save_comparison_figures

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
    task_sets = {"evaluation": load_evaluation_tasks(),
                 "held-out": compare.heldout_tasks(args.heldout or budget(20, 3), config)}
    bar = tqdm(total=len(methods) * len(task_sets), unit="method", desc="compare", dynamic_ncols=True)
    rows = []
    for task_set, tasks in task_sets.items():
        rows += compare.compare_methods(tasks, methods, episodes=episodes, seed=seeds, meta_policy=meta,
                                        ppo_model=ppo, config=config, task_set=task_set, reference_policy=reference,
                                        progress=lambda method: bar.update(1))
    bar.close()
    summary, steps = compare.summarize(rows), compare.STEPS
    columns = {"method": "method", "task_set": "tasks", "machine_steps": "machine steps", steps: "steps",
               f"{steps}_std": "+-", "success_rate": "success", f"sampled_{steps}": "sampled steps",
               "sampled_success_rate": "sampled success", "steps_over_fewest": "steps/fewest"}
    print_table([{name: "-" if row[k] is None else row[k] for k, name in columns.items()}
                 for row in summary],
                f"{episodes} episodes per task and seed, {len(seeds)} seeds; steps: mean action, a failed episode "
                f"counts as {config.max_steps}; +-: std over seeds; sampled: the Gaussian policies sampling")
    for kind, path in {**compare.write_results(rows, args.out), **save_comparison_figures(summary, args.out)}.items():
        print(f"{kind}: {path}")


def main(argv=None) -> int:
    """Entry point of the ``awake-tutorial`` console script; returns the exit status."""
    matplotlib.use("Agg")  # figures go to files; never open a window
    args = build_parser(DESCRIPTION).parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        print("awake-tutorial: interrupted", file=sys.stderr)
        return 130
    except (CLIError, *USER_ERRORS) as error:
        if os.environ.get("AWAKE_TUTORIAL_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"awake-tutorial {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
