"""Property tests (hypothesis, derandomized): random tasks, extreme actions, long episodes."""

import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from awake_tutorial.envs import AwakeSteeringEnv, AwakeSteeringVectorEnv
from awake_tutorial.physics.tasks import Task

FUZZ = settings(derandomize=True, deadline=None, max_examples=40)

extreme_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),  # anything finite, 1e308 and 5e-324 too
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1.0000001, 1e-300, -1e300]),
)
extreme_actions = st.lists(st.lists(extreme_floats, min_size=10, max_size=10), max_size=8)


@st.composite
def tasks(draw, task_id=0):
    """Random response matrices: lower-triangular (physical) or full, small to large."""
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.3, 12.0))  # m/rad; small ones force the reset fallback
    matrix = np.random.default_rng(seed).normal(0, scale, (10, 10))
    if draw(st.booleans()):
        matrix = np.tril(matrix)
    return Task.from_response(matrix, -matrix[::-1], task_id=task_id)


def action_stream(seed, style, first):
    """``first`` explicit actions, then random ones of a style, forever."""
    yield from (np.array(a) for a in first)
    rng = np.random.default_rng(seed)
    while True:
        if style == "small":
            yield rng.uniform(-0.2, 0.2, 10)
        elif style == "box":
            yield rng.uniform(-1, 1, 10)
        elif style == "huge":
            yield rng.uniform(-1, 1, 10) * 10.0 ** rng.integers(0, 300)
        else:  # "sparse": one corrector at a time, sometimes far out of range
            action = np.zeros(10)
            action[rng.integers(10)] = rng.choice([-1e6, -1.0, 0.5, 1.0, 3.0])
            yield action


def check_transition(env, kicks_before, action, result, steps):
    """Every rule of the problem semantics, for one step of a single env."""
    obs, reward, terminated, truncated, info = result
    assert obs.dtype == np.float32 and obs.shape == (10,)
    assert np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= 1.0)
    assert np.isfinite(reward) and info["step"] == steps
    assert set(info) == {"task_id", "step", "rms", "success", "wall"}
    # the kicks moved by 1e-4 rad times the action, scaled down to max|a| = 1
    action = np.asarray(action, dtype=np.float64)
    largest = np.max(np.abs(action))
    change = (env.kicks - kicks_before) / 1e-4
    np.testing.assert_allclose(change, action / max(largest, 1.0), rtol=1e-6, atol=1e-6)
    readings = 100 * env.task.response(env.plane) @ env.kicks
    rms_of = lambda x: float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))  # noqa: E731
    outside = np.flatnonzero(np.abs(readings) >= 1.0)
    assert info["wall"] == (outside.size > 0)
    assert terminated == (info["success"] or info["wall"])
    assert not (truncated and terminated) and truncated == (steps == env.max_steps
                                                          and not terminated)
    if info["wall"]:
        first = outside[0]
        np.testing.assert_allclose(obs[:first], readings[:first], rtol=1e-6, atol=1e-7)
        assert np.all(np.abs(obs[first:]) == 1.0)
        assert np.all(np.sign(obs[first:][readings[first:] != 0]) ==
                      np.sign(readings[first:][readings[first:] != 0]))
        penalty = -10.0 * (env.max_steps - steps) if env.wall_penalty == "strict" else 0.0
        np.testing.assert_allclose(reward, -10 * rms_of(obs) + penalty, rtol=1e-6, atol=1e-6)
        assert info["rms"] >= 1 / np.sqrt(10) - 1e-9 and not info["success"]
    else:
        np.testing.assert_allclose(obs, readings, rtol=1e-6, atol=1e-7)  # unclipped, float32
        np.testing.assert_allclose(reward, -10 * rms_of(readings), rtol=1e-9, atol=1e-12)
        assert reward > -10.0  # in bounds: better than the -10 per step a wall charges
        assert info["success"] == (rms_of(readings) < 0.1)


@FUZZ
@given(task=tasks(), max_steps=st.integers(1, 120), penalty=st.sampled_from(["strict",
       "reference"]), plane=st.sampled_from(["horizontal", "vertical"]),
       style=st.sampled_from(["small", "box", "huge", "sparse"]), first=extreme_actions,
       seed=st.integers(0, 2**32 - 1))
def test_long_runs_keep_every_rule(task, max_steps, penalty, plane, style, first, seed):
    env = AwakeSteeringEnv(task, max_steps=max_steps, plane=plane, wall_penalty=penalty)
    actions = action_stream(seed, style, first)
    obs, info = env.reset(seed=seed)
    assert np.all(np.isfinite(obs)) and np.max(np.abs(obs)) <= 0.95
    steps = 0
    for _ in range(300):
        kicks_before, action = env.kicks, next(actions)
        result = env.step(action)
        steps += 1
        check_transition(env, kicks_before, action, result, steps)
        if result[2] or result[3]:
            obs, info = env.reset()
            assert info["step"] == 0 and np.max(np.abs(obs)) <= 0.95
            steps = 0


@FUZZ
@given(task_list=st.lists(tasks(), min_size=1, max_size=4),
       mode=st.sampled_from(list(AutoresetMode)), max_steps=st.integers(1, 15),
       style=st.sampled_from(["small", "box", "huge", "sparse"]),
       seed=st.integers(0, 2**31 - 100))
def test_vector_env_equals_single_envs(task_list, mode, max_steps, style, seed):
    ours = AwakeSteeringVectorEnv(task_list, max_steps=max_steps, autoreset_mode=mode)
    theirs = SyncVectorEnv(
        [lambda t=t: AwakeSteeringEnv(t, max_steps=max_steps) for t in task_list],
        autoreset_mode=mode)
    streams = [action_stream(seed + i, style, []) for i in range(len(task_list))]
    np.testing.assert_array_equal(ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0])
    for _ in range(40):
        actions = np.stack([next(s) for s in streams])
        mine, ref = ours.step(actions), theirs.step(actions)
        for a, b in zip(mine[:4], ref[:4]):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        for key in ("task_id", "step", "rms", "success", "wall"):
            np.testing.assert_array_equal(mine[4][key], ref[4][key])
        done = mine[2] | mine[3]
        if mode is AutoresetMode.DISABLED and done.any():
            np.testing.assert_array_equal(ours.reset(options={"reset_mask": done})[0],
                                          theirs.reset(options={"reset_mask": done})[0])
