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
import matplotlib.pyplot as plt  # noqa: E402

from awake_tutorial.runs import noise_study  # noqa: E402
from awake_tutorial.atomic import write_json_atomic  # noqa: E402
from awake_tutorial.config import load_config  # noqa: E402
from awake_tutorial.runs.pretrained import load_pretrained  # noqa: E402
from awake_tutorial.physics.tasks import load_evaluation_tasks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def plot_noise_study(summary: list[dict], episodes: int, max_steps: int):
    """Mean steps per episode and success rate against BPM noise, one line per method."""
    fig, (ax_len, ax_succ) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["bpm_noise"])
        noise = [r["bpm_noise"] for r in rows]
        style = "--" if method in ("inverse", "fewest-steps") else "-"  # the two that know the matrix
        ax_len.errorbar(noise, [r["mean_length"] for r in rows], yerr=[r["std_length"] for r in rows],
                        marker="o", capsize=3, linestyle=style, label=method)
        ax_succ.errorbar(noise, [100 * r["success_rate"] for r in rows],
                         yerr=[100 * r["std_success"] for r in rows], marker="o", capsize=3, linestyle=style,
                         label=method)
    seeds = summary[0]["seeds"]
    ax_len.set(xlabel="BPM noise std (mm)", ylabel=f"steps per episode (a failure counts {max_steps})",
               yscale="log", title="steps to reach < 1 mm measured RMS")
    ax_succ.set(xlabel="BPM noise std (mm)", ylabel="success rate (%)", ylim=(-5, 105),
                title="episodes that reach < 1 mm measured RMS")
    ax_len.legend(fontsize=8)
    for ax in (ax_len, ax_succ):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Evaluation tasks, {episodes} episodes per task and seed, mean actions; mean over {seeds} "
                 "seeds, bars: std over seeds", fontsize=10)
    fig.tight_layout()
    return fig


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
    summary = noise_study.summarize(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_noise_study(summary, args.episodes, config.max_steps)
    fig.savefig(args.out, dpi=96)
    results = args.out.parents[1] / "results" / "noise.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(results, {"episodes": args.episodes, "seeds": args.seeds, "rows": rows, "summary": summary})
    print(f"{'method':<22}{'noise mm':>9}{'steps':>8}{'+-':>6}{'success':>9}{'+-':>6}")
    for r in summary:
        print(f"{r['method']:<22}{r['bpm_noise']:>9.2f}{r['mean_length']:>8.2f}{r['std_length']:>6.2f}"
              f"{r['success_rate']:>9.1%}{r['std_success']:>6.1%}")
    print(f"figure: {args.out}\nresults: {results}\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
