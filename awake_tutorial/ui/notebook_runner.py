"""Run the course notebooks top to bottom without a browser (``make lab HEADLESS=1``).

Each notebook runs in a fresh kernel, in order; executed copies (with outputs and
figures) are written to an output folder, and the time per notebook is printed.
Set ``AWAKE_TUTORIAL_QUICK=1`` for the quick budgets.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run_notebooks(notebook_dir: Path, out_dir: Path, timeout: int = 3600) -> dict[str, float]:
    """Execute every ``NN_*.ipynb`` in ``notebook_dir``; returns seconds per notebook."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds[path.name] = time.perf_counter() - start
        nbformat.write(notebook, out_dir / path.name)
        print(f"{path.name:40s} {seconds[path.name]:7.1f} s", flush=True)
    print(f"{'total':40s} {sum(seconds.values()):7.1f} s -> executed copies in {out_dir}")
    return seconds


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    notebook_dir = Path(argv[0]) if argv else Path("notebooks")
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("artifacts/notebooks")
    if not notebook_dir.is_dir():
        print(f"error: {notebook_dir} is not a folder of notebooks", file=sys.stderr)
        return 2
    run_notebooks(notebook_dir, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
