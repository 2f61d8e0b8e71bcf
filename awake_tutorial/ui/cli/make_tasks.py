"""``awake-tutorial make-tasks``: regenerate the shipped evaluation tasks."""

from __future__ import annotations

from pathlib import Path

from awake_tutorial.physics.tasks import write_evaluation_tasks
from awake_tutorial.ui.cli.base import option

OPTIONS = (option("--out", type=Path, help="folder (default: the course's data/)"),)


def run(args) -> None:
    print(f"evaluation tasks: {write_evaluation_tasks(args.out)}")
