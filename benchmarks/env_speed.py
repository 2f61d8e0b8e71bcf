"""Speed of the steering environments (issue 2): vector env vs a Python loop of single envs.

Run: ``python benchmarks/env_speed.py [--num-envs 128] [--steps 2000]``.
Prints transitions/s of ``AwakeSteeringVectorEnv`` (random actions, autoreset on) and of a
loop over the same number of ``AwakeSteeringEnv`` s in the same process, and their ratio;
the target is >= 1e6 transitions/s for the vector env with 128 envs. Also compares
``sample_tasks(1000)`` (one batched optics call) with 1000 ``task_from_quad_scales`` calls
(timed on ``--single-calls`` of them and scaled: each takes ~0.1 s).
Best of ``--repeats`` timings, so that other load on the machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from awake_tutorial.envs import AwakeSteeringEnv, AwakeSteeringVectorEnv
from awake_tutorial.physics.tasks import sample_tasks, task_from_quad_scales

TARGET = 1e6  # transitions/s, vector env, 128 envs


def best_time(run, repeats: int) -> tuple[float, float]:
    """Shortest (wall time, CPU time of this process), s, of ``repeats`` calls of ``run()``.

    On a shared machine the CPU time shows what the code costs, the wall time what you wait.
    """
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(t[0] for t in times), min(t[1] for t in times)


def vector_env_rate(tasks, actions: np.ndarray, repeats: int) -> tuple[np.ndarray, float]:
    """([wall, CPU] transitions/s, mean episode length) of the vector env.

    actions: (steps, n, 10), one batch per step.
    """
    envs = AwakeSteeringVectorEnv(tasks)  # NEXT_STEP autoreset
    envs.reset(seed=0)
    transitions = actions.shape[0] * actions.shape[1]
    episodes = [0]

    def run():
        for batch in actions:
            _, _, terminated, truncated, _ = envs.step(batch)
            episodes[0] += int(np.count_nonzero(terminated | truncated))

    seconds = np.array(best_time(run, repeats))
    return transitions / seconds, transitions * repeats / max(episodes[0], 1)


def single_envs_rate(tasks, actions: np.ndarray, repeats: int) -> np.ndarray:
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

    return actions.shape[0] * actions.shape[1] / np.array(best_time(run, repeats))


def task_sampling(single_calls: int) -> tuple[float, float]:
    """Wall seconds of sample_tasks(1000, seed=0) and of 1000 task_from_quad_scales calls.

    The single calls are slow (about 0.1 s each), so only ``single_calls`` of them are timed
    and the time is scaled to 1000.
    """
    batched = best_time(lambda: sample_tasks(1000, seed=0), 2)[0]
    settings = [t.quad_scales for t in sample_tasks(single_calls, seed=0)]
    one_by_one = best_time(lambda: [task_from_quad_scales(s) for s in settings], 1)[0]
    return batched, one_by_one * 1000 / single_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000, help="vector steps per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--single-calls", type=int, default=50,
                        help="task_from_quad_scales calls to time (scaled to 1000)")
    parser.add_argument("--skip-tasks", action="store_true", help="skip the task sampling timing")
    args = parser.parse_args()

    tasks = sample_tasks(args.num_envs, seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, args.num_envs, 10))
    actions = actions.astype(np.float32)
    vector_rate, episode_length = vector_env_rate(tasks, actions, args.repeats)
    single_steps = max(args.steps // 20, 10)  # the loop is slow: time fewer steps
    loop_rate = single_envs_rate(tasks, actions[:single_steps], min(args.repeats, 3))
    print(f"{args.num_envs} envs of sample_tasks({args.num_envs}, seed=0), random actions, "
          f"autoreset on (mean episode length {episode_length:.1f} steps)")
    print("                       transitions/s (wall)   per CPU second")
    print(f"  vector env          : {vector_rate[0]:16,.0f} {vector_rate[1]:16,.0f}")
    print(f"  loop of single envs : {loop_rate[0]:16,.0f} {loop_rate[1]:16,.0f}")
    print(f"  ratio               : {vector_rate[0] / loop_rate[0]:16.1f} "
          f"{vector_rate[1] / loop_rate[1]:16.1f}")
    verdict = "met" if vector_rate[0] >= TARGET else "NOT met (is the machine busy? see CPU)"
    print(f"  target {TARGET:,.0f} transitions/s (wall): {verdict}")
    if importlib.util.find_spec("awake_tutorial.physics.optics") is None:
        print("awake_tutorial.physics.optics not found: task sampling timing skipped")
    elif not args.skip_tasks:
        batched, one_by_one = task_sampling(args.single_calls)
        print("1000 tasks (optics), wall time")
        print(f"  sample_tasks(1000, seed=0)   : {batched:8.2f} s")
        print(f"  1000 x task_from_quad_scales : {one_by_one:8.2f} s "
              f"(from {args.single_calls} calls)")
        print(f"  ratio                        : {one_by_one / batched:8.1f} x")


if __name__ == "__main__":
    main()
