"""Figure: how each steering method degrades with BPM noise (issue 16).

Run: ``python benchmarks/noise_study.py [--episodes 20] [--seeds 0 1000 2000 3000]``.
Writes ``docs/figures/noise.png`` and ``docs/results/noise.json`` (rows and summary) and
prints the summary table. See :mod:`awake_tutorial.runs.noise_study` for the methods and the
scoring; each point is the mean over seeds, its bar the spread (std over seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from awake_tutorial.atomic import write_json_atomic  # noqa: E402
from awake_tutorial.config import load_config  # noqa: E402
from awake_tutorial.physics.tasks import load_evaluation_tasks  # noqa: E402
from awake_tutorial.runs import noise_study  # noqa: E402
from awake_tutorial.runs.compare import STEPS  # noqa: E402
from awake_tutorial.runs.pretrained import load_pretrained  # noqa: E402
from awake_tutorial.ui.plotting import save_figure  # noqa: E402
from awake_tutorial.ui.plotting_compare import plot_noise_study  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="episodes per task and seed (default 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1000, 2000, 3000],
                        help="adaptation, probe and episode seeds (default 0 1000 2000 3000)")
    parser.add_argument("--noise", type=float, nargs="+", default=list(noise_study.NOISE_LEVELS),
                        help=f"BPM noise levels, mm (default {' '.join(map(str, noise_study.NOISE_LEVELS))})")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "noise.png", help="figure file")
    args = parser.parse_args()
    config, start = load_config(), time.perf_counter()
    rows = noise_study.run_noise_study(load_evaluation_tasks(), load_pretrained("meta"), config, args.noise,
                                       episodes=args.episodes, seeds=args.seeds,
                                       progress=lambda what: print(f"  {what}", flush=True))
    summary = noise_study.summarize_noise(rows)
    save_figure(plot_noise_study(summary, args.episodes, config.max_steps), args.out)
    results = args.out.parents[1] / "results" / "noise.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(results, {"episodes": args.episodes, "seeds": args.seeds, "rows": rows, "summary": summary})
    print("steps: mean steps per episode, a failure counted as max_steps; +-: std over seeds")
    print(f"{'method':<22}{'noise mm':>9}{'steps':>8}{'+-':>6}{'success':>9}{'+-':>6}")
    for r in summary:
        print(f"{r['method']:<22}{r['bpm_noise']:>9.2f}{r[STEPS]:>8.2f}{r[STEPS + '_std']:>6.2f}"
              f"{r['success_rate']:>9.1%}{r['success_rate_std']:>6.1%}")
    print(f"figure: {args.out}\nresults: {results}\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
