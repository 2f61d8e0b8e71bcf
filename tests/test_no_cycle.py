"""No limit cycles: the shipped meta-policy's linearised closed loop near the goal has no
overshooting mode that grows, before and after adaptation, on every evaluation and
held-out task (awake_tutorial.runs.stability)."""

import numpy as np
import pytest
import torch

from awake_tutorial.config import load_config
from awake_tutorial.envs import evaluate
from awake_tutorial.physics.tasks import Task, get_evaluation_task, load_evaluation_tasks
from awake_tutorial.runs.compare import heldout_tasks
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.stability import closed_loop_matrix, gain, oscillation_radius, steered_eigenvalues
from awake_tutorial.runs.training import adapt


class LinearPolicy:
    """mu(s) = K s: the closed loop is exactly I + G K."""

    def __init__(self, K):
        self.K = torch.as_tensor(K, dtype=torch.float32)
        self.obs_dim = self.K.shape[1]

    def mean(self, s):
        return s @ self.K.T

    def as_numpy_policy(self, deterministic=True):
        return lambda obs: np.asarray(obs, dtype=np.float64) @ self.K.numpy().T.astype(np.float64)


@pytest.mark.parametrize("c, radius", [(0.5, 0.0), (1.5, 0.5), (2.5, 1.5)])
def test_oscillation_radius_of_a_scaled_inverse_response(c, radius):
    """K = -c G^+ moves the steered directions by 1 - c per step: overshoot (c > 1) is a
    negative eigenvalue, a growing one (c > 2) a radius above 1."""
    task = get_evaluation_task(0)
    G = gain(task)
    policy = LinearPolicy(-c * np.linalg.pinv(G, rcond=1e-3))
    np.testing.assert_allclose(closed_loop_matrix(policy, task), np.eye(10) - c * G @ np.linalg.pinv(G, rcond=1e-3),
                               atol=1e-4)
    np.testing.assert_allclose(steered_eigenvalues(policy, task).real, 1 - c, atol=1e-4)
    assert oscillation_radius(policy, task) == pytest.approx(radius, abs=1e-4)


def test_a_radius_above_one_is_a_cycle_in_the_env():
    """The check predicts the episodes, sharply: radius 0.9 (c = 1.9) converges in every
    episode; radius 1.1 (c = 2.1) leaves episodes cycling until the time limit."""
    task = Task.from_response(get_evaluation_task(3).response_h)
    G = gain(task)
    good, bad = (LinearPolicy(-c * np.linalg.pinv(G, rcond=1e-2)) for c in (1.9, 2.1))
    assert oscillation_radius(good, task) < 1 < oscillation_radius(bad, task)
    assert evaluate(good.as_numpy_policy(), [task], episodes=50)[0]["success_rate"] == 1.0
    result = evaluate(bad.as_numpy_policy(), [task], episodes=50)[0]
    failed = [n for n, ok in zip(result["lengths"], result["successes"]) if not ok]
    assert result["success_rate"] < 0.9 and set(failed) == {100}  # measured: 76 %, the rest cut at 100


def test_shipped_meta_policy_has_no_overshooting_mode_before_and_after_adaptation():
    """Every evaluation and held-out task, 0, 1 and 4 adaptation batches (seeds 0 and 1).
    The first Meta-SGD policy failed this: radius 1.06 and 1.30 on the two strongest
    held-out optics before adaptation, up to 1.8 after, the tasks whose episodes cycled."""
    policy, config = load_pretrained("meta"), load_config()
    tasks = load_evaluation_tasks() + heldout_tasks()
    radii = {0: [oscillation_radius(policy, t) for t in tasks]}
    for seed in (0, 1):
        snapshots = adapt(policy, tasks, 4, config, seed=seed, snapshots=(1, 4)).snapshots
        for k, adapted in snapshots.items():
            radii[(seed, k)] = [oscillation_radius(p, t) for p, t in zip(adapted, tasks)]
    worst = {key: (round(max(r), 3), tasks[int(np.argmax(r))].id) for key, r in radii.items()}
    assert all(max(r) < 1 for r in radii.values()), worst
