"""How fast (and how well) MAML-TRPO meta-trains, on this machine.

    python benchmarks/meta_training.py                    # 30 meta-batches of the default config
    python benchmarks/meta_training.py --batches 500      # the whole default run (the real figure)
    python benchmarks/meta_training.py --compare-exact    # same batches with the exact double-backward HVP
    python benchmarks/meta_training.py --threads 2        # torch threads (default: the config's)
    python benchmarks/meta_training.py --quality runs/x   # quality of the policy in a run folder

Prints seconds per meta-batch split into task sampling, rollouts, inner loop (baseline,
advantages, REINFORCE steps) and TRPO step, and the full-config time extrapolated from
the batches run. Early meta-batches are the slowest (a fresh policy has long episodes),
so a short run over-estimates the full one; ``--batches 500`` measures it.
The reference course needed 6-10 s per meta-batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from awake_tutorial.config import load_config
from awake_tutorial.training import meta_train

PARTS = (("tasks", "task sampling"), ("sampling", "rollouts"), ("inner", "inner loop"), ("outer", "TRPO step"),
         ("outer_cg", "  of which CG"), ("outer_line_search", "  line search"))
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


def quality(policy, config, episodes: int = 200, adapt_seeds=range(4)) -> None:
    """Evaluation-task figures: meta-policy before adaptation and after 1, 2 and num_steps
    adaptation batches, each averaged over ``adapt_seeds`` (the adaptation is noisy)."""
    from awake_tutorial.benchmark import InverseResponsePolicy, evaluate, per_task
    from awake_tutorial.tasks import load_evaluation_tasks
    from awake_tutorial.training import adapt

    tasks = load_evaluation_tasks()

    def show(name, results):
        lengths = [r["mean_length"] for r in results]
        success = [r["success_rate"] for r in results]
        print(f"  {name:<34} success {np.mean(success):6.1%}  mean length {np.mean(lengths):5.2f}  "
              f"per task {np.round(lengths, 2).tolist()}")

    print(f"\nquality on the {len(tasks)} evaluation tasks ({episodes} episodes each)")
    for deterministic in (True, False):
        kind = "mean action" if deterministic else "sampled action"
        show(f"meta-policy, no adaptation, {kind}",
             evaluate(policy.as_numpy_policy(deterministic=deterministic), tasks, episodes=episodes, seed=1))
    for num_batches in sorted({1, 2, config.num_steps}):
        adapted = {seed: adapt(policy, tasks, num_batches, config, seed=seed).policies for seed in adapt_seeds}
        for deterministic in (True, False):
            all_results = [[evaluate(p.as_numpy_policy(deterministic=deterministic, seed=seed), [t],
                                     episodes=episodes, seed=1)[0] for t, p in zip(tasks, policies)]
                           for seed, policies in adapted.items()]
            mean = [{"mean_length": np.mean([r[i]["mean_length"] for r in all_results]),
                     "success_rate": np.mean([r[i]["success_rate"] for r in all_results])} for i in range(len(tasks))]
            kind = "mean action" if deterministic else "sampled action"
            show(f"after {num_batches} adaptation batch(es), {kind}", mean)
    show("inverse response matrix", evaluate(per_task(InverseResponsePolicy), tasks, episodes=episodes, seed=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30, help="meta-batches to run (default 30)")
    parser.add_argument("--config", default=None, help="config file (default: the package's awake.yaml)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    parser.add_argument("--compare-exact", action="store_true", help="also run with the exact double-backward HVP")
    parser.add_argument("--fisher-max-samples", type=int, default=None, help="override fisher_max_samples")
    parser.add_argument("--quality", metavar="RUN_DIR", default=None,
                        help="only evaluate the policy.pt of a finished run (no timing)")
    args = parser.parse_args()

    config = load_config(args.config, num_batches=args.batches)
    if args.threads is not None:
        config = dataclasses.replace(config, num_threads=args.threads)
    if args.fisher_max_samples is not None:
        config = dataclasses.replace(config, fisher_max_samples=args.fisher_max_samples)
    if args.quality:
        from pathlib import Path

        from awake_tutorial.policies import load_policy

        run_config = load_config(Path(args.quality) / "config.yaml")
        quality(load_policy(Path(args.quality) / "policy.pt", config=run_config), run_config)
        return

    print(f"config: {args.config or 'default'}; fisher_product={config.fisher_product}, "
          f"fisher_max_samples={config.fisher_max_samples}, cg_iters={config.cg_iters}, threads={config.num_threads}")
    fast = time_training(config, "engine (analytic Fisher-vector product)")
    low, high = REFERENCE_SECONDS_PER_BATCH
    print(f"  vs the reference course ({low:.0f}-{high:.0f} s per meta-batch): "
          f"{low / fast['per_batch']:.0f}x-{high / fast['per_batch']:.0f}x faster")
    if args.compare_exact:
        exact = time_training(dataclasses.replace(config, fisher_product="double_backward", fisher_max_samples=0),
                              "same, exact double-backward Hessian-vector product")
        print(f"\nTRPO step: exact HVP / analytic = {exact['parts']['outer'] / fast['parts']['outer']:.1f}x; "
              f"whole meta-batch: {exact['per_batch'] / fast['per_batch']:.1f}x")
        for name, run in (("analytic", fast), ("exact HVP", exact)):
            tail = run["records"][-max(1, len(run["records"]) // 5):]
            print(f"  {name:<10} last {len(tail)} batches: return after adaptation "
                  f"{np.mean([r['return_after'] for r in tail]):.1f}, "
                  f"episode length after {np.mean([r['length_after'] for r in tail]):.2f}, "
                  f"steps accepted {np.mean([r['step_accepted'] for r in run['records']]):.0%}")


if __name__ == "__main__":
    main()
