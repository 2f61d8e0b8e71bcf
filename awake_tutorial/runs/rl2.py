"""RL²: meta-train the recurrent policy (:mod:`awake_tutorial.rl.recurrent`) over the task
distribution with the course's TRPO step, ship it, load it and score it.

    python -m awake_tutorial.runs.rl2 --export data/rl2_meta_policy.pt      # ~2 min on 2 cores

Why the course's TRPO and not sb3-contrib's RecurrentPPO: RecurrentPPO's policy is an
LSTM (no GRU), it would add a dependency, and the course's trust-region step
(:mod:`awake_tutorial.rl.metalearners.trpo`: conjugate gradient, KL line search) makes
the two meta-learners differ only in what adapts: weights by gradient steps (MAML) or a
hidden state inside the episode (RL²).

One iteration (``seed_for(seed, purpose, iteration)`` seeds every random number):
    tasks  = meta_batch_size tasks of the distribution (chunked as meta_train's MetaBatchTasks)
    roll   = episodes_per_task episodes of each, in one vector env, sampled actions
    A_t    = GAE advantages from a linear baseline fit per task on the inputs x_t
    TRPO   : min -E[pi/pi_old A]  s.t.  E[KL(pi_old || pi)] <= max_kl  (means over all steps)
The hidden state starts at 0 in every episode: what the policy knows of the task it
learns within the episode, at 0 machine steps spent before it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from awake_tutorial.config import RL2Config, load_config
from awake_tutorial.envs import AwakeSteeringVectorEnv
from awake_tutorial.envs.scoring import steps_failed_as_max
from awake_tutorial.physics.tasks import Task, sample_tasks
from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners.rl2_trpo import trpo_step
from awake_tutorial.rl.recurrent import GaussianGRUPolicy, features
from awake_tutorial.runs.training import INIT, ROLLOUT, MetaBatchTasks, seed_for, torch_threads

KIND = "recurrent meta-policy (RL², GRU, TRPO)"


def rollout(policy: GaussianGRUPolicy, tasks: Sequence[Task], episodes: int, seed: int,
            max_steps: int = 100) -> tuple[torch.Tensor, BatchEpisodes]:
    """``episodes`` sampled episodes of each task: (inputs (K*B, T, 30), BatchEpisodes (K, T, B))."""
    envs = AwakeSteeringVectorEnv([t for t in tasks for _ in range(episodes)], max_steps=max_steps)
    run = envs.run_episodes(policy.actor(deterministic=False, seed=seed).act, seed=seed % 2**31)
    K, B, T = len(tasks), episodes, run.rewards.shape[0]
    x = features(run.observations, run.actions)

    def per_task(a):  # (T, K*B, ...) -> (K, T, B, ...)
        a = torch.as_tensor(np.asarray(a), dtype=torch.float32)
        return a.reshape(T, K, B, *a.shape[2:]).transpose(0, 1)

    batch = BatchEpisodes(per_task(x.transpose(0, 1)), per_task(run.actions), per_task(run.rewards),
                          per_task(run.alive), torch.as_tensor(run.success).reshape(K, B))
    return x, batch


def train(settings: RL2Config | None = None, callback: Callable[[dict], bool | None] | None = None,
          task_source=sample_tasks) -> tuple[GaussianGRUPolicy, list[dict]]:
    """Meta-train a GaussianGRUPolicy with ``settings`` (default: the ``rl2`` section of
    ``configs/awake.yaml``); returns (policy, one record per iteration)."""
    settings = load_config().rl2 if settings is None else settings
    policy = GaussianGRUPolicy(settings.hidden_size, settings.init_std, seed=seed_for(settings.seed, INIT))
    task_batches = MetaBatchTasks(task_source, settings.meta_batch_size, settings.seed)
    records, start = [], time.perf_counter()
    with torch_threads(settings.num_threads):
        for it in range(settings.iterations):
            tasks = task_batches.tasks(it)
            x, batch = rollout(policy, tasks, settings.episodes_per_task, seed_for(settings.seed, ROLLOUT, it),
                               settings.max_steps)
            add_advantages(batch, settings)  # a linear baseline on the inputs x_t (the batch's observations)
            log = trpo_step(policy, x, batch, settings)
            lengths, success = batch.lengths, batch.success
            record = {"iteration": it, "length": float(lengths.mean()), "success": float(success.float().mean()),
                      "score": steps_failed_as_max(lengths.flatten().numpy(), success.flatten().numpy(),
                                                   settings.max_steps),
                      "wall_time": time.perf_counter() - start, **log}
            records.append(record)
            if callback is not None and callback(record):
                break
    return policy, records


def main(argv: Sequence[str] | None = None) -> Path:
    """``python -m awake_tutorial.runs.rl2 --export data/rl2_meta_policy.pt``: train and ship."""
    from awake_tutorial.runs.rl2_policy import SHIPPED_FILE, save_rl2

    parser = argparse.ArgumentParser(description="Meta-train the recurrent RL² policy and export it.")
    parser.add_argument("--export", default=None, help="policy file to write (+ .json)")
    parser.add_argument("--config", default=None, help="config file whose rl2 section is read (default awake.yaml)")
    parser.add_argument("--iterations", type=int, default=None, help="default: the config's rl2.iterations")
    parser.add_argument("--seed", type=int, default=None, help="default: the config's rl2.seed")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    args = parser.parse_args(argv)
    args.export = args.export or f"data/{SHIPPED_FILE}"
    given = {"iterations": args.iterations, "seed": args.seed, "num_threads": args.threads}
    settings = load_config(args.config, rl2={k: v for k, v in given.items() if v is not None}).rl2
    defaults = RL2Config()

    def report(record):
        if record["iteration"] % 25 == 0 or record["iteration"] + 1 == settings.iterations:
            print(f"iteration {record['iteration']:4d}  steps {record['score']:6.2f}  success "
                  f"{record['success']:6.1%}  {record['wall_time']:6.0f} s", flush=True)

    policy, records = train(settings, callback=report)
    command = "python -m awake_tutorial.runs.rl2" + "".join(
        f" --{k} {getattr(settings, k)}" for k in ("iterations", "seed") if getattr(settings, k) != getattr(defaults, k))
    path = save_rl2(policy, args.export, {
        "kind": KIND, "settings": asdict(settings), "iterations": len(records),
        "wall_time_s": round(records[-1]["wall_time"], 1),
        "last_iteration": {k: records[-1][k] for k in ("score", "success", "length")},
        "command": f"{command} --export data/{Path(args.export).name}"})
    print(f"wrote {path} and its .json")
    return path


if __name__ == "__main__":
    main()
