"""AwakeSteeringEnv: gymnasium API, each rule of the problem semantics, and clear errors."""

import importlib
import warnings

import gymnasium
import numpy as np
import pytest

from awake_tutorial.envs import AwakeSteeringEnv, dynamics
from awake_tutorial.envs.starts import StartSampler
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks

GAIN = 20.0  # m/rad of the diagonal task: one unit of action moves its BPM by 0.2


def synthetic_task(seed=0, scale=8.0, task_id=0):
    """BPM i sees corrector j only downstream (j <= i), entries ~ N(0, scale) m/rad."""
    return Task.from_response(np.tril(np.random.default_rng(seed).normal(0, scale, (10, 10))),
                              task_id=task_id)


def diagonal_env(**kwargs):
    """Each corrector moves only its own BPM: states are easy to build by hand."""
    return AwakeSteeringEnv(Task.from_response(GAIN * np.eye(10), task_id=42), **kwargs)


def start_at(env, obs):
    """Reset the diagonal env so that it reads ``obs`` (10,)."""
    kicks = np.asarray(obs, dtype=np.float64) / (dynamics.OBS_PER_METRE * GAIN)
    return env.reset(options={"kicks": kicks})


def test_float32_box_spaces_and_both_env_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = AwakeSteeringEnv(synthetic_task())
    for space in (env.observation_space, env.action_space):
        assert space.dtype == np.float32 and space.shape == (10,)
        assert np.all(space.low == -1) and np.all(space.high == 1)
    obs = env.reset(seed=0)[0], env.step(env.action_space.sample())[0]
    assert all(o.dtype == np.float32 and env.observation_space.contains(o) for o in obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
        sb3_check_env(AwakeSteeringEnv(synthetic_task()), warn=True)


def test_registered_once_and_makeable():
    import awake_tutorial.envs as envs

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-registering would warn "Overriding environment"
        importlib.reload(envs)
    env = gymnasium.make("AwakeSteering-v0", task=synthetic_task(task_id=3), max_steps=7)
    assert isinstance(env.unwrapped, AwakeSteeringEnv) and env.unwrapped.max_steps == 7
    assert env.reset(seed=0)[1]["task_id"] == 3


def test_default_task_is_nominal_evaluation_task_and_ids_pick_evaluation_tasks():
    evaluation = load_evaluation_tasks()
    assert AwakeSteeringEnv().task == evaluation[0] and AwakeSteeringEnv(3).task == evaluation[3]
    assert AwakeSteeringEnv(np.int64(2), plane="vertical").task == evaluation[2]


def test_observation_is_100_times_position_in_metres_clipped_to_one():
    task = Task.from_response(synthetic_task(0).response_h, synthetic_task(1).response_h)
    for plane in ("horizontal", "vertical"):
        env = AwakeSteeringEnv(task, plane=plane)
        obs, info = env.reset(seed=1)
        readings = 100 * task.response(plane) @ env.kicks  # m -> normalized units
        np.testing.assert_allclose(obs, readings, rtol=1e-6, atol=1e-7)
        assert info["rms"] == pytest.approx(np.sqrt(np.mean(readings**2)), rel=1e-12)
    env = diagonal_env()
    start_at(env, np.full(10, 0.5))
    obs, *_ = env.step(np.r_[[1.0], np.zeros(9)])  # BPM 0: 0.5 + 0.2 = 0.7, inside
    assert obs[0] == pytest.approx(0.7, abs=1e-6)
    start_at(env, np.full(10, 0.9))
    obs, *_ = env.step(np.r_[[1.0], np.zeros(9)])  # BPM 0: 1.1, past the wall: reads 1
    assert obs[0] == 1.0 and obs.max() == 1.0 and obs.dtype == np.float32


def test_large_actions_are_scaled_to_max_abs_one_keeping_direction_and_kicks_add_up():
    env = AwakeSteeringEnv(synthetic_task(), max_steps=50)
    env.reset(seed=0)
    start = env.kicks
    large = np.array([4.0, -2.0, 1.0, 0, 0, 0, 0, 0, 0, 0.5])  # becomes large / 4
    small = np.random.default_rng(0).uniform(-0.05, 0.05, (3, 10))  # used as they are
    for action in [large, *small]:
        env.step(action)
    total = 1e-4 * (large / 4 + small.sum(axis=0))  # rad
    np.testing.assert_allclose(env.kicks - start, total, rtol=1e-9, atol=1e-18)


def test_reward_is_minus_ten_times_rms_of_unclipped_readings():
    task = synthetic_task()
    env = AwakeSteeringEnv(task, max_steps=50)
    env.reset(seed=3)
    for action in np.random.default_rng(1).uniform(-0.1, 0.1, (5, 10)):
        obs, reward, terminated, _, info = env.step(action)
        readings = 100 * task.response_h @ env.kicks
        assert reward == pytest.approx(-10 * np.sqrt(np.mean(readings**2)), rel=1e-12)
        assert info["rms"] == pytest.approx(np.sqrt(np.mean(readings**2)), rel=1e-12)
        assert not terminated


def test_success_terminates_below_rms_0_1():
    env = diagonal_env()
    start_at(env, [0.3] * 10)
    _, _, terminated, _, info = env.step(np.full(10, -0.999))  # every BPM at 0.1002
    assert info["rms"] > 0.1 and not terminated and not info["success"]
    _, reward, terminated, truncated, info = env.step(np.full(10, -0.01))  # 0.0982 each
    assert info["rms"] < 0.1 and terminated and info["success"] and not info["wall"]
    assert not truncated and reward == pytest.approx(-10 * info["rms"])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))  # the episode is over


@pytest.mark.parametrize("penalty", ["strict", "reference"])
def test_wall_sets_bpms_from_first_violation_on_and_recomputes_reward(penalty):
    env = diagonal_env(max_steps=10, wall_penalty=penalty)
    start_at(env, [0.5, -0.3, 0.9, 0.1, -0.2, 0.0, 0.7, -0.9, 0.4, 0.05])
    action = np.array([0, 0, 1.0, 0, 0, 0, 1.0, 0, 0, 0])  # BPM 2 -> 1.1, BPM 6 -> 0.9
    obs, reward, terminated, truncated, info = env.step(action)
    expected = np.array([0.5, -0.3, 1, 1, -1, 1, 1, -1, 1, 1])  # sign of each reading
    np.testing.assert_allclose(obs, expected, atol=1e-6)
    assert terminated and info["wall"] and not info["success"] and not truncated
    rms = np.sqrt(np.mean(expected**2))
    assert info["rms"] == pytest.approx(rms, rel=1e-6)
    penalty_steps = 10 - 1 if penalty == "strict" else 0  # steps left after this one
    assert reward == pytest.approx(-10 * rms - 10 * penalty_steps, rel=1e-6)
    # a reading exactly on the wall counts too; BPMs before the first violation keep theirs
    readings, wall = dynamics.hit_wall(np.array([[0.3, -0.99, -1.0, 0.2, 5.0, 0, 0, 0, 0, 0]]))
    assert wall.tolist() == [True]
    np.testing.assert_array_equal(readings[0], [0.3, -0.99, -1, 1, 1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("step_of_hit", [1, 3, 5])
def test_strict_penalty_charges_minus_ten_per_step_left(step_of_hit):
    rewards = {}
    for penalty in ("strict", "reference"):
        env = diagonal_env(max_steps=5, wall_penalty=penalty)
        start_at(env, np.full(10, 0.9))
        for _ in range(step_of_hit - 1):
            env.step(np.zeros(10))
        _, rewards[penalty], terminated, _, info = env.step(np.ones(10))  # 1.1: wall
        assert terminated and info["wall"] and info["step"] == step_of_hit
    assert rewards["reference"] == pytest.approx(-10.0)  # every BPM reads +-1
    assert rewards["strict"] - rewards["reference"] == pytest.approx(-10.0 * (5 - step_of_hit))


@pytest.mark.parametrize("penalty", ["strict", "reference"])
def test_strict_wall_is_never_better_than_staying_in_bounds_reference_can_be(penalty):
    """From a poor orbit, ending at the wall pays off in the reference scoring only."""
    stay, hit = (diagonal_env(max_steps=20, wall_penalty=penalty) for _ in "ab")
    start_at(stay, np.full(10, 0.95))  # RMS 0.95: reward -9.5 per step while in bounds
    start_at(hit, np.full(10, 0.95))
    stay_return = sum(stay.step(np.zeros(10))[1] for _ in range(20))  # 20 steps in bounds
    _, hit_return, terminated, _, info = hit.step(np.ones(10))  # at the wall in 1 step
    assert terminated and info["wall"] and stay_return == pytest.approx(-190)
    assert (hit_return <= stay_return) == (penalty == "strict")  # reference: the loophole


def test_time_limit_truncates_without_terminating():
    env = diagonal_env(max_steps=3)
    start_at(env, np.full(10, 0.5))
    flags = [env.step(np.zeros(10))[2:5] for _ in range(3)]
    assert [f[:2] for f in flags] == [(False, False), (False, False), (False, True)]
    assert flags[-1][2]["step"] == 3 and not flags[-1][2]["success"]


def test_reset_starts_in_bounds_with_rms_above_0_2():
    task = load_evaluation_tasks()[4]  # the horizontal task with the rarest valid starts
    env = AwakeSteeringEnv(task)
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        assert np.max(np.abs(obs)) <= 0.95 and info["rms"] > 0.2 and info["step"] == 0
        assert np.max(np.abs(env.kicks)) <= 5e-4
    # the conditions do work: most raw draws of kicks violate them
    readings = 100 * np.random.default_rng(0).uniform(-5e-4, 5e-4, (2000, 10)) @ task.response_h.T
    assert np.mean((np.abs(readings).max(1) <= 0.95) & (np.sqrt((readings**2).mean(1)) > 0.2)) < 0.2


def test_reset_falls_back_to_best_start_when_rms_above_0_2_is_out_of_reach():
    env = AwakeSteeringEnv(Task.from_response(0.5 * np.eye(10)))  # readings <= 0.025
    obs, info = env.reset(seed=0)
    assert 0 < info["rms"] < 0.2 and np.max(np.abs(obs)) <= 0.95
    # it is the largest RMS among the candidates the reset drew
    rng = np.random.default_rng(np.random.SeedSequence(0))
    candidates = rng.uniform(-5e-4, 5e-4, (StartSampler.MAX_CANDIDATES, 10))
    assert info["rms"] == pytest.approx(np.sqrt(np.mean((50 * candidates) ** 2, 1)).max())


def test_reset_seed_reproduces_episodes_and_other_seeds_differ():
    env = AwakeSteeringEnv(synthetic_task(), max_steps=20)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 10))

    def episode(seed):
        trace = [env.reset(seed=seed)[0]]
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(action)
            trace.append(np.r_[obs, reward])
            if terminated or truncated:
                return trace

    first, again, other = episode(5), episode(5), episode(6)
    assert len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    # unseeded resets continue the seeded stream: reproducible as a sequence too
    env.reset(seed=9)
    sequence = [env.reset()[0] for _ in range(3)]
    env.reset(seed=9)
    assert all(np.array_equal(a, env.reset()[0]) for a in sequence)


def test_info_keys_and_types():
    env = AwakeSteeringEnv(synthetic_task(task_id=7))
    for info in (env.reset(seed=0)[1], env.step(np.zeros(10))[4]):
        assert {k: type(v) for k, v in info.items()} == {
            "task_id": int, "step": int, "rms": float, "success": bool, "wall": bool}
    assert info["task_id"] == 7 and info["step"] == 1 and not info["success"] | info["wall"]


@pytest.mark.parametrize("action, error, message", [
    (np.r_[np.nan, np.zeros(9)], ValueError, "NaN or inf"),
    (np.r_[np.inf, np.zeros(9)], ValueError, "NaN or inf"),
    (np.zeros(9), ValueError, r"shape \(10,\)"),
    (np.zeros((1, 10)), ValueError, r"shape \(10,\)"),
    ("left", TypeError, "numbers"),
])
def test_bad_action_is_a_clear_error_and_changes_nothing(action, error, message):
    env, twin = AwakeSteeringEnv(synthetic_task()), AwakeSteeringEnv(synthetic_task())
    for e in (env, twin):
        e.reset(seed=0)
        e.step(np.full(10, 0.1))
    kicks = env.kicks
    with pytest.raises(error, match=message):
        env.step(action)
    np.testing.assert_array_equal(env.kicks, kicks)
    after, reference = env.step(np.full(10, 0.1)), twin.step(np.full(10, 0.1))
    np.testing.assert_array_equal(after[0], reference[0])
    assert after[1:] == reference[1:]  # same reward, flags and step count


@pytest.mark.parametrize("task, error, message", [
    (99, KeyError, "evaluation task ids"),
    ("nominal", TypeError, "Task, an evaluation task id"),
    (1.0, TypeError, "Task, an evaluation task id"),
    (True, TypeError, "Task, an evaluation task id"),
    (np.eye(10), TypeError, "Task, an evaluation task id"),
])
def test_bad_task_is_a_clear_error(task, error, message):
    with pytest.raises(error, match=message):
        AwakeSteeringEnv(task)
    env = AwakeSteeringEnv(synthetic_task(task_id=5))
    with pytest.raises(error, match=message):
        env.set_task(task)
    assert env.task == synthetic_task(task_id=5)  # unchanged


@pytest.mark.parametrize("kwargs, message", [
    ({"plane": "Horizontal"}, "unknown plane"),
    ({"wall_penalty": "soft"}, "unknown wall_penalty"),
    ({"max_steps": 0}, "max_steps"),
    ({"max_steps": 2.5}, "max_steps"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AwakeSteeringEnv(synthetic_task(), **kwargs)


@pytest.mark.parametrize("options, message", [
    ({"kick": np.zeros(10)}, "unknown reset option"),
    ({"kicks": np.zeros(3)}, "10 finite kicks"),
    ({"kicks": np.full(10, 5e-3)}, "wall"),
])
def test_bad_reset_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        AwakeSteeringEnv(synthetic_task()).reset(options=options)


def test_set_task_switches_matrix_and_reset_is_needed_before_stepping():
    env = AwakeSteeringEnv(synthetic_task(0, task_id=0))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))  # never reset
    env.reset(seed=0)
    env.kicks[:] = 1.0  # a copy: changes nothing
    assert np.all(env.kicks != 1.0)
    other = synthetic_task(1, task_id=1)
    env.set_task(other)
    assert env.task is other
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))
    obs, info = env.reset(seed=0)
    assert info["task_id"] == 1
    np.testing.assert_allclose(obs, 100 * other.response_h @ env.kicks, rtol=1e-6, atol=1e-7)
    assert AwakeSteeringEnv(other).reset(seed=0)[0].tolist() == obs.tolist()
