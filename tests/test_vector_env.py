"""AwakeSteeringVectorEnv: step-by-step equal to single envs, gymnasium VectorEnv API, errors."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from awake_tutorial.envs import AwakeSteeringEnv, AwakeSteeringVectorEnv
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks

MODES = list(AutoresetMode)


def synthetic_task(seed=0, scale=8.0, task_id=0):
    """BPM i sees corrector j only downstream (j <= i), entries ~ N(0, scale) m/rad."""
    return Task.from_response(np.tril(np.random.default_rng(seed).normal(0, scale, (10, 10))),
                              task_id=task_id)


def mixed_tasks():
    """Different tasks per sub-env: real ones, synthetic ones, one twice."""
    evaluation = load_evaluation_tasks()
    return [evaluation[0], synthetic_task(1, task_id=11), evaluation[4], evaluation[0],
            synthetic_task(2, scale=3.0, task_id=12)]


def reference_envs(tasks, mode, **kwargs):
    """gymnasium's own vectorization of single envs: the ground truth."""
    return SyncVectorEnv([lambda t=t: AwakeSteeringEnv(t, **kwargs) for t in tasks],
                         autoreset_mode=mode)


def assert_same(a, b, where=""):
    """Equal values, dtypes and structure, recursing into info dicts and object arrays."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a.keys()} != {b.keys()}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key}]")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert b.dtype == object and a.shape == b.shape, where
        for x, y in zip(a, b):
            assert (x is None and y is None) or np.array_equal(x, y), where
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype, f"{where}: {a!r} vs {b!r}"
        np.testing.assert_array_equal(a, b, err_msg=where)


def policy_actions(rng, obs, tasks):
    """A mix that makes episodes end at different times and in every way.

    Sub-env 0 steers well (succeeds), 1 pushes hard (walls), the others act randomly
    with small or large (rescaled) actions; some rows contain huge values.
    """
    actions = rng.uniform(-0.3, 0.3, obs.shape)
    actions[0] = -np.linalg.solve(tasks[0].response_h, obs[0] / 100) / 1e-4
    actions[1] = rng.uniform(-5, 5, 10)
    actions[2] *= rng.choice([1.0, 30.0])
    return actions


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_equals_single_envs_step_by_step(mode):
    tasks = mixed_tasks()
    ours = AwakeSteeringVectorEnv(tasks, max_steps=12, autoreset_mode=mode)
    theirs = reference_envs(tasks, mode, max_steps=12)
    assert ours.metadata["autoreset_mode"] == theirs.metadata["autoreset_mode"] == mode
    assert_same(ours.reset(seed=7), theirs.reset(seed=7), "reset")
    rng = np.random.default_rng(0)
    obs, ends = ours.reset(seed=7)[0], {"success": 0, "wall": 0, "truncated": 0}
    theirs.reset(seed=7)
    lengths = set()
    for t in range(150):
        actions = policy_actions(rng, obs, tasks).astype(np.float32)
        result = ours.step(actions)
        assert_same(result, theirs.step(actions), f"step {t}")
        obs, _, terminated, truncated, info = result
        step_info = info.get("final_info", info) if mode is AutoresetMode.SAME_STEP else info
        done = terminated | truncated
        ends["success"] += int(np.sum(done & step_info["success"]))
        ends["wall"] += int(np.sum(done & step_info["wall"]))
        ends["truncated"] += int(np.sum(truncated))
        lengths.update(step_info["step"][done].tolist())
        if mode is AutoresetMode.DISABLED and done.any():
            assert_same(ours.reset(options={"reset_mask": done}),
                        theirs.reset(options={"reset_mask": done.copy()}), f"reset {t}")
    assert min(ends.values()) > 0, ends  # the test saw every way an episode ends ...
    assert len(lengths) >= 4, lengths  # ... and episodes of different lengths


def test_seeds_int_list_and_none_match_single_envs():
    tasks = [synthetic_task(i, task_id=i) for i in range(4)]
    envs = AwakeSteeringVectorEnv(tasks)
    singles = [AwakeSteeringEnv(t) for t in tasks]
    obs, _ = envs.reset(seed=3)
    for i, env in enumerate(singles):
        assert np.array_equal(obs[i], env.reset(seed=3 + i)[0])
    assert envs.np_random_seed == (3, 4, 5, 6)
    obs, _ = envs.reset(seed=[10, None, 12, None])  # None: keep the sub-env's generator
    for i, (env, seed) in enumerate(zip(singles, [10, None, 12, None])):
        assert np.array_equal(obs[i], env.reset(seed=seed)[0])
    obs, _ = envs.reset()
    assert all(np.array_equal(obs[i], env.reset()[0]) for i, env in enumerate(singles))
    fresh = AwakeSteeringVectorEnv(tasks)
    first, second = fresh.reset()[0], AwakeSteeringVectorEnv(tasks).reset()[0]
    assert not np.array_equal(first, second)  # unseeded: random


def test_spaces_and_metadata():
    envs = AwakeSteeringVectorEnv([synthetic_task()] * 3)
    assert envs.num_envs == 3
    assert envs.single_observation_space.shape == envs.single_action_space.shape == (10,)
    assert envs.observation_space.shape == envs.action_space.shape == (3, 10)
    assert envs.observation_space.dtype == envs.action_space.dtype == np.float32
    obs, info = envs.reset(seed=0)
    assert obs.dtype == np.float32 and envs.observation_space.contains(obs)
    assert set(info) == {"task_id", "step", "rms", "success", "wall", "_task_id", "_step",
                         "_rms", "_success", "_wall"}
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert AwakeSteeringVectorEnv([synthetic_task()], autoreset_mode="SameStep").autoreset_mode \
        is AutoresetMode.SAME_STEP


def test_set_tasks_swaps_tasks_and_requires_reset():
    envs = AwakeSteeringVectorEnv([synthetic_task(0, task_id=0)] * 2)
    envs.reset(seed=0)
    new = [synthetic_task(5, task_id=5), synthetic_task(6, task_id=6)]
    envs.set_tasks(new)
    assert envs.tasks == new
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros((2, 10)))
    obs, info = envs.reset(seed=1)
    assert info["task_id"].tolist() == [5, 6]
    for i, task in enumerate(new):
        assert np.array_equal(obs[i], AwakeSteeringEnv(task).reset(seed=1 + i)[0])
    with pytest.raises(ValueError, match="needs 2 tasks"):
        envs.set_tasks(new[:1])
    with pytest.raises(TypeError, match="Task, an evaluation task id"):
        envs.set_tasks([new[0], "task"])
    assert envs.tasks == new  # unchanged after the errors


@pytest.mark.parametrize("actions, error, message", [
    (np.full((3, 10), np.nan), ValueError, "NaN or inf"),
    (np.r_[np.zeros((2, 10)), [np.r_[-np.inf, np.zeros(9)]]], ValueError, "NaN or inf"),
    (np.zeros((2, 10)), ValueError, r"shape \(3, 10\)"),
    (np.zeros(10), ValueError, r"shape \(3, 10\)"),
    (np.zeros((3, 11)), ValueError, r"shape \(3, 10\)"),
    ([["a"] * 10] * 3, TypeError, "numbers"),
])
def test_bad_actions_are_clear_errors_and_change_nothing(actions, error, message):
    envs, twin = (AwakeSteeringVectorEnv([synthetic_task(i) for i in range(3)]) for _ in "ab")
    envs.reset(seed=0)
    twin.reset(seed=0)
    kicks = envs.kicks
    with pytest.raises(error, match=message):
        envs.step(actions)
    np.testing.assert_array_equal(envs.kicks, kicks)
    step = np.full((3, 10), 0.2)
    assert_same(envs.step(step), twin.step(step))


@pytest.mark.parametrize("tasks, error, message", [
    ([], ValueError, "empty"),
    (synthetic_task(), TypeError, "sequence"),
    ([0, 99], KeyError, "evaluation task ids"),
    ([synthetic_task(), 1.5], TypeError, "Task, an evaluation task id"),
])
def test_bad_tasks_are_clear_errors(tasks, error, message):
    with pytest.raises(error, match=message):
        AwakeSteeringVectorEnv(tasks)


def test_bad_settings_and_reset_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown plane"):
        AwakeSteeringVectorEnv([synthetic_task()], plane="x")
    with pytest.raises(ValueError, match="unknown wall_penalty"):
        AwakeSteeringVectorEnv([synthetic_task()], wall_penalty="none")
    with pytest.raises(ValueError):
        AwakeSteeringVectorEnv([synthetic_task()], autoreset_mode="sometimes")
    envs = AwakeSteeringVectorEnv([synthetic_task()] * 2, autoreset_mode=AutoresetMode.DISABLED)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="2 seeds|one each"):
        envs.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown reset option"):
        envs.reset(options={"mask": np.ones(2, bool)})
    with pytest.raises(RuntimeError, match="without reset_mask|reset all"):
        envs.reset(options={"reset_mask": np.array([True, False])})  # never fully reset
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="bool array"):
        envs.reset(options={"reset_mask": np.array([1, 0])})
    with pytest.raises(ValueError, match="no sub-env"):
        envs.reset(options={"reset_mask": np.zeros(2, bool)})
    for _ in range(100):  # push until an episode ends, then step it without resetting
        _, _, terminated, truncated, _ = envs.step(np.full((2, 10), 1.0))
        if (terminated | truncated).any():
            break
    with pytest.raises(RuntimeError, match="reset_mask"):
        envs.step(np.zeros((2, 10)))


def test_step_never_changes_the_callers_actions():
    envs = AwakeSteeringVectorEnv([synthetic_task(i) for i in range(3)], max_steps=1)
    envs.reset(seed=0)
    actions = np.full((3, 10), 0.5)  # float64: no conversion copy inside
    for _ in range(3):  # max_steps=1: every other step restarts all sub-envs (NEXT_STEP)
        envs.step(actions)
        assert np.all(actions == 0.5)


@pytest.mark.parametrize("bpm_noise", [0.0, 0.3])
def test_run_episodes_gives_one_episode_per_sub_env_as_single_envs(bpm_noise):
    """The sampler's and evaluate's mode: every episode equals a single env's with the same
    seed and actions; an ended sub-env idles (same observation, reward 0, no random draws)."""
    tasks, seeds = mixed_tasks(), [3, 4, 5, 6, 7]
    rng = np.random.default_rng(1)
    envs = AwakeSteeringVectorEnv(tasks, max_steps=30, bpm_noise=bpm_noise)
    out = envs.run_episodes(lambda obs: policy_actions(rng, obs, tasks).astype(np.float32), seed=seeds)
    T, n = out.alive.shape
    assert out.observations.shape == (T, n, 10) and out.observations.dtype == np.float32
    assert out.alive[-1].any() and set(out.lengths.tolist()) != {T}  # episodes of different lengths
    for i, (task, seed) in enumerate(zip(tasks, seeds)):
        env = AwakeSteeringEnv(task, max_steps=30, bpm_noise=bpm_noise)
        obs, total, success = env.reset(seed=seed)[0], 0.0, False
        for t in range(out.lengths[i]):
            assert out.alive[t, i] and np.array_equal(out.observations[t, i], obs), (i, t)
            obs, reward, terminated, truncated, info = env.step(out.actions[t, i])
            assert out.rewards[t, i] == reward
            total, success = total + reward, info["success"]
        assert terminated or truncated
        assert out.returns[i] == total and out.success[i] == success
        idle = slice(out.lengths[i] + 1, T)
        assert not out.alive[out.lengths[i]:, i].any() and not out.rewards[out.lengths[i]:, i].any()
        assert (out.observations[idle, i] == obs).all()  # keeps its last observation
    _, rewards, _, _, info = envs.step(np.zeros((n, 10)))  # all ended: the next step restarts them
    assert not rewards.any() and not info["step"].any()


def test_run_episodes_bad_actions_are_clear_errors():
    envs = AwakeSteeringVectorEnv([synthetic_task(0)] * 3, max_steps=5)
    with pytest.raises(ValueError, match=r"shape \(3, 9\).*one action \(10,\) per row"):
        envs.run_episodes(lambda obs: np.zeros((3, 9)), seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        envs.run_episodes(lambda obs: np.full((3, 10), np.nan), seed=0)


def test_start_slots_are_written_before_they_are_read():
    """StartSampler keeps its valid kicks in an uninitialised buffer: filled with NaN first, the
    starts (an easy task, the hardest evaluation task, and one that needs the fallback) are
    the same as from a zeroed one, reset after reset."""
    from awake_tutorial.envs.starts import StartSampler

    R = np.stack([load_evaluation_tasks()[0].response_h, load_evaluation_tasks()[4].response_h,
                  Task.from_response(0.5 * np.eye(10)).response_h])
    starts = {}
    for fill in (0.0, np.nan):
        sampler, rngs = StartSampler(3), [np.random.default_rng(s) for s in (1, 2, 3)]
        sampler._valid[:] = fill
        starts[fill] = [sampler.sample(np.arange(3), rngs, R) for _ in range(40)]
    assert all(np.isfinite(s).all() for s in starts[np.nan])
    assert all(np.array_equal(a, b) for a, b in zip(starts[0.0], starts[np.nan]))
