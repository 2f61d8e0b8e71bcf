"""Benchmark policies (inverse response, fewest steps) and evaluate()."""

import numpy as np
import pytest
from scipy.optimize import minimize

from awake_tutorial.controllers import FewestStepsPolicy, InverseResponsePolicy

from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks

KEYS = {"task_id", "mean_length", "std_length", "mean_return", "success_rate", "lengths",
        "returns", "successes"}


@pytest.fixture(scope="module")
def evaluation_tasks():
    return load_evaluation_tasks()


def synthetic_task(seed=0, scale=8.0, task_id=0):
    """BPM i sees corrector j only downstream (j <= i), entries ~ N(0, scale) m/rad."""
    return Task.from_response(np.tril(np.random.default_rng(seed).normal(0, scale, (10, 10))),
                              task_id=task_id)


def test_inverse_response_action_cancels_the_reading(evaluation_tasks):
    task = evaluation_tasks[1]
    policy = InverseResponsePolicy(task)
    obs = np.random.default_rng(0).uniform(-0.9, 0.9, (4, 10)).astype(np.float32)
    wanted = -np.linalg.solve(task.response_h, obs.astype(np.float64).T / 100).T / 1e-4
    scale = np.maximum(np.abs(wanted).max(axis=1, keepdims=True), 1.0)
    actions = policy.act(obs)
    assert actions.shape == (4, 10) and actions.dtype == np.float32
    np.testing.assert_allclose(actions, wanted / scale, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(policy(obs[2]), actions[2])  # single obs, __call__
    # from a start within one step of the centre, one step zeroes the orbit
    env = AwakeSteeringEnv(task)
    obs, _ = env.reset(options={"kicks": np.full(10, 3e-5)})
    obs, reward, terminated, _, info = env.step(policy(obs))
    assert terminated and info["success"] and np.abs(obs).max() < 1e-4


def test_policies_reject_bad_observations_and_planes(evaluation_tasks):
    for policy_class in (InverseResponsePolicy, FewestStepsPolicy):
        with pytest.raises(ValueError, match="unknown plane"):
            policy_class(evaluation_tasks[0], plane="sideways")
        with pytest.raises(ValueError, match=r"\(10,\) or \(n, 10\)"):
            policy_class(evaluation_tasks[0]).act(np.zeros((2, 9)))


def test_inverse_response_succeeds_on_every_evaluation_task(evaluation_tasks):
    results = evaluate(per_task(InverseResponsePolicy), evaluation_tasks, episodes=100, seed=0)
    assert [r["task_id"] for r in results] == [0, 1, 2, 3, 4]
    for result in results:
        assert result["success_rate"] == 1.0, result["task_id"]
        assert result["mean_length"] <= 6.0, result["task_id"]


def independent_fewest_steps(task, kicks, limit=30):
    """Brute force with another solver: the first n for which L-BFGS-B finds RMS < 0.1.

    minimize |R (kicks + d)|^2 over |d_i| <= n * 1e-4 (a convex, box-constrained problem).
    Returns (n, min RMS at n, min RMS at n - 1).
    """
    A = 100 * task.response_h

    def objective(d):
        residual = A @ (kicks + d)
        return residual @ residual, 2 * A.T @ residual

    previous = np.sqrt(np.mean((A @ kicks) ** 2))
    for n in range(1, limit + 1):
        bound = n * 1e-4
        result = minimize(objective, np.zeros(10), jac=True, method="L-BFGS-B",
                          bounds=[(-bound, bound)] * 10,
                          options={"ftol": 1e-15, "gtol": 1e-14, "maxiter": 10_000})
        rms = np.sqrt(result.fun / 10)
        if rms < 0.1:
            return n, rms, previous
        previous = rms
    raise AssertionError("no plan found")


@pytest.mark.parametrize("task_index", [0, 1, 2, 3, 4, "synthetic"])
def test_fewest_steps_is_minimal_successful_and_never_slower_than_inverse(evaluation_tasks,
                                                                         task_index):
    # the synthetic task needs longer plans (2 to 4 steps) than the real ones (1 to 3)
    task = synthetic_task(0) if task_index == "synthetic" else evaluation_tasks[task_index]
    episodes, seed = 12, 123
    fewest = evaluate(per_task(FewestStepsPolicy), [task], episodes=episodes, seed=seed)[0]
    inverse = evaluate(per_task(InverseResponsePolicy), [task], episodes=episodes, seed=seed)[0]
    assert fewest["success_rate"] == 1.0
    assert all(f <= i for f, i in zip(fewest["lengths"], inverse["lengths"]))
    for i, length in enumerate(fewest["lengths"]):
        env = AwakeSteeringEnv(task)
        env.reset(seed=seed + i)  # the start of episode i (sub-env i is seeded seed + i)
        n, rms_at_n, rms_before = independent_fewest_steps(task, env.kicks)
        assert rms_before > 0.1 * (1 + 1e-6)  # not a hair's breadth case: a fair comparison
        assert length == n, (i, length, n, rms_at_n, rms_before)


def test_fewest_steps_heads_for_best_orbit_when_success_is_out_of_reach():
    matrix = np.eye(10)
    matrix[:, 9] = 0.0  # corrector 9 is dead: BPM 9 cannot be corrected
    matrix *= 20
    task = Task.from_response(matrix)
    policy = FewestStepsPolicy(task, max_plan=50)
    obs = np.r_[np.full(9, 0.5), [0.9]]  # RMS > 0.1 whatever the kicks: BPM 9 stays at 0.9
    n, d = policy.plan(obs)
    assert n == 3  # 0.5 needs 2.5 steps of 0.2 each; then more steps do not help
    np.testing.assert_allclose(100 * matrix @ d + obs, np.r_[np.zeros(9), [0.9]], atol=1e-9)


def test_evaluate_result_keys_and_consistency(evaluation_tasks):
    results = evaluate(per_task(InverseResponsePolicy), [evaluation_tasks[2], 3], episodes=7,
                       seed=4, max_steps=50)
    assert [r["task_id"] for r in results] == [2, 3]
    for result in results:
        assert set(result) == KEYS
        lengths, returns = np.array(result["lengths"]), np.array(result["returns"])
        assert len(lengths) == len(returns) == 7 and lengths.dtype.kind == "i"
        assert result["mean_length"] == pytest.approx(lengths.mean())
        assert result["std_length"] == pytest.approx(lengths.std())
        assert result["mean_return"] == pytest.approx(returns.mean())
    assert evaluate(per_task(InverseResponsePolicy), [2], episodes=7, seed=4, max_steps=50) == \
        results[:1]  # seeded: reproducible


def test_evaluate_matches_single_env_episodes():
    task = synthetic_task(3, task_id=8)
    rng_policy = lambda obs: np.tanh(-3 * obs[..., ::-1])  # noqa: E731  (deterministic, poor)
    result = evaluate(rng_policy, [task], episodes=6, seed=10, max_steps=15,
                      wall_penalty="reference")[0]
    for i in range(6):
        env = AwakeSteeringEnv(task, max_steps=15, wall_penalty="reference")
        obs, _ = env.reset(seed=10 + i)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(rng_policy(obs[None])[0])
            total, length, done = total + reward, length + 1, terminated or truncated
        assert result["lengths"][i] == length
        assert result["returns"][i] == pytest.approx(total, rel=1e-12)


def test_evaluate_accepts_functions_act_objects_and_factories(evaluation_tasks):
    task = evaluation_tasks[0]
    inverse = InverseResponsePolicy(task)

    class Counting:
        resets = 0

        def act(self, obs):
            return inverse.act(obs)

        def reset(self):
            Counting.resets += 1

    as_function = evaluate(lambda obs: inverse.act(obs), [task], episodes=5)
    as_object = evaluate(Counting(), [task, task], episodes=5)
    as_factory = evaluate(per_task(lambda t, plane: InverseResponsePolicy(t, plane)), [task],
                          episodes=5)
    assert as_function == as_object[:1] == as_factory
    assert Counting.resets == 2  # once per task


def test_evaluate_bad_input_is_a_clear_error(evaluation_tasks):
    task = evaluation_tasks[0]
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda obs: obs[:, :5], [task], episodes=3)
    with pytest.raises(TypeError, match="policy must be"):
        evaluate("inverse", [task], episodes=3)
    with pytest.raises(ValueError, match="episodes"):
        evaluate(lambda obs: obs, [task], episodes=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        evaluate(lambda obs: obs * np.nan, [task], episodes=3)
    with pytest.raises(KeyError, match="evaluation task ids"):
        evaluate(lambda obs: -obs, [17], episodes=3)
    with pytest.raises(TypeError, match="list of tasks"):
        evaluate(lambda obs: -obs, task, episodes=3)
    with pytest.raises(TypeError, match="callable factory"):
        per_task("InverseResponsePolicy")


def test_evaluate_scores_only_the_first_episode_of_each_sub_env():
    task = Task.from_response(20.0 * np.eye(10))  # one unit of action moves a BPM by 0.2
    inverse = InverseResponsePolicy(task)
    crashed = np.zeros(2, dtype=bool)

    def policy(obs):
        """Sub-env 0 waits for the time limit; sub-env 1 drives into the wall, then (in its
        second episode, while sub-env 0 still runs) steers to success."""
        crashed[:] |= np.abs(obs).max(axis=1) >= 1.0
        actions = np.zeros_like(obs)
        actions[1] = inverse.act(obs[1]) if crashed[1] else 50 * np.sign(obs[1])
        return actions

    result = evaluate(policy, [task], episodes=2, max_steps=12)[0]
    assert result["lengths"][0] == 12 and result["lengths"][1] <= 5 and crashed[1]
    assert result["success_rate"] == 0.0  # the later success of sub-env 1 does not count


def linear_scan_plan(policy, obs):
    """The planner as first written: try n = 1, 2, ... with lsq_linear every time."""
    from scipy.optimize import lsq_linear

    obs = np.asarray(obs, dtype=np.float64)
    for n in range(1, policy.max_plan + 1):
        result = lsq_linear(policy._A, -obs, bounds=(-n * 1e-4, n * 1e-4), method="bvls")
        if np.linalg.norm(result.fun) < policy._target:
            return n, result.x
        if np.max(np.abs(result.x)) < n * 1e-4 * (1 - 1e-9):
            break
    return n, result.x


def test_fewest_steps_bisection_gives_the_plans_of_a_linear_scan(evaluation_tasks):
    """The bisection and the in-box shortcut change the speed only: same n, same bits."""
    rng = np.random.default_rng(5)
    obs = rng.uniform(-0.95, 0.95, (30, 10)) * rng.uniform(0, 1, (30, 1)) ** 2  # near and far
    lengths = set()
    for task in (evaluation_tasks[0], evaluation_tasks[3], synthetic_task(2)):
        policy = FewestStepsPolicy(task)
        for row in obs:
            n, d = policy.plan(row)
            expected_n, expected_d = linear_scan_plan(policy, row)
            assert n == expected_n
            np.testing.assert_array_equal(d, expected_d)
            lengths.add(n)
    assert 1 in lengths and max(lengths) >= 8  # the search covered one-step and long plans
    dead = FewestStepsPolicy(Task.from_response(20 * np.diag(np.r_[np.ones(9), 0.0])), max_plan=50)
    row = np.r_[np.full(9, 0.5), [0.9]]  # out of reach: heads for the best orbit
    assert dead.plan(row)[0] == linear_scan_plan(dead, row)[0] == 3
