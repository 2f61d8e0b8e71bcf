"""BPM noise in the in-process envs and sampler, EnvSampler, and the machine CLI (no server needed)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from awake_tutorial.rl.env_sampler import EnvSampler
from awake_tutorial.envs import AwakeSteeringEnv, AwakeSteeringVectorEnv
from awake_tutorial.envs.dynamics import OBS_PER_MM
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.rl.samplers import MultiTaskSampler
from awake_tutorial.physics.tasks import get_evaluation_task


def run(env, seed, actions):
    """(observations, rewards, flags, kicks) of one episode with fixed actions."""
    obs, _ = env.reset(seed=seed)
    observations, rewards, flags, kicks = [obs], [], [], [env.kicks]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs), rewards.append(reward), flags.append((terminated, truncated, info["success"]))
        kicks.append(env.kicks)
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards), flags, np.array(kicks)


ACTIONS = np.random.default_rng(0).uniform(-0.3, 0.3, (20, 10))


def test_zero_noise_leaves_every_number_unchanged():
    for seed in range(3):
        plain, zero = run(AwakeSteeringEnv(2, max_steps=20), seed, ACTIONS), run(
            AwakeSteeringEnv(2, max_steps=20, bpm_noise=0.0), seed, ACTIONS)
        for a, b in zip(plain, zero):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_noise_changes_the_readings_with_the_right_std_and_not_the_starts():
    differences = []
    for seed in range(40):
        exact_env, noisy_env = AwakeSteeringEnv(2, max_steps=5), AwakeSteeringEnv(2, max_steps=5, bpm_noise=0.2)
        exact_env.reset(seed=seed)
        noisy_env.reset(seed=seed)
        np.testing.assert_array_equal(exact_env.kicks, noisy_env.kicks)  # same starts
        for action in ACTIONS[:5] * 0.1:  # small steps: no episode ends early
            exact, *_ = exact_env.step(action)
            noisy, *_ = noisy_env.step(action)
            np.testing.assert_array_equal(exact_env.kicks, noisy_env.kicks)  # the noise only touches readings
            differences.append(noisy - exact)
    differences = np.array(differences)
    assert np.abs(differences).min() > 0
    assert differences.std() == pytest.approx(0.2 * OBS_PER_MM, rel=0.06)  # 2000 samples: ~1.6 % spread
    with pytest.raises(ValueError, match="bpm_noise"):
        AwakeSteeringEnv(bpm_noise=-1)


def test_vector_env_and_sampler_see_the_same_noise_as_single_envs():
    task, n = get_evaluation_task(3), 4
    vector = AwakeSteeringVectorEnv([task] * n, max_steps=5, bpm_noise=0.5, autoreset_mode="Disabled")
    obs, _ = vector.reset(seed=10)
    singles = [AwakeSteeringEnv(task, max_steps=5, bpm_noise=0.5) for _ in range(n)]
    np.testing.assert_array_equal(obs, np.stack([env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]))
    step = np.full((n, 10), 0.05)
    np.testing.assert_array_equal(vector.step(step)[0], np.stack([env.step(step[0])[0] for env in singles]))

    policy = GaussianMLPPolicy(seed=0)
    sampler = MultiTaskSampler(3, AwakeSteeringVectorEnv.factory(max_steps=10, bpm_noise=0.5))
    batch = sampler.sample(policy, [task], [7])
    sequential = EnvSampler(AwakeSteeringEnv(task, max_steps=10, bpm_noise=0.5), 3).sample(policy, [task], [7])
    torch.testing.assert_close(batch.observations, sequential.observations, rtol=0, atol=1e-5)
    assert torch.equal(batch.mask, sequential.mask)


def test_env_sampler_gives_the_multitask_sampler_episodes_and_adapts_alike():
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.training import adapt

    task, policy, config = get_evaluation_task(2), GaussianMLPPolicy(seed=1), load_config()
    a = MultiTaskSampler(8, AwakeSteeringVectorEnv.factory(max_steps=30)).sample(policy, [task], [5])
    b = EnvSampler(AwakeSteeringEnv(task, max_steps=30), 8).sample(policy, [task], [5])
    assert torch.equal(a.mask, b.mask) and torch.equal(a.success, b.success)
    for field in ("observations", "actions", "rewards"):  # float32 rounding of the batched policy call
        torch.testing.assert_close(getattr(a, field), getattr(b, field), rtol=0, atol=1e-5)
    sampler = EnvSampler(AwakeSteeringEnv(task, max_steps=config.max_steps), config.fast_batch_size)
    on_env = adapt(policy, [task], 2, config, seed=3, sampler=sampler).records
    in_process = adapt(policy, [task], 2, config, seed=3).records
    assert [r["mean_length"] for r in on_env] == [r["mean_length"] for r in in_process]
    assert sampler.episodes == 2 * config.fast_batch_size
    assert sampler.steps == sum(r["mean_length"] for r in on_env) * config.fast_batch_size
    with pytest.raises(ValueError, match="one task"):
        sampler.sample(policy, [task, task], [1, 2])


def test_machine_commands_have_plain_help():
    for command in ("serve-machine", "restore"):
        result = subprocess.run([sys.executable, "-m", "awake_tutorial.ui.cli", command, "--help"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0
        assert "``" not in result.stdout and ":class:" not in result.stdout
    result = subprocess.run([sys.executable, "-m", "awake_tutorial.ui.cli", "adapt", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert "--machine ADDRESS" in result.stdout and "--machine-backend" in result.stdout and "--dry-run" in result.stdout


def test_drift_moves_the_optics_within_bounds_reproducibly():
    from awake_tutorial.machine.line import MAX_DRIFT, SimulatedLine

    task = get_evaluation_task(1)
    lines = [SimulatedLine(task, drift=0.01, seed=4) for _ in range(2)]
    start = lines[0].scales.copy()
    np.testing.assert_allclose(lines[0].R["horizontal"], task.response_h, rtol=1e-9, atol=1e-9)
    for _ in range(300):
        for line in lines:
            line.set_kicks("horizontal", np.zeros(10))
    moved = np.abs(lines[0].scales - start)
    assert 0.02 < moved.max() <= MAX_DRIFT + 1e-12  # a random walk of 300 steps of 0.01, reflected at 0.1
    assert not np.allclose(lines[0].R["horizontal"], task.response_h, rtol=1e-3)
    np.testing.assert_array_equal(lines[0].R["horizontal"], lines[1].R["horizontal"])  # same seed, same drift
    frozen = SimulatedLine(task)
    frozen.set_kicks("horizontal", np.zeros(10))
    assert frozen.R["horizontal"] is task.response_h  # no drift: the task's own matrix


def test_the_noise_summary_spreads_over_seeds_as_the_comparison_does():
    from awake_tutorial.runs import noise_study

    steps = noise_study.STEPS  # the course's score, failures counted as max_steps (not a plain mean)
    rows = [{"method": "inverse", "bpm_noise": 0.3, "seed": s, steps: length, "success_rate": success}
            for s, length, success in ((0, 2.0, 1.0), (1, 4.0, 0.5), (2, 6.0, 0.75))]
    (summary,) = noise_study.summarize_noise(rows)
    assert summary["seeds"] == 3 and summary[steps] == pytest.approx(4.0)
    assert summary[f"{steps}_std"] == pytest.approx(2.0)  # std over seeds with ddof 1, as compare's
    assert summary["success_rate_std"] == pytest.approx(0.25)


def test_the_noise_study_builds_its_methods_from_the_registry():
    from awake_tutorial.config import load_config
    from awake_tutorial.physics.tasks import get_evaluation_task
    from awake_tutorial.runs import noise_study

    rows = noise_study.run_noise_study([get_evaluation_task(2)], None, load_config(), noise_levels=(0.2,),
                                       methods=("broyden", "measure-correct"), episodes=2, seeds=(0,))
    assert [r["method"] for r in rows] == ["broyden", "measure-correct"]
    assert all(0 < r[noise_study.STEPS] <= 100 and 0 <= r["success_rate"] <= 1 for r in rows)
    with pytest.raises(ValueError, match="unknown method"):
        noise_study.run_noise_study([get_evaluation_task(2)], None, load_config(), methods=("genius",))
