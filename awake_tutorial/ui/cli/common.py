"""What several subcommands share: options, settings, run folders, tables, policies."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib
import yaml
from tqdm.auto import tqdm

from awake_tutorial.config import load_config
from awake_tutorial.envs import evaluate, steps_failed_as_max
from awake_tutorial.physics.tasks import get_evaluation_task, load_evaluation_tasks
from awake_tutorial.runs.folders import check_not_taken
from awake_tutorial.runs.policy_files import load_policy
from awake_tutorial.runs.training import new_policy, torch_threads
from awake_tutorial.ui import plotting
from awake_tutorial.ui.cli.base import CLIError, option

matplotlib.use("Agg")  # figures go to files; never open a window

CONFIG = (option("--config", type=Path, help="YAML settings (default: the package's configs/awake.yaml)"),
          option("--set", action="append", metavar="KEY=VALUE",
                 help="override a config key, e.g. --set fast_lr=0.05 (repeatable)"))
TASKS = option("--tasks", type=int, nargs="+", metavar="ID", help="evaluation task ids (default: all)")
EPISODES = option("--episodes", type=int, default=50, help="episodes per task (default 50)")
SEED = option("--seed", type=int, default=0, help="seed of the episodes (default 0)")
OVERWRITE = option("--overwrite", action="store_true", help="start over in an existing --run-dir")


def load_settings(args, **overrides):
    """Validated Config from --config, --set and ``overrides`` (None values are skipped)."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects KEY=VALUE, got {item!r} (e.g. --set fast_lr=0.05).")
        overrides[key.strip()] = yaml.safe_load(value)
    return load_config(args.config, **overrides)


def run_folder(args, kind: str) -> Path:
    """--run-dir (default runs/<kind>_<time>), checked to be writable and free to use
    (:func:`~awake_tutorial.runs.folders.check_not_taken`: FileExistsError if taken)."""
    run_dir = args.run_dir or Path("runs") / f"{kind}_{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CLIError(f"cannot create the run folder {run_dir} ({error.strerror}); "
                       "choose another --run-dir.") from None
    # checked before a long command starts; meta_train / adapt apply the same rule again
    check_not_taken(run_dir, kind, resume=getattr(args, "resume", False), overwrite=args.overwrite)
    return run_dir


def evaluation_tasks(task_ids):
    """The evaluation tasks with these ids (all of them if None); KeyError if unknown."""
    return load_evaluation_tasks() if task_ids is None else [get_evaluation_task(t) for t in task_ids]


def print_table(rows: list[dict], title: str) -> None:
    """Rows (>= 1) with equal keys as an aligned table (floats with 3 significant digits)."""
    print(title)
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    header = list(rows[0])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    for line in [header, ["-" * w for w in widths], *cells]:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)))


def save_standard_figures(records, out_dir) -> None:
    """Save the standard figures of a progress log as PNG in ``out_dir``; print where."""
    for name, fig in plotting.standard_figures(records).items():
        print(f"figure: {plotting.save_figure(fig, Path(out_dir) / f'{name}.png')}")


def load_meta_policy(spec: str, config, seed: int):
    """A GaussianMLPPolicy from a .pt file, or a seeded random one for "random"."""
    return new_policy(config, seed) if spec == "random" else load_policy(spec, config=config)


def evaluate_and_print(policy, args, config, title: str) -> list[dict]:
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
