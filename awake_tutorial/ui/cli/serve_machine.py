"""``awake-tutorial serve-machine``: the simulated AWAKE line over EPICS Channel Access (until Ctrl-C)."""

from __future__ import annotations

from awake_tutorial.machine.line import DEFAULT_LIMIT
from awake_tutorial.machine.pvs import DEFAULT_PREFIX
from awake_tutorial.machine.server import serve
from awake_tutorial.ui.cli.base import option

OPTIONS = (option("--task-id", type=int, required=True, help="evaluation task to serve (0 = nominal optics)"),
           option("--plane", default="both", choices=["horizontal", "vertical", "both"],
                  help="planes to serve (default both)"),
           option("--prefix", default=DEFAULT_PREFIX, help=f"PV name prefix (default {DEFAULT_PREFIX})"),
           option("--bpm-noise", type=float, default=0.0, metavar="MM", help="BPM noise std in mm (default 0)"),
           option("--drift", type=float, default=0.0, metavar="RATE",
                  help="random-walk std of each quadrupole scale per accepted setpoint (default 0)"),
           option("--seed", type=int, default=0, help="seed of the noise and the drift (default 0)"),
           option("--limit", type=float, default=DEFAULT_LIMIT,
                  help=f"corrector limit in rad (default {DEFAULT_LIMIT})"),)


def run(args) -> None:
    serve(args.task_id, args.plane, args.prefix, args.bpm_noise, args.drift, args.seed, args.limit)
