"""``awake-tutorial plot``: the standard figures of a run folder."""

from __future__ import annotations

from pathlib import Path

from awake_tutorial.runs.folders import check_run_dir, read_records
from awake_tutorial.ui.cli.base import option
from awake_tutorial.ui.cli.common import save_standard_figures

OPTIONS = (option("run_dir", type=Path, help="a meta-train or adapt run folder"),
           option("--out", type=Path, help="folder for the PNGs (default: the run folder)"),)


def run(args) -> None:
    save_standard_figures(read_records(check_run_dir(args.run_dir)), args.out or args.run_dir)  # ValueError if empty
