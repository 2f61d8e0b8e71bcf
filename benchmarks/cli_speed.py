"""Start-up time of the command line: ``python benchmarks/cli_speed.py [--repeats 7]``.

Runs ``awake-tutorial --help`` (the dispatcher alone: no command module, no torch) and
``awake-tutorial evaluate --help`` (one command module with its imports) as a new user
would, each in a fresh process, and prints the best and median wall time. Target (issue
20): ``--help`` under 0.7 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("awake-tutorial")


def wall_times(argv: list[str], repeats: int) -> list[float]:
    """Seconds of ``awake-tutorial argv`` in a fresh process, ``repeats`` times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(SCRIPT), *argv], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for argv in (["--help"], ["evaluate", "--help"]):
        times = wall_times(argv, args.repeats)
        print(f"awake-tutorial {' '.join(argv):16s} best {min(times):.2f} s, median {statistics.median(times):.2f} s "
              f"({args.repeats} runs)")


if __name__ == "__main__":
    main()
