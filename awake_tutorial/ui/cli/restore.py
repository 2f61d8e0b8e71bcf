"""``awake-tutorial restore``: put back corrector settings saved before a session was killed."""

from __future__ import annotations

from pathlib import Path

from awake_tutorial.machine import safety
from awake_tutorial.ui.cli.base import option

OPTIONS = (option("file", type=Path, help="save file, e.g. runs/machine_backup_AWAKE_SIM_horizontal.json"),
           option("--timeout", type=float, default=5.0, help="seconds per EPICS read or write (default 5)"),)


def run(args) -> None:
    data = safety.read(args.file)
    kicks = safety.restore_file(args.file, args.timeout)
    print(f"restored {data['pv']} to the kicks saved at {data.get('saved_at', '?')}: "
          f"{[f'{k:.4g}' for k in kicks]} rad; removed {args.file}")
