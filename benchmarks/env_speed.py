"""Speed of the steering environments (issue 2): vector env vs a Python loop of single envs.

Run: ``python benchmarks/env_speed.py [--num-envs 128] [--steps 2000]``.
Prints transitions/s of ``AwakeSteeringVectorEnv`` (random actions, autoreset on) and of a
loop over the same number of ``AwakeSteeringEnv`` s in the same process, and their ratio;
the target is >= 1e6 transitions/s for the vector env with 128 envs. Also compares
``sample_tasks(1000)`` (one batched optics call) with 1000 ``task_from_quad_scales`` calls.
Best of ``--repeats`` timings, so that other load on the machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from awake_tutorial.envs import AwakeSteeringEnv, AwakeSteeringVectorEnv
from awake_tutorial.tasks import sample_tasks, task_from_quad_scales

TARGET = 1e6  # transitions/s, vector env, 128 envs


def best_time(run, repeats: int) -> float:
    """Shortest wall time (s) of ``repeats`` calls of ``run()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def vector_env_rate(tasks, actions: np.ndarray, repeats: int) -> tuple[float, float]:
    """(transitions/s, mean episode length) of the vector env; actions (steps, n, 10)."""
    envs = AwakeSteeringVectorEnv(tasks)  # NEXT_STEP autoreset
    envs.reset(seed=0)
    transitions = actions.shape[0] * actions.shape[1]
    episodes = [0]

    def run():
        for batch in actions:
            _, _, terminated, truncated, _ = envs.step(batch)
            episodes[0] += int(np.count_nonzero(terminated | truncated))

    seconds = best_time(run, repeats)
    return transitions / seconds, transitions * repeats / max(episodes[0], 1)


def single_envs_rate(tasks, actions: np.ndarray, repeats: int) -> float:
    """Transitions/s of a Python loop over one AwakeSteeringEnv per task, reset on episode end."""
    envs = [AwakeSteeringEnv(task) for task in tasks]
    for i, env in enumerate(envs):
        env.reset(seed=i)

    def run():
        for batch in actions:
            for env, action in zip(envs, batch):
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()

    return actions.shape[0] * actions.shape[1] / best_time(run, repeats)


def task_sampling(repeats: int) -> tuple[float, float]:
    """Seconds for sample_tasks(1000, seed=0) and for 1000 task_from_quad_scales calls."""
    batched = best_time(lambda: sample_tasks(1000, seed=0), repeats)
    settings = [t.quad_scales for t in sample_tasks(1000, seed=0)]
    one_by_one = best_time(lambda: [task_from_quad_scales(s) for s in settings], 1)
    return batched, one_by_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000, help="vector steps per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-tasks", action="store_true", help="skip the task sampling timing")
    args = parser.parse_args()

    tasks = sample_tasks(args.num_envs, seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, args.num_envs, 10))
    actions = actions.astype(np.float32)
    vector_rate, episode_length = vector_env_rate(tasks, actions, args.repeats)
    single_steps = max(args.steps // 20, 10)  # the loop is slow: time fewer steps
    loop_rate = single_envs_rate(tasks, actions[:single_steps], min(args.repeats, 3))
    print(f"{args.num_envs} envs, random actions, autoreset on "
          f"(mean episode length {episode_length:.1f} steps)")
    print(f"  vector env          : {vector_rate:12,.0f} transitions/s "
          f"(target {TARGET:,.0f}: {'met' if vector_rate >= TARGET else 'NOT met'})")
    print(f"  loop of single envs : {loop_rate:12,.0f} transitions/s")
    print(f"  ratio               : {vector_rate / loop_rate:12.1f} x")
    if importlib.util.find_spec("awake_tutorial.optics") is None:
        print("awake_tutorial.optics not found: task sampling timing skipped")
    elif not args.skip_tasks:
        batched, one_by_one = task_sampling(min(args.repeats, 3))
        print("1000 tasks (optics)")
        print(f"  sample_tasks(1000, seed=0)      : {batched:8.3f} s")
        print(f"  1000 x task_from_quad_scales    : {one_by_one:8.3f} s")
        print(f"  ratio                           : {one_by_one / batched:8.1f} x")


if __name__ == "__main__":
    main()
