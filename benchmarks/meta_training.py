"""How fast (and how well) MAML-TRPO meta-trains, on this machine.

    python benchmarks/meta_training.py                    # 30 meta-batches of the default config
    python benchmarks/meta_training.py --batches 500      # the whole default run (the real figure)
    python benchmarks/meta_training.py --textbook         # same batches on the textbook path too (fast_path: false)
    python benchmarks/meta_training.py --batches 500 --against awake_tutorial/configs/reference.yaml
        # the default config's full run timed against the reference config's, same process
        # (the ratio holds on a shared machine, where seconds alone do not)
    python benchmarks/meta_training.py --threads 2        # torch threads (default: the config's)
    python benchmarks/meta_training.py --interleaved HEAD~1 --runs 3 --batches 500
        # the full CLI run (`awake-tutorial meta-train`, start-up included) of this tree's last
        # commit and of an earlier commit's code, alternated run by run (old, new, old, new, ...) with
        # training seeds 0, 1, 2, ...: medians and their ratio (the noise of a shared machine
        # hits both alike); the run folders are kept for --quality
    python benchmarks/meta_training.py --quality runs/x   # quality of the policy in a run folder:
        # steps and success after 0/1/2/4/10 adaptation batches, evaluation and held-out tasks,
        # mean action (headline) and sampled, over 8 adaptation seeds

Prints seconds per meta-batch split into task sampling, rollouts, inner loop (baseline,
advantages, REINFORCE steps) and TRPO step, and the full-config time extrapolated from
the batches run. Early meta-batches are the slowest (a fresh policy has long episodes),
so a short run over-estimates the full one; ``--batches 500`` measures it.
The reference course needed 6-10 s per meta-batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from awake_tutorial.config import load_config
from awake_tutorial.runs.training import meta_train

# with meta_batch_shards > 1 (runs/shards.py) rollouts and inner loop are this process's part's, "waiting" is for
# the other parts' to end, and the TRPO step's products include theirs (each part computes its share at once)
PARTS = (("tasks", "task sampling"), ("sampling", "rollouts"), ("inner", "inner loop"),
         ("waiting", "other parts"), ("outer", "TRPO step"), ("outer_cg", "  of which CG"),
         ("outer_line_search", "  line search"))
REFERENCE_SECONDS_PER_BATCH = (6.0, 10.0)


def time_training(config, label: str) -> dict:
    """Meta-train with ``config``; print and return the mean seconds per part and per batch."""
    start = time.perf_counter()
    result = meta_train(config)
    total = time.perf_counter() - start
    records = result.records
    parts = {key: float(np.mean([r["timings"].get(key, 0.0) for r in records])) for key, _ in PARTS}
    per_batch = total / len(records)
    print(f"\n{label}: {len(records)} meta-batches in {total:.1f} s = {per_batch:.3f} s per meta-batch")
    for key, name in PARTS:
        print(f"  {name:<14} {parts[key]:7.3f} s  ({parts[key] / per_batch:5.1%})")
    planned = load_config().num_batches
    full = per_batch * planned
    print(f"  full default config ({planned} meta-batches), extrapolated: {full:.0f} s"
          + ("" if len(records) >= planned else " (over-estimate: the first meta-batches are the slowest)"))
    last = records[-1]
    print(f"  last batch: return before/after adaptation {last['return_before']:.1f} / {last['return_after']:.1f}, "
          f"episode length {last['length_before']:.1f} / {last['length_after']:.1f}")
    return {"per_batch": per_batch, "parts": parts, "records": records, "policy": result.policy}


QUALITY_BATCHES = (0, 1, 2, 4, 10)
MODES = (("mean", True), ("sampled", False))  # headline: the mean action, what an operator runs


def _score(policies, tasks, deterministic: bool, seed: int, num_batches: int, episodes: int) -> dict:
    """Mean over tasks of one adaptation seed: steps, success, share of episodes cut at max_steps,
    share of tasks whose adapted mean action overshoots (oscillation radius of the linearised
    closed loop >= 1, :func:`awake_tutorial.runs.stability.oscillation_radius`)."""
    from awake_tutorial.envs import evaluate
    from awake_tutorial.runs.stability import oscillation_radius
    from awake_tutorial.runs.training import EVALUATE, seed_for

    results = [evaluate(p.as_numpy_policy(deterministic=deterministic,
                                          seed=seed_for(seed, EVALUATE, t.id, num_batches)), [t],
                        episodes=episodes, seed=1)[0] for t, p in zip(tasks, policies)]
    lengths = np.array([r["lengths"] for r in results])
    success = np.array([r["success_rate"] for r in results])
    overshoot = np.mean([oscillation_radius(p, t) >= 1 for t, p in zip(tasks, policies)])
    return {"steps": float(lengths.mean()), "success": float(success.mean()), "cut": float((lengths >= 100).mean()),
            "overshoot": float(overshoot), "steps_per_task": lengths.mean(1).round(2).tolist()}


def quality(policy, config, episodes: int = 100, adapt_seeds=range(8), batches=QUALITY_BATCHES) -> dict:
    """Steps per episode and success of the meta-policy after 0, 1, 2, 4, 10 adaptation batches,
    on the 5 evaluation tasks and the 20 held-out tasks of ``compare``, for the mean action
    (headline) and sampled actions; every figure is a mean over ``adapt_seeds`` (the
    adaptation is noisy) with its spread over seeds. ``cut``: share of episodes that ran
    to max_steps without success (limit cycles); ``overshoot``: share of (task, seed) whose
    mean action overshoots near the goal (oscillation radius >= 1), the cause of those
    limit cycles. Returns {task set: {"K-mode": stats}}."""
    from awake_tutorial.runs.compare import heldout_tasks, spread_over_seeds
    from awake_tutorial.physics.tasks import load_evaluation_tasks
    from awake_tutorial.runs.training import adapt

    task_sets = {"evaluation": load_evaluation_tasks(), "held-out": heldout_tasks()}
    print(f"\nquality: mean over {len(adapt_seeds)} adaptation seeds (spread: std over seeds), "
          f"{episodes} episodes per task and seed")
    out = {}
    for set_name, tasks in task_sets.items():
        per_seed = {}
        for seed in adapt_seeds:
            snaps = adapt(policy, tasks, max(batches), config, seed=seed, snapshots=batches).snapshots
            snaps[0] = [policy] * len(tasks)
            for k in batches:
                for mode, deterministic in MODES:
                    per_seed.setdefault(f"{k}-{mode}", []).append(
                        _score(snaps[k], tasks, deterministic, seed, k, episodes))
        out[set_name] = {}
        print(f"  {set_name} tasks ({len(tasks)})")
        for key, scores in per_seed.items():
            stats = {**spread_over_seeds([s["steps"] for s in scores], "steps"),  # the course's spread
                     "success": float(np.mean([s["success"] for s in scores])),
                     "success_min": float(np.min([s["success"] for s in scores])),
                     "cut": float(np.mean([s["cut"] for s in scores])),
                     "overshoot": float(np.mean([s["overshoot"] for s in scores])),
                     "steps_per_task": np.mean([s["steps_per_task"] for s in scores], 0).round(2).tolist()}
            out[set_name][key] = stats
            k, mode = key.split("-")
            print(f"    {k:>2} batches {mode:<7} steps {stats['steps']:5.2f} +- {stats['steps_std']:4.2f} "
                  f"({stats['steps_min']:.2f}-{stats['steps_max']:.2f})  success {stats['success']:6.1%} "
                  f"(worst seed {stats['success_min']:6.1%})  cut at max_steps {stats['cut']:5.1%}  "
                  f"overshooting {stats['overshoot']:5.1%}")
    return out


def inner_step_sizes(policy, config) -> str:
    """The inner step sizes a policy adapts with, relative to fast_lr."""
    sizes = policy.step_sizes(config.fast_lr)
    if not isinstance(sizes, dict):
        return f"fixed fast_lr {sizes:g}"
    return "learned, x fast_lr: " + ", ".join(f"{n} {float(a) / config.fast_lr:.3g}" for n, a in sizes.items())


def load_for_quality(source):
    """(policy, config, training seconds) of a run folder, a shipped name ("meta",
    "reference") or a policy file with its .json metadata."""
    from awake_tutorial.config import Config
    from awake_tutorial.runs.policy_files import load_policy
    from awake_tutorial.runs.pretrained import load_pretrained
    from awake_tutorial.runs.pretrained import metadata_path, resolve
    from awake_tutorial.runs.folders import CONFIG_FILE, POLICY_FILE, read_records

    if Path(source).is_dir():
        config = load_config(Path(source) / CONFIG_FILE)
        return load_policy(Path(source) / POLICY_FILE, config=config), config, read_records(source)[-1]["wall_time"]
    meta = json.loads(metadata_path(resolve(source)).read_text())
    return load_pretrained(source), Config.from_dict(meta["config"]), meta["wall_time_s"]


def export_commit(rev: str, into: Path) -> Path:
    """The package and configs of commit ``rev`` of this repository, unpacked into ``into``."""
    import subprocess
    import tarfile

    root = Path(__file__).resolve().parents[1]
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "tree.tar"
    subprocess.run(["git", "-C", str(root), "archive", "-o", str(archive), rev, "awake_tutorial"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def cli_seconds(tree: Path, run_dir: Path, batches: int, seed: int, threads: int | None) -> tuple[float, float]:
    """(wall, CPU) seconds of ``awake-tutorial meta-train`` with the package of ``tree``, start-up
    included. CPU time (user + system of the child) is the steadier figure on a shared machine."""
    import resource
    import subprocess
    import sys

    command = [sys.executable, "-c", "import sys; from awake_tutorial.ui.cli import main; sys.exit(main())",
               "meta-train", "--config", str(tree / "awake_tutorial" / "configs" / "awake.yaml"),
               "--num-batches", str(batches), "--seed", str(seed), "--run-dir", str(run_dir), "--overwrite"]
    if threads is not None:
        command += ["--set", f"num_threads={threads}"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    start, cpu_start = time.perf_counter(), cpu()
    done = subprocess.run(command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
    if done.returncode:
        raise RuntimeError(f"meta-train with {tree} failed:\n{done.stderr[-2000:]}")
    return seconds, cpu_seconds


def interleaved(rev: str, runs: int, batches: int, out: Path, threads: int | None) -> dict:
    """Alternate full CLI runs of commit ``rev`` and of this tree's HEAD, seeds 0..runs-1; print the table."""
    import tempfile

    trees = {"old": export_commit(rev, Path(tempfile.mkdtemp(prefix="meta_old_"))),  # this tree's last commit:
             "new": export_commit("HEAD", Path(tempfile.mkdtemp(prefix="meta_new_")))}  # edits meanwhile don't count
    seconds, cpu_seconds = {"old": [], "new": []}, {"old": [], "new": []}
    for seed in range(runs):
        for name, tree in trees.items():
            wall, cpu = cli_seconds(tree, out / f"{name}_seed{seed}", batches, seed, threads)
            seconds[name].append(wall)
            cpu_seconds[name].append(cpu)
            print(f"  run {seed}: {name} {wall:6.1f} s wall, {cpu:6.1f} s CPU (load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
    medians = {name: float(np.median(values)) for name, values in seconds.items()}
    cpu_medians = {name: float(np.median(values)) for name, values in cpu_seconds.items()}
    for label, m in (("wall", medians), ("CPU", cpu_medians)):
        print(f"\n{batches} meta-batches through the CLI, {runs} interleaved runs each, median {label} time: "
              f"old ({rev}) {m['old']:.1f} s, new {m['new']:.1f} s, "
              f"new / old = {m['new'] / m['old']:.2f} ({m['old'] / m['new']:.2f}x faster)")
    return {"rev": rev, "batches": batches, "seconds": seconds, "medians": medians, "cpu_seconds": cpu_seconds,
            "cpu_medians": cpu_medians, "load_average_at_end": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30, help="meta-batches to run (default 30)")
    parser.add_argument("--config", default=None, help="config file (default: the package's awake.yaml)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    parser.add_argument("--against", default=None, help="also time this config (a baseline) and print the ratio")
    parser.add_argument("--textbook", action="store_true",
                        help="also run on the textbook path (fast_path: false: autograd gradients, double-backward "
                             "Fisher, torch rollouts) and print the ratio")
    parser.add_argument("--fisher-max-samples", type=int, default=None, help="override fisher_max_samples")
    parser.add_argument("--quality", metavar="RUN_DIR|POLICY", default=None,
                        help="only evaluate a run folder's policy.pt, a shipped name (meta, reference) or a .pt with .json")
    parser.add_argument("--adapt-seeds", type=int, default=8, help="--quality: adaptation seeds (default 8)")
    parser.add_argument("--episodes", type=int, default=100, help="--quality: episodes per task and seed")
    parser.add_argument("--json", default=None, help="--quality, --interleaved: also write the figures to this .json file")
    parser.add_argument("--interleaved", metavar="REV", default=None,
                        help="time full CLI runs of this tree against commit REV, alternated (e.g. HEAD~1)")
    parser.add_argument("--runs", type=int, default=3, help="--interleaved: runs of each (seeds 0, 1, ...)")
    parser.add_argument("--out", default="runs/benchmark_interleaved", help="--interleaved: run folders")
    args = parser.parse_args()

    config = load_config(args.config, num_batches=args.batches)
    if args.threads is not None:
        config = dataclasses.replace(config, num_threads=args.threads)
    if args.fisher_max_samples is not None:
        config = dataclasses.replace(config, fisher_max_samples=args.fisher_max_samples)
    if args.interleaved:
        figures = interleaved(args.interleaved, args.runs, args.batches, Path(args.out).resolve(), args.threads)
        if args.json:
            from awake_tutorial.atomic import write_json_atomic

            write_json_atomic(args.json, figures)
        return
    if args.quality:
        policy, run_config, seconds = load_for_quality(args.quality)
        print(f"{args.quality}: training {seconds:.1f} s; inner step sizes {inner_step_sizes(policy, run_config)}")
        figures = quality(policy, run_config, args.episodes, range(args.adapt_seeds))
        if args.json:
            from awake_tutorial.atomic import write_json_atomic

            write_json_atomic(args.json, {"policy": args.quality, "training_seconds": seconds,
                                          "step_sizes": inner_step_sizes(policy, run_config), **figures})
        return

    print(f"config: {args.config or 'default'}; fisher_product={config.fisher_product}, "
          f"fisher_max_samples={config.fisher_max_samples}, cg_iters={config.cg_iters}, threads={config.num_threads}")
    fast = time_training(config, "engine (analytic Fisher-vector product)")
    low, high = REFERENCE_SECONDS_PER_BATCH
    print(f"  vs the reference course ({low:.0f}-{high:.0f} s per meta-batch): "
          f"{low / fast['per_batch']:.0f}x-{high / fast['per_batch']:.0f}x faster")
    if args.against:
        baseline = time_training(dataclasses.replace(load_config(args.against, num_batches=args.batches),
                                                     num_threads=config.num_threads), f"baseline {args.against}")
        total, base_total = (run["per_batch"] * len(run["records"]) for run in (fast, baseline))
        print(f"\n{len(fast['records'])} meta-batches: {total:.1f} s vs baseline {base_total:.1f} s = "
              f"{total / base_total:.2f}x the baseline; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
    if args.textbook:
        exact = time_training(dataclasses.replace(config, fast_path=False), "same, textbook path (fast_path: false)")
        print(f"\ntextbook / fast path: TRPO step {exact['parts']['outer'] / fast['parts']['outer']:.1f}x, "
              f"rollouts {exact['parts']['sampling'] / fast['parts']['sampling']:.1f}x, "
              f"inner loop {exact['parts']['inner'] / fast['parts']['inner']:.1f}x; "
              f"whole meta-batch: {exact['per_batch'] / fast['per_batch']:.1f}x")
        for name, run in (("fast path", fast), ("textbook", exact)):
            tail = run["records"][-max(1, len(run["records"]) // 5):]
            print(f"  {name:<10} last {len(tail)} batches: return after adaptation "
                  f"{np.mean([r['return_after'] for r in tail]):.1f}, "
                  f"episode length after {np.mean([r['length_after'] for r in tail]):.2f}, "
                  f"steps accepted {np.mean([r['step_accepted'] for r in run['records']]):.0%}")


if __name__ == "__main__":
    main()
