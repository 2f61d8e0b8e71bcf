"""Controllers that do not know the task's matrix: nominal model, measure then correct."""

import numpy as np
import pytest

from awake_tutorial.controllers import FewestStepsPolicy, InverseResponsePolicy

from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.controllers.measured import (PROBE, MeasureThenCorrectPolicy, NominalModelPolicy,
                                        measure_response)
from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks, sample_tasks


@pytest.fixture(scope="module")
def evaluation_tasks():
    return load_evaluation_tasks()


class CountingEnv(AwakeSteeringEnv):
    """The env, recording every action it is given (the machine steps spent)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.actions = []

    def step(self, action):
        self.actions.append(np.array(action, dtype=np.float64))
        return super().step(action)


def test_nominal_model_is_the_fewest_steps_planner_of_the_nominal_optics(evaluation_tasks):
    nominal = evaluation_tasks[0]
    obs = np.random.default_rng(1).uniform(-0.9, 0.9, (6, 10)).astype(np.float32)
    for task in (nominal, evaluation_tasks[3], None):  # whatever task it is given
        policy = NominalModelPolicy(task)
        np.testing.assert_array_equal(policy.act(obs), FewestStepsPolicy(nominal).act(obs))
        assert policy.machine_steps == 0
    for plane in ("horizontal", "vertical"):
        assert evaluate(per_task(NominalModelPolicy), [nominal], episodes=6, seed=3, plane=plane) == \
            evaluate(per_task(FewestStepsPolicy), [nominal], episodes=6, seed=3, plane=plane)
    # on other optics the model is wrong, and it shows
    wrong = evaluate(per_task(NominalModelPolicy), [evaluation_tasks[4]], episodes=6, seed=3)[0]
    right = evaluate(per_task(FewestStepsPolicy), [evaluation_tasks[4]], episodes=6, seed=3)[0]
    assert wrong["mean_length"] > right["mean_length"] + 5


@pytest.mark.parametrize("plane", ["horizontal", "vertical"])
def test_probes_recover_the_matrix_and_spend_exactly_the_steps_reported(evaluation_tasks, plane):
    for task in [*evaluation_tasks, *sample_tasks(6, seed=11, first_id=50)]:
        env = CountingEnv(task, plane=plane)
        measurement = measure_response(env, seed=task.id)
        truth = task.response(plane)
        # noise-free env: the only error is the float32 rounding of the two readings of a
        # column (each |reading| < 1, so each off by at most 2**-25), divided by the probe's
        # reading change per m/rad: 2**-24 / (100 * 1e-4 * PROBE) = 1.5e-4 m/rad, about 1e-5
        # of a typical largest entry. (1 % margin for the float64 arithmetic of the env.)
        bound = 2.0**-24 / (100 * 1e-4 * PROBE)
        np.testing.assert_allclose(measurement.response, truth, rtol=0, atol=1.01 * bound)
        assert measurement.steps == len(env.actions) == 11 and measurement.probe == PROBE
        actions = np.array(env.actions)
        # every probe is a legal action, never rescaled by the env: max|a| = probe <= 1
        np.testing.assert_allclose(np.abs(actions).max(axis=1), PROBE)
        start = AwakeSteeringEnv(task, plane=plane)
        start.reset(seed=task.id)
        np.testing.assert_allclose(env.kicks, start.kicks, rtol=0, atol=1e-18)  # correctors restored


def test_measure_then_correct_reports_its_cost_and_then_plans_like_the_true_matrix(evaluation_tasks):
    task = evaluation_tasks[2]
    policy = MeasureThenCorrectPolicy(task, seed=4)
    assert policy.machine_steps == policy.measurement.steps == 11
    measured = evaluate(per_task(lambda t, plane: policy), [task], episodes=20, seed=0)[0]
    truth = evaluate(per_task(FewestStepsPolicy), [task], episodes=20, seed=0)[0]
    assert measured["success_rate"] == 1.0
    assert abs(measured["mean_length"] - truth["mean_length"]) <= 0.1


def test_measuring_refuses_rescaled_probes_short_envs_and_probes_that_end_the_episode():
    task = Task.from_response(np.tril(np.full((10, 10), 30.0)), task_id=9)
    with pytest.raises(ValueError, match="scaled down"):
        measure_response(AwakeSteeringEnv(task), probe=1.5)
    with pytest.raises(ValueError, match="max_steps >= 11"):
        measure_response(AwakeSteeringEnv(task, max_steps=5))

    class NearTheWall(AwakeSteeringEnv):  # every episode starts with BPM 9 at 9 mm
        def reset(self, *, seed=None, options=None):
            return super().reset(seed=seed, options={"kicks": np.r_[np.zeros(9), 3e-4]})

    with pytest.raises(RuntimeError, match="probe 0 ended the episode \\(wall\\).*smaller probe"):
        measure_response(NearTheWall(task), probe=1.0)  # 1e-4 rad on corrector 0 moves BPM 9 by 3 mm
    assert measure_response(NearTheWall(task), probe=0.01).steps == 11  # 0.03 mm: fine


# --- zero-cost controllers on the nominal matrix (issue 23) ---------------------------------


def test_the_nominal_inverse_is_the_inverse_of_task_0_on_every_task(evaluation_tasks):
    from awake_tutorial.controllers import NominalInversePolicy

    obs = np.random.default_rng(0).uniform(-0.5, 0.5, size=(7, 10)).astype(np.float32)
    nominal = InverseResponsePolicy(evaluation_tasks[0]).act(obs)
    for task in evaluation_tasks:
        np.testing.assert_array_equal(NominalInversePolicy(task).act(obs), nominal)
    assert NominalInversePolicy.machine_steps == 0


def test_broyden_learns_the_true_matrix_along_its_steps_and_converges(evaluation_tasks):
    """On a linear machine the secant update makes B reproduce every step it has taken, and
    the controller reaches 1 mm on every task without measuring (0 machine steps)."""
    from awake_tutorial.controllers import BroydenPolicy
    from awake_tutorial.envs import evaluate, per_task

    task = evaluation_tasks[3]
    policy = BroydenPolicy(task)
    obs = np.random.default_rng(1).uniform(-0.3, 0.3, size=(1, 10))
    action = policy.act(obs.astype(np.float32)).astype(np.float64)
    true_B = 100 * 1e-4 * task.response_h
    policy.act((obs + action @ true_B.T).astype(np.float32))  # the next reading: B learns from the step
    np.testing.assert_allclose(policy._B[0] @ action[0], true_B @ action[0], rtol=1e-5, atol=1e-6)
    results = evaluate(per_task(BroydenPolicy), evaluation_tasks, episodes=8, seed=0)
    assert all(r["success_rate"] == 1.0 for r in results)
    nominal = evaluate(per_task(lambda t, p: BroydenPolicy(t, p, min_step=1e9)), evaluation_tasks, episodes=8)
    assert np.mean([r["mean_length"] for r in results]) < np.mean([r["mean_length"] for r in nominal])


def test_broyden_keeps_one_matrix_per_episode_and_checks_its_settings():
    from awake_tutorial.controllers import BroydenPolicy

    policy = BroydenPolicy(None)
    rows = np.random.default_rng(2).uniform(-0.3, 0.3, size=(3, 10)).astype(np.float32)
    first = policy.act(rows)
    np.testing.assert_array_equal(BroydenPolicy(None).act(rows[1]), first[1])  # rows are separate episodes
    idle = policy.act(rows)  # no change of the readings: dy = 0 teaches B that the step did nothing
    assert idle.shape == (3, 10) and np.all(np.abs(idle) <= 1.0)
    policy.reset()
    np.testing.assert_array_equal(policy.act(rows), first)
    for bad in ({"damping": 0.0}, {"max_action": 1.5}, {"min_step": -1.0}, {"rcond": 1.0}, {"start": np.ones((3, 3))}):
        with pytest.raises(ValueError):
            BroydenPolicy(None, **bad)
