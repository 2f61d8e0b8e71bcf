"""``adapt --machine ADDRESS``: the adaptation loop with its episodes run on a machine
(``--machine-backend``: one of :data:`awake_tutorial.machine.backends.MACHINE_BACKENDS`)."""

from __future__ import annotations

import logging

from tqdm.auto import tqdm

from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.machine.backends import MACHINE_BACKENDS, open_machine
from awake_tutorial.rl.env_sampler import EnvSampler
from awake_tutorial.runs.training import adapt
from awake_tutorial.ui.cli.base import CLIError, option
from awake_tutorial.ui.cli.common import print_table, save_standard_figures

MACHINE_OPTIONS = (
    option("--machine", metavar="ADDRESS",
           help="run the episodes on this machine instead of the simulation: "
               + "; ".join(f"{name}: {b.address}" for name, b in MACHINE_BACKENDS.items())
               + "; its task is the one the machine reports"),
    option("--machine-backend", choices=sorted(MACHINE_BACKENDS), default="epics",
           help="with --machine: " + "; ".join(f"{name}: {b.help}" for name, b in MACHINE_BACKENDS.items())
               + " (default epics)"),
    option("--timeout", type=float, default=5.0, help="with --machine: seconds per EPICS read or write (default 5)"),
    option("--dry-run", action="store_true",
           help="with --machine: log the setpoints that would be sent and send none"),
)


def adapt_on_machine(args, config, policy, run_dir) -> None:
    """``awake-tutorial adapt --machine ADDRESS``: the adaptation loop, episodes on the machine."""
    if args.tasks is not None:
        raise CLIError("--tasks does not apply with --machine: the machine's task is the one it serves.")
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # beam losses, restores
    if args.dry_run:  # show every setpoint that would have been sent
        logging.getLogger("awake_tutorial.machine").setLevel(logging.INFO)
    try:
        machine = open_machine(args.machine_backend, args.machine, config.plane, args.timeout, args.dry_run)
    except ValueError as error:
        raise CLIError(str(error)) from None
    with machine:
        env = AwakeSteeringEnv(machine=machine, max_steps=config.max_steps, plane=config.plane,
                               wall_penalty=config.wall_penalty)
        sampler = EnvSampler(env, config.fast_batch_size)
        # (tqdm's update returns True when it redraws: "and False" keeps the callback from stopping)
        where = f"{args.machine_backend} machine {args.machine}"
        bar = tqdm(total=args.num_batches, unit="batch", desc=f"adapt on {where}", dynamic_ncols=True)
        try:
            records = adapt(policy, [env.task], args.num_batches, config, seed=args.seed, run_dir=run_dir,
                            callback=lambda batch: bar.update(1) and False, overwrite=args.overwrite, sampler=sampler).records
        finally:
            bar.close()
    rows = [{"batch": r["batch"] + 1, "plain mean length": r["mean_length"], "success": r["success_rate"],
             "return": r["mean_return"]} for r in records]
    print_table(rows, f"adaptation of {args.policy} on {where} (model: task {env.task.id}): "
                      f"{sampler.episodes} episodes, {sampler.steps} machine steps in {sampler.seconds:.1f} s"
                      + (" (dry run: nothing sent)" if args.dry_run else ""))
    save_standard_figures(records, run_dir)
    print(f"run folder: {run_dir}")
