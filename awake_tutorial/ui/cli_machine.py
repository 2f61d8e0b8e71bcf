"""``awake-tutorial`` subcommands for a machine behind EPICS: serve-machine, restore, and
``adapt --machine PREFIX`` (the adaptation loop with its episodes run on a served machine).

Registered with :func:`awake_tutorial.ui.cli_tools.subcommand` when :mod:`awake_tutorial.ui.cli`
imports this module. The torch-based modules load inside :func:`adapt_on_machine`, for the
reason the docstring of :mod:`awake_tutorial.ui.cli` gives (a fast ``--help``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm.auto import tqdm

from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.machine import safety
from awake_tutorial.machine.client import EpicsMachine
from awake_tutorial.machine.line import DEFAULT_LIMIT
from awake_tutorial.machine.pvs import DEFAULT_PREFIX
from awake_tutorial.machine.server import serve
from awake_tutorial.ui.cli_tools import CLIError, option, print_table, save_standard_figures, subcommand

MACHINE_OPTIONS = (
    option("--machine", metavar="PREFIX",
           help="run the episodes on the machine served under this PV prefix (e.g. AWAKE:SIM:) "
                "instead of the simulation; its task is the one the server reports"),
    option("--timeout", type=float, default=5.0, help="with --machine: seconds per EPICS read or write (default 5)"),
    option("--dry-run", action="store_true",
           help="with --machine: log the setpoints that would be sent and send none"),
)


@subcommand("serve-machine", "serve the simulated AWAKE line over EPICS Channel Access (until Ctrl-C)",
            option("--task-id", type=int, required=True, help="evaluation task to serve (0 = nominal optics)"),
            option("--plane", default="both", choices=["horizontal", "vertical", "both"],
                   help="planes to serve (default both)"),
            option("--prefix", default=DEFAULT_PREFIX, help=f"PV name prefix (default {DEFAULT_PREFIX})"),
            option("--bpm-noise", type=float, default=0.0, metavar="MM", help="BPM noise std in mm (default 0)"),
            option("--drift", type=float, default=0.0, metavar="RATE",
                   help="random-walk std of each quadrupole scale per accepted setpoint (default 0)"),
            option("--seed", type=int, default=0, help="seed of the noise and the drift (default 0)"),
            option("--limit", type=float, default=DEFAULT_LIMIT,
                   help=f"corrector limit in rad (default {DEFAULT_LIMIT})"))
def serve_machine_command(args) -> None:
    serve(args.task_id, args.plane, args.prefix, args.bpm_noise, args.drift, args.seed, args.limit)


@subcommand("restore", "put back the corrector settings saved in FILE (after a session was killed)",
            option("file", type=Path, help="save file, e.g. runs/machine_backup_AWAKE_SIM_horizontal.json"),
            option("--timeout", type=float, default=5.0, help="seconds per EPICS read or write (default 5)"))
def restore_command(args) -> None:
    data = safety.read(args.file)
    kicks = safety.restore_file(args.file, args.timeout)
    print(f"restored {data['pv']} to the kicks saved at {data.get('saved_at', '?')}: "
          f"{[f'{k:.4g}' for k in kicks]} rad; removed {args.file}")


def adapt_on_machine(args, config, policy, run_dir) -> None:
    """``awake-tutorial adapt --machine PREFIX``: the adaptation loop, episodes on the machine."""
    from awake_tutorial.rl.env_sampler import EnvSampler
    from awake_tutorial.runs.training import adapt

    if args.tasks is not None:
        raise CLIError("--tasks does not apply with --machine: the machine's task is the one it serves.")
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # beam losses, restores
    if args.dry_run:  # show every setpoint that would have been sent
        logging.getLogger("awake_tutorial.machine").setLevel(logging.INFO)
    with EpicsMachine(args.machine, config.plane, timeout=args.timeout, dry_run=args.dry_run) as machine:
        env = AwakeSteeringEnv(machine=machine, max_steps=config.max_steps, plane=config.plane,
                               wall_penalty=config.wall_penalty)
        sampler = EnvSampler(env, config.fast_batch_size)
        # (tqdm's update returns True when it redraws: "and False" keeps the callback from stopping)
        bar = tqdm(total=args.num_batches, unit="batch", desc=f"adapt on {args.machine}", dynamic_ncols=True)
        try:
            records = adapt(policy, [env.task], args.num_batches, config, seed=args.seed, run_dir=run_dir,
                            callback=lambda batch: bar.update(1) and False, overwrite=args.overwrite, sampler=sampler).records
        finally:
            bar.close()
    rows = [{"batch": r["batch"] + 1, "mean length": r["mean_length"], "success": r["success_rate"],
             "return": r["mean_return"]} for r in records]
    print_table(rows, f"adaptation of {args.policy} on {args.machine} (model: task {env.task.id}): "
                      f"{sampler.episodes} episodes, {sampler.steps} machine steps in {sampler.seconds:.1f} s"
                      + (" (dry run: nothing sent)" if args.dry_run else ""))
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir}")
