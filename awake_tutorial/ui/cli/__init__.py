"""``awake-tutorial``: the course's command line (train, adapt, evaluate, compare, plot, machine).

The dispatcher. Each subcommand is one module of this package, named after it
(``meta-train`` -> :mod:`awake_tutorial.ui.cli.meta_train`), holding its ``OPTIONS`` and its
``run(args)`` and importing what it needs at its top. :data:`SUBCOMMANDS` maps each name to its
one-line help; the dispatcher imports only the module of the command given, so
``awake-tutorial --help`` loads no torch, stable-baselines3 or scipy (0.7 s at most, measured
by ``benchmarks/cli_speed.py``; tests/test_cli.py checks the imports). Adding a subcommand: a
module with ``OPTIONS`` and ``run``, and one line in :data:`SUBCOMMANDS`.

Long commands show a tqdm bar and end with a short table; figures are saved as PNG files,
never shown. A user mistake (unknown task, missing file, bad config key, unwritable folder)
prints one line on stderr and exits with status 2; set AWAKE_TUTORIAL_DEBUG=1 to see the
traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys

from awake_tutorial.ui.cli.base import USER_ERRORS, CLIError, Parser

__all__ = ["SUBCOMMANDS", "main"]

# --help prints plain text (the module docstring above is reStructuredText for the API docs)
DESCRIPTION = "awake-tutorial: the course's command line (train, adapt, evaluate, compare, plot)."
SUBCOMMANDS = {  # name -> help; the module is awake_tutorial.ui.cli.<name with _ for ->
    "meta-train": "meta-train a policy with MAML-TRPO",
    "adapt": "adapt a policy to evaluation tasks (the inner loop alone)",
    "evaluate": "evaluate a policy on the evaluation tasks",
    "ppo": "single-task PPO baseline (stable-baselines3): train on one task, test on all",
    "plot": "save the standard figures of a run folder as PNG",
    "make-tasks": "regenerate the evaluation tasks (data/evaluation_tasks.npz)",
    "compare": "score every method on the evaluation, held-out and out-of-distribution tasks, in machine steps",
    "serve-machine": "serve the simulated AWAKE line over EPICS Channel Access until Ctrl-C (a foreground "
                     "process: Ctrl-C or killing it stops the server; it starts no other process, no CA "
                     "repeater: caproto-get/-put start one that outlives them, stop it with "
                     "`pkill -f caproto.commandline.repeater`)",
    "restore": "put back the corrector settings saved in FILE (after a session was killed)",
}


def command_module(name: str):
    """The module of subcommand ``name`` (imported now, with everything it needs)."""
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def build_parser(argv) -> Parser:
    """The parser: every subcommand with its help; the options of the one named in ``argv``
    (its module imported here), ``args.run`` its function."""
    parser = Parser(prog="awake-tutorial", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = command_module(name)
            for names, kwargs in module.OPTIONS:
                sub.add_argument(*names, **kwargs)
            sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``awake-tutorial`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser(argv).parse_args(argv)
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
