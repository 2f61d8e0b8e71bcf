"""Speed of steering through EPICS Channel Access on loopback (issue 16).

Run: ``python benchmarks/epics_speed.py [--steps 2000] [--repeats 3]``.

Prints, each with its target:
  * server start to first read: launch of ``ServedMachine`` to a client's first read (< 3 s);
    with drift the server first computes the optics derivatives (reported, no target);
  * env steps/s over CA (``AwakeSteeringEnv(machine=EpicsMachine)``, random actions, episodes
    with resets) (>= 300), next to two baselines measured in the same process: a bare
    caproto waveform put-with-completion plus get, and the in-process env (the ratios say
    what the control system costs);
  * one adaptation batch of 16 episodes on the served machine, headless (< 10 s): the
    shipped meta-policy (short episodes) and a random policy (long ones, the worst case).
Best of ``--repeats``, so that other load on the machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from awake_tutorial.config import load_config
from awake_tutorial.rl.env_sampler import EnvSampler
from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.machine import ServedMachine
from awake_tutorial.machine.pvs import plane_pvs
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.training import adapt, new_policy

TASK = 1


def env_rate(env, steps: int, seed: int = 0) -> float:
    """Env steps per second over ``steps`` steps of small random actions (resets not counted)."""
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-0.2, 0.2, (steps, 10))
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        *_, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def raw_rate(served: ServedMachine, steps: int) -> float:
    """Bare caproto: waveform put (with completion) + get of the BPMs, per second."""
    from caproto.threading.client import Context

    names = plane_pvs(served.prefix, "horizontal")
    with served.environ():
        context = Context()
        setpoint, bpm = context.get_pvs(names["setpoint"], names["bpm"], timeout=2.0)
        setpoint.wait_for_connection(timeout=2.0)
        bpm.wait_for_connection(timeout=2.0)
    kicks = [0.0] * 10
    start = time.perf_counter()
    for i in range(steps):
        kicks[i % 10] = 1e-6 * (i % 7)
        setpoint.write(kicks, wait=True, timeout=2.0)
        bpm.read(timeout=2.0)
    rate = steps / (time.perf_counter() - start)
    setpoint.write([0.0] * 10, wait=True, timeout=2.0)
    context.disconnect()
    return rate


def adaptation_time(served: ServedMachine, policy, config) -> tuple[float, int]:
    """(seconds, machine steps) of one 16-episode adaptation batch on the served machine."""
    with served.machine(save_file="runs/benchmark_epics_backup.json") as machine:
        env = AwakeSteeringEnv(machine=machine, max_steps=config.max_steps)
        sampler = EnvSampler(env, 16)
        start = time.perf_counter()
        adapt(policy, [env.task], 1, config, seed=0, sampler=sampler)
        return time.perf_counter() - start, sampler.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="env steps per timing (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure, best kept (default 3)")
    args = parser.parse_args()
    config = load_config()
    startups, drifting, epics, raw, local, meta, random = [], [], [], [], [], [], []
    for repeat in range(args.repeats):
        with ServedMachine(task_id=TASK) as served:  # a fresh server each time: start-up is measured too
            startups.append(served.startup_time)
            with served.machine(save_file="runs/benchmark_epics_backup.json") as machine:
                epics.append(env_rate(AwakeSteeringEnv(machine=machine), args.steps, repeat))
            raw.append(raw_rate(served, args.steps))
            local.append(env_rate(AwakeSteeringEnv(TASK), args.steps, repeat))
            meta.append(adaptation_time(served, load_pretrained("meta"), config))
            random.append(adaptation_time(served, new_policy(config, seed=repeat), config))
        with ServedMachine(task_id=TASK, drift=0.001) as served:  # + the optics derivatives
            drifting.append(served.startup_time)
    best_meta, best_random = min(meta), min(random)
    rows = [
        ("server start to first read", f"{min(startups):.2f} s", "< 3 s"),
        ("  with drift (optics derivatives)", f"{min(drifting):.2f} s", "(no target)"),
        ("env steps/s over CA", f"{max(epics):.0f}", ">= 300"),
        ("  baseline: caproto put + get /s", f"{max(raw):.0f}", f"env/bare = {max(epics) / max(raw):.2f}"),
        ("  baseline: in-process env steps/s", f"{max(local):.0f}", f"CA/in-process = {max(epics) / max(local):.4f}"),
        ("16-episode batch, meta-policy", f"{best_meta[0]:.2f} s ({best_meta[1]} steps)", "< 10 s"),
        ("16-episode batch, random policy", f"{best_random[0]:.2f} s ({best_random[1]} steps)", "< 10 s"),
    ]
    print(f"EPICS Channel Access on loopback, task {TASK}, best of {args.repeats}")
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")


if __name__ == "__main__":
    main()
