"""Building blocks of the ``awake-tutorial`` command line (:mod:`awake_tutorial.ui.cli`).

A subcommand is one function decorated with ``@subcommand(name, help, *options)``; the
options shared by several subcommands, reading the settings, run folders and tables
live here too, so that ``cli`` holds the subcommands themselves.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from awake_tutorial.ui import plotting
from awake_tutorial.config import load_config
from awake_tutorial.runs.folders import check_not_taken
from awake_tutorial.physics.tasks import get_evaluation_task, load_evaluation_tasks

USER_ERRORS = (ValueError, KeyError, OSError)  # what bad input raises in the package
SUBCOMMANDS: dict[str, tuple] = {}  # name -> (help, options, function)


class CLIError(Exception):
    """A mistake in the command line, reported as one line."""


def option(*names, **kwargs) -> tuple:
    """One ``parser.add_argument(*names, **kwargs)``, for :func:`subcommand`."""
    return names, kwargs


def subcommand(name: str, help: str, *options):
    """Register the decorated ``function(args)`` as ``awake-tutorial <name>``."""
    def register(function):
        SUBCOMMANDS[name] = (help, options, function)
        return function
    return register


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


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, without argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(description: str) -> argparse.ArgumentParser:
    """The parser of every registered subcommand (``args.run`` is its function)."""
    parser = Parser(prog="awake-tutorial", description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name, (help_text, options, function) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        for names, kwargs in options:
            sub.add_argument(*names, **kwargs)
        sub.set_defaults(run=function)
    return parser
