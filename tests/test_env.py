"""AwakeSteeringEnv: gymnasium API, each rule of the problem semantics, and clear errors."""

import importlib
import warnings

import gymnasium
import numpy as np
import pytest

from awake_tutorial.envs import AwakeSteeringEnv, dynamics
from awake_tutorial.tasks import Task, load_evaluation_tasks

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


def test_spaces_are_float32_boxes():
    env = AwakeSteeringEnv(synthetic_task())
    for space in (env.observation_space, env.action_space):
        assert space.dtype == np.float32 and space.shape == (10,)
        assert np.all(space.low == -1) and np.all(space.high == 1)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    obs, *_ = env.step(env.action_space.sample())
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)


def test_passes_gymnasium_env_checker():
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(AwakeSteeringEnv(synthetic_task()), skip_render_check=True)


def test_passes_stable_baselines3_env_checker():
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(AwakeSteeringEnv(synthetic_task()), warn=True)


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
    assert AwakeSteeringEnv().task == evaluation[0]
    assert AwakeSteeringEnv(3).task == evaluation[3]
    assert AwakeSteeringEnv(np.int64(2), plane="vertical").task == evaluation[2]


def test_observation_is_100_times_position_in_metres_clipped_to_one():
    task = synthetic_task()
    env = AwakeSteeringEnv(task)
    obs, info = env.reset(seed=1)
    position = task.response_h @ env.kicks  # m
    np.testing.assert_allclose(obs, 100 * position, rtol=1e-6, atol=1e-7)
    assert info["rms"] == pytest.approx(np.sqrt(np.mean((100 * position) ** 2)))
    vertical = AwakeSteeringEnv(task_with_planes := Task.from_response(
        task.response_h, 2 * task.response_h), plane="vertical")
    obs, _ = vertical.reset(options={"kicks": env.kicks})
    np.testing.assert_allclose(obs, 100 * task_with_planes.response_v @ env.kicks, rtol=1e-6)
    # a reading past 10 mm shows as exactly +-1
    env = diagonal_env()
    start_at(env, [0.5] * 10)
    obs, *_ = env.step(np.r_[[5.0], np.zeros(9)])  # BPM 0 -> 0.5 + 0.2 = 0.7: in
    assert obs[0] == pytest.approx(0.7, abs=1e-6)
    obs, *_ = start_at(env, [0.9] * 10)[:1], None
    obs, *_ = env.step(np.r_[[1.0], np.zeros(9)])  # BPM 0 -> 1.1: clipped
    assert obs[0] == 1.0 and obs.max() <= 1.0


def test_large_actions_are_scaled_to_max_abs_one_keeping_direction():
    env = AwakeSteeringEnv(synthetic_task())
    env.reset(seed=0)
    before = env.kicks
    action = np.array([4.0, -2.0, 1.0, 0, 0, 0, 0, 0, 0, 0.5])
    env.step(action)
    np.testing.assert_allclose(env.kicks - before, 1e-4 * action / 4.0, rtol=1e-9, atol=1e-18)
    before = env.kicks
    small = np.full(10, 0.3)  # within bounds: used as is
    env.step(small)
    np.testing.assert_allclose(env.kicks - before, 3e-5, rtol=1e-9)


def test_kicks_accumulate_over_steps():
    env = AwakeSteeringEnv(synthetic_task(), max_steps=50)
    env.reset(seed=0)
    start = env.kicks
    actions = np.random.default_rng(0).uniform(-0.05, 0.05, (3, 10))
    for action in actions:
        env.step(action)
    np.testing.assert_allclose(env.kicks, start + 1e-4 * actions.sum(axis=0), rtol=1e-12)


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
    start_at(env, [0.3] * 10)  # RMS 0.3
    # BPM 0..9 -> 0.3 - 0.2 * 1 = 0.1000...: RMS just above the threshold, not a success
    obs, reward, terminated, truncated, info = env.step(np.ones(10) * -0.999)
    assert info["rms"] > 0.1 and not terminated and not info["success"]
    obs, reward, terminated, truncated, info = env.step(np.full(10, -0.01))  # RMS < 0.1
    assert info["rms"] < 0.1 and terminated and info["success"] and not info["wall"]
    assert not truncated and reward == pytest.approx(-10 * info["rms"])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))  # the episode is over


@pytest.mark.parametrize("penalty", ["strict", "reference"])
def test_wall_sets_bpms_from_first_violation_on_and_recomputes_reward(penalty):
    env = diagonal_env(max_steps=10, wall_penalty=penalty)
    start = np.array([0.5, -0.3, 0.9, 0.1, -0.2, 0.0, 0.7, -0.9, 0.4, 0.05])
    start_at(env, start)
    action = np.array([0, 0, 1.0, 0, 0, 0, 1.0, 0, 0, 0])  # BPM 2 -> 1.1, BPM 6 -> 0.9
    obs, reward, terminated, truncated, info = env.step(action)
    expected = np.array([0.5, -0.3, 1, 1, -1, 1, 1, -1, 1, 1])  # sign of each reading
    np.testing.assert_allclose(obs, expected, atol=1e-6)
    assert terminated and info["wall"] and not info["success"] and not truncated
    rms = np.sqrt(np.mean(expected**2))
    assert info["rms"] == pytest.approx(rms, rel=1e-6)
    penalty_steps = 10 - 1 if penalty == "strict" else 0  # steps left after this one
    assert reward == pytest.approx(-10 * rms - 10 * penalty_steps, rel=1e-6)
    # a reading that lands exactly on the wall counts too
    start_at(env, np.r_[[0.8], np.zeros(9)])
    _, _, terminated, _, info = env.step(np.r_[[1.0], np.zeros(9)])
    assert terminated and info["wall"]


def test_strict_penalty_charges_minus_ten_per_step_left():
    for step_of_hit in range(1, 6):
        rewards = {}
        for penalty in ("strict", "reference"):
            env = diagonal_env(max_steps=5, wall_penalty=penalty)
            start_at(env, np.full(10, 0.5))
            for _ in range(step_of_hit - 1):
                env.step(np.zeros(10))
            rewards[penalty] = env.step(np.full(10, 3.0))[1]  # +0.2 per step: 0.7 ... no wall
            if not env._needs_reset:
                env.step(np.zeros(10))
        del rewards
    env_strict, env_reference = diagonal_env(max_steps=5), diagonal_env(max_steps=5,
                                                                         wall_penalty="reference")
    for step_of_hit in range(1, 6):
        out = []
        for env in (env_strict, env_reference):
            start_at(env, np.full(10, 0.9))
            for _ in range(step_of_hit - 1):
                env.step(np.zeros(10))
            out.append(env.step(np.ones(10)))  # every BPM -> 1.1: wall
        (_, strict, *_), (_, reference, *_) = out
        assert out[0][2] and out[1][2]
        assert strict - reference == pytest.approx(-10.0 * (5 - step_of_hit))


def test_strict_wall_is_never_better_than_staying_in_bounds_reference_can_be():
    """From a poor orbit, ending at the wall pays off in the reference scoring only."""
    max_steps = 20
    returns = {}
    for penalty in ("strict", "reference"):
        stay, hit = diagonal_env(max_steps=max_steps, wall_penalty=penalty), None
        start_at(stay, np.full(10, 0.95))  # RMS 0.95: reward -9.5 per step while in bounds
        stay_return, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = stay.step(np.zeros(10))
            stay_return += reward
            done = terminated or truncated
        hit = diagonal_env(max_steps=max_steps, wall_penalty=penalty)
        start_at(hit, np.full(10, 0.95))
        _, hit_return, terminated, _, info = hit.step(np.ones(10))
        assert terminated and info["wall"]
        returns[penalty] = stay_return, hit_return
    stay_return, hit_return = returns["strict"]
    assert hit_return <= stay_return
    stay_return, hit_return = returns["reference"]
    assert hit_return > stay_return  # the loophole the strict mode closes
    # and in general: every in-bounds step earns more than the -10 per step left charged
    assert dynamics.WORST_REWARD == -10.0 and -10 * 0.999 > dynamics.WORST_REWARD


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
    kicks = np.random.default_rng(0).uniform(-5e-4, 5e-4, (2000, 10))
    readings = 100 * kicks @ task.response_h.T
    valid = (np.abs(readings).max(axis=1) <= 0.95) & (np.sqrt((readings**2).mean(1)) > 0.2)
    assert valid.mean() < 0.2


def test_reset_falls_back_to_best_start_when_rms_above_0_2_is_out_of_reach():
    env = AwakeSteeringEnv(Task.from_response(0.5 * np.eye(10)))  # readings <= 0.025
    obs, info = env.reset(seed=0)
    assert 0 < info["rms"] < 0.2 and np.max(np.abs(obs)) <= 0.95
    # it is the largest RMS among the candidates the reset drew
    rng = np.random.default_rng(np.random.SeedSequence(0))
    candidates = rng.uniform(-5e-4, 5e-4, (dynamics.StartSampler.MAX_CANDIDATES, 10))
    assert info["rms"] == pytest.approx(np.sqrt(np.mean((50 * candidates) ** 2, 1)).max())


def test_reset_seed_reproduces_episodes_and_other_seeds_differ():
    env = AwakeSteeringEnv(synthetic_task(), max_steps=20)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 10))

    def episode(seed):
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(action)
            trace.append(np.r_[obs, reward])
            if terminated or truncated:
                break
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
    _, info = env.reset(seed=0)
    assert info == {"task_id": 7, "step": 0, "rms": info["rms"], "success": False, "wall": False}
    _, _, _, _, info = env.step(np.zeros(10))
    assert set(info) == {"task_id", "step", "rms", "success", "wall"} and info["step"] == 1
    assert [type(info[k]) for k in ("task_id", "step", "rms", "success", "wall")] == [
        int, int, float, bool, bool]


@pytest.mark.parametrize("action, error, message", [
    (np.r_[np.nan, np.zeros(9)], ValueError, "NaN or inf"),
    (np.r_[np.inf, np.zeros(9)], ValueError, "NaN or inf"),
    (np.zeros(9), ValueError, r"shape \(10,\)"),
    (np.zeros((1, 10)), ValueError, r"shape \(10,\)"),
    ("left", TypeError, "numbers"),
])
def test_bad_action_is_a_clear_error_and_changes_nothing(action, error, message):
    env, twin = AwakeSteeringEnv(synthetic_task()), AwakeSteeringEnv(synthetic_task())
    env.reset(seed=0)
    twin.reset(seed=0)
    env.step(np.full(10, 0.1))
    twin.step(np.full(10, 0.1))
    kicks = env.kicks
    with pytest.raises(error, match=message):
        env.step(action)
    np.testing.assert_array_equal(env.kicks, kicks)
    after, reference = env.step(np.full(10, 0.1)), twin.step(np.full(10, 0.1))
    np.testing.assert_array_equal(after[0], reference[0])
    assert after[1:] == reference[1:]  # same reward, flags and step count


@pytest.mark.parametrize("task, error, message", [
    (99, KeyError, "evaluation task ids"),
    (-1, KeyError, "evaluation task ids"),
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
    ({"plane": "diagonal"}, "unknown plane"),
    ({"plane": "Horizontal"}, "unknown plane"),
    ({"wall_penalty": "soft"}, "unknown wall_penalty"),
    ({"max_steps": 0}, "max_steps"),
    ({"max_steps": 2.5}, "max_steps"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AwakeSteeringEnv(synthetic_task(), **kwargs)


def test_bad_reset_options_are_clear_errors():
    env = AwakeSteeringEnv(synthetic_task())
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"kick": np.zeros(10)})
    with pytest.raises(ValueError, match="10 finite kicks"):
        env.reset(options={"kicks": np.zeros(3)})
    with pytest.raises(ValueError, match="wall"):
        env.reset(options={"kicks": np.full(10, 5e-3)})


def test_set_task_switches_matrix_and_requires_reset():
    env = AwakeSteeringEnv(synthetic_task(0, task_id=0))
    env.reset(seed=0)
    other = synthetic_task(1, task_id=1)
    env.set_task(other)
    assert env.task is other
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))
    obs, info = env.reset(seed=0)
    assert info["task_id"] == 1
    np.testing.assert_allclose(obs, 100 * other.response_h @ env.kicks, rtol=1e-6, atol=1e-7)
    assert AwakeSteeringEnv(other).reset(seed=0)[0].tolist() == obs.tolist()


def test_step_before_reset_is_an_error_and_kicks_is_a_copy():
    env = AwakeSteeringEnv(synthetic_task())
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10))
    env.reset(seed=0)
    kicks = env.kicks
    kicks[:] = 1.0
    assert np.all(env.kicks != 1.0)
