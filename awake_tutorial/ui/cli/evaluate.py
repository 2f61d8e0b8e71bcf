"""``awake-tutorial evaluate``: score one policy or classical controller on the evaluation tasks."""

from __future__ import annotations

import json
from pathlib import Path

from awake_tutorial.runs import compare, methods
from awake_tutorial.runs.ppo import load_ppo, ppo_policy
from awake_tutorial.ui.cli.base import option
from awake_tutorial.ui.cli.common import CONFIG, EPISODES, SEED, TASKS, evaluate_and_print, load_meta_policy, load_settings

OPTIONS = (option("--policy", required=True,
                 help=f"policy file (.pt meta-policy or .zip PPO), random, or a classical controller: "
                      f"{', '.join(methods.CONTROLLERS)}"),
           option("--mean-action", action="store_true",
                  help="a .pt or random policy acts with its mean (default: samples, as compare scores it)"),
           TASKS, EPISODES, SEED, option("--out", type=Path, help="also write the results as JSON"),
           *CONFIG,)


def load_any_policy(spec: str, config, seed: int = 0, mean_action: bool = False):
    """``--policy`` as :func:`awake_tutorial.envs.evaluate` takes it: a file (.zip:
    PPO, else a meta-policy .pt), "random" (a random network, seeded), or a classical
    controller of the method registry (``methods.CONTROLLERS``). The Gaussian policies (.pt,
    random) sample their actions as ``compare`` scores them, or act with their mean
    with ``mean_action``; the others are deterministic."""
    if spec in methods.CONTROLLERS:
        return methods.controller_policy(spec, config, seed)
    if spec.endswith(".zip"):
        return ppo_policy(load_ppo(spec))
    policy = load_meta_policy(spec, config, seed)
    return policy.as_numpy_policy() if mean_action else compare.sampling_policy(policy, seed)


def run(args) -> None:
    config = load_settings(args)
    policy = load_any_policy(args.policy, config, args.seed, args.mean_action)
    results = evaluate_and_print(policy, args, config, args.policy)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"policy": args.policy, "results": results}, indent=2) + "\n")
        print(f"results: {args.out}")
