"""Does a steering policy cycle? The linearised closed loop near the goal.

A policy acting with its mean action mu(s) on a task with response G (readings per unit
of action, 10 x 10) moves the readings by s' = s + G mu(s). Near the goal (s = 0, where
mu(0) is ~0), linearised:

    s' - s* = A (s - s*),      A = I + G J,      J = d mu / d s at s = 0.

The orbit converges near the goal from every direction if and only if the spectral
radius rho(A) = max |eigenvalue of A| is below 1. An eigenvalue below -1 means each
step overshoots by more than it corrects: the orbit oscillates away from the goal
until the network saturates and it settles on a limit cycle that never reaches 1 mm;
rho >= 1 is the cycle's signature. (The actions' rescaling to max|a| <= 1 does not act
near the goal, where the actions are small.)

The AWAKE response has one or two strong directions and eight or nine weak ones
(singular values of G: e.g. 0.26, 0.026, 0.009, ... for the nominal optics). Along a weak
direction an action barely moves the readings, so the policy leaves it alone and A has
eigenvalues of about 1 there (0.98-1.01): a slow, monotone drift of readings that start
far below the 1 mm goal, not a cycle. So rho(A) itself is ~1 for every policy and task;
the check that separates cycling from converging is derived from it in two steps:

1. restrict the loop to the directions the correctors do move, the left singular vectors
   U_r of G with singular value >= ``RELATIVE_GAIN`` times the largest:
   A_r = U_r^T A U_r (r x r);
2. a limit cycle needs a mode that overshoots and grows: an eigenvalue of A_r with
   negative real part and modulus >= 1. :func:`oscillation_radius` is the largest modulus
   among the eigenvalues of A_r with negative real part (0 if there are none); below 1
   every overshooting mode dies out near the goal.

On the 25 evaluation and held-out tasks the first shipped Meta-SGD policy had
oscillation radii up to 1.30 on the two strongest held-out optics (the ones whose
episodes cycled), and every other task below 0.9.

Shapes: G (10, 10) normalised readings per action unit; J, A (10, 10).
"""

from __future__ import annotations

import numpy as np
import torch

from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE
from awake_tutorial.physics.tasks import Task


def gain(task: Task, plane: str = "horizontal") -> np.ndarray:
    """G (10, 10): normalised readings per unit of action (1e-4 rad) for ``task``."""
    return np.asarray(task.response(plane)) * OBS_PER_METRE * KICK_PER_ACTION


def _jacobian(policy, obs_dim: int) -> np.ndarray:
    """J = d mu / d s at s = 0 (10, 10) of a policy's mean action."""
    return torch.autograd.functional.jacobian(lambda s: policy.mean(s), torch.zeros(obs_dim)).double().numpy()


def closed_loop_matrix(policy, task: Task, plane: str = "horizontal") -> np.ndarray:
    """A = I + G J (10, 10) of the mean action of ``policy`` (any module with ``mean(obs)``)."""
    G = gain(task, plane)
    return np.eye(len(G)) + G @ _jacobian(policy, G.shape[0])


RELATIVE_GAIN = 0.05  # directions moved by >= 5 % of the strongest one are steered


def loop_eigenvalues(G: np.ndarray, J: np.ndarray, relative_gain: float = RELATIVE_GAIN) -> np.ndarray:
    """Eigenvalues (r,) complex of U_r^T (I + G J) U_r for a response G and a policy gain J."""
    u, sigma, _ = np.linalg.svd(G)
    if not sigma[0] > 0:
        return np.zeros(0, dtype=complex)
    steered = u[:, sigma >= relative_gain * sigma[0]]
    return np.linalg.eigvals(steered.T @ (np.eye(len(G)) + G @ J) @ steered)


def radius_of(eigenvalues: np.ndarray) -> float:
    """Largest |eigenvalue| among those with negative real part, 0 if none."""
    overshooting = eigenvalues[eigenvalues.real < 0]
    return float(np.abs(overshooting).max()) if overshooting.size else 0.0


def steered_eigenvalues(policy, task: Task, plane: str = "horizontal") -> np.ndarray:
    """Eigenvalues of the loop over the steered directions of ``task`` (module docstring)."""
    G = gain(task, plane)
    return loop_eigenvalues(G, _jacobian(policy, G.shape[0]))


def oscillation_radius(policy, task: Task, plane: str = "horizontal") -> float:
    """Largest |eigenvalue| of the steered loop among those with negative real part (0 if
    none): >= 1 means the mean action overshoots and cycles near the goal."""
    return radius_of(steered_eigenvalues(policy, task, plane))


# --- the safeguard on the inner step: no step may create an overshooting mode ------------

STEP_FRACTIONS = (1.0, 0.5, 0.25, 0.125, 0.0)  # backtracking of the inner step
RADIUS_LIMIT = 0.9  # margin below 1 for the estimate's error
FD_STEP = 1e-3  # finite-difference step of J, readings (0.01 mm)
MIN_TRANSITIONS = 5  # fewer usable transitions on a task: no evidence about its response, no step


def estimated_gains(episodes, wall: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares response G_hat (K, 10, 10) per task from its episodes' own transitions,
    s_{t+1} - s_t = G a_t, no extra machine step, and the number of transitions used (K,).
    Transitions with a reading at the wall or an action that was rescaled (max|a| > 1) are
    left out (the last step of an episode has no next reading); with few transitions G_hat
    is the minimum-norm fit, exact on the directions the actions explored (those the loop uses)."""
    obs, actions, mask = (np.asarray(x, dtype=np.float64) for x in
                          (episodes.observations, episodes.actions, episodes.mask))
    ds, a = obs[:, 1:] - obs[:, :-1], actions[:, :-1]  # (K, T-1, B, 10)
    ok = (mask[:, 1:] > 0) & (np.abs(obs[:, 1:]).max(-1) < wall) & (np.abs(obs[:, :-1]).max(-1) < wall) \
        & (np.abs(a).max(-1) <= 1.0)
    gains = np.zeros((len(obs), ds.shape[-1], a.shape[-1]))
    for k in range(len(obs)):
        if ok[k].any():
            gains[k] = ds[k][ok[k]].T @ np.linalg.pinv(a[k][ok[k]].T, rcond=1e-6)
    return gains, ok.sum(axis=(1, 2))


def _mean_jacobians(policy, params) -> np.ndarray:
    """J_k = d mu / d s at s = 0 (K, 10, 10) of per-task params (K, ...), central differences."""
    num_tasks, obs_dim = params["log_std"].shape[0], policy.obs_dim
    probes = torch.cat([torch.eye(obs_dim), -torch.eye(obs_dim)]) * FD_STEP
    with torch.no_grad():
        means = policy.mean(probes.expand(num_tasks, *probes.shape), params)
    return ((means[:, :obs_dim] - means[:, obs_dim:]) / (2 * FD_STEP)).transpose(1, 2).double().numpy()


def _radii(gains: np.ndarray, jacobians: np.ndarray) -> np.ndarray:
    """Oscillation radius (K,) of each task's response and gain."""
    return np.array([radius_of(loop_eigenvalues(G, J)) for G, J in zip(gains, jacobians)])


def stable_step(policy, episodes, theta, adapted) -> dict:
    """Backtrack each task's inner step theta -> theta'_k (per-task params (K, ...)) to the
    largest fraction of :data:`STEP_FRACTIONS` whose adapted mean action has oscillation
    radius < ``RADIUS_LIMIT`` under the task's estimated response (or no larger than
    before the step): the step may speed the policy up but never make it overshoot. A task
    with fewer than ``MIN_TRANSITIONS`` usable transitions (its episodes end after one
    step: it is solved already, and nothing measured its response) keeps theta."""
    gains, transitions = estimated_gains(episodes)
    before = _radii(gains, _mean_jacobians(policy, theta))
    chosen = np.zeros(len(gains))
    undecided = transitions >= MIN_TRANSITIONS
    for fraction in STEP_FRACTIONS:
        trial = {n: theta[n] + fraction * (adapted[n] - theta[n]) for n in theta}
        radii = _radii(gains, _mean_jacobians(policy, trial))
        accept = undecided & ((radii < RADIUS_LIMIT) | (radii <= before))
        chosen[accept], undecided = fraction, undecided & ~accept
        if not undecided.any():
            break
    chosen[undecided] = 0.0
    scale = torch.as_tensor(chosen, dtype=theta["log_std"].dtype)
    return {n: theta[n] + scale.view(-1, *[1] * (theta[n].dim() - 1)) * (adapted[n] - theta[n]) for n in theta}
