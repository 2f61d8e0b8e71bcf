"""Classical controllers that do *not* know the task's response matrix.

The benchmarks of :mod:`awake_tutorial.controllers.given_response` are handed the true matrix R of the
task. On a real machine R must come from somewhere; an operator has two choices:

* **nominal model** (:class:`NominalModelPolicy`): trust the optics model and plan with
  the nominal optics' matrix (the fewest-steps planner on evaluation task 0). Costs no
  beam time; wrong by as much as the real quadrupoles differ from the model.
* **measure then correct** (:func:`measure_response`, :class:`MeasureThenCorrectPolicy`):
  kick each corrector by a small probe, read the BPMs, and build R column by column,
  then plan with the measured matrix. Costs ``N_CORRECTORS + 1`` machine steps per task
  (one per probe, one to restore the correctors), counted and reported.

Measuring column j: with kicks k and readings y = 100 R k (1.0 = 10 mm, R in m/rad), a
probe of ``probe`` action units on corrector j changes the kick by ``probe * 1e-4`` rad,
so ``R[:, j] = (y_after - y_before) / (100 * 1e-4 * probe)``. The probes are a staircase:
step j moves corrector j up and corrector j-1 back down (action ``probe * (e_j - e_{j-1})``,
max|a| = probe <= 1: never rescaled by the env), so after step j only corrector j is
displaced from the start; a last step moves corrector 9 back. The env is noise-free, so
the only error is the float32 rounding of the readings: at most 2**-24 / (0.01 * probe)
= 1.5e-4 m/rad per entry (entries reach 2 to 100 m/rad). With BPM noise, probes would
have to be larger or repeated, and measuring would cost more steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from awake_tutorial.controllers.given_response import FewestStepsPolicy
from awake_tutorial.envs.dynamics import KICK_PER_ACTION, N_CORRECTORS, OBS_PER_METRE
from awake_tutorial.envs.steering import AwakeSteeringEnv, check_plane, resolve_task
from awake_tutorial.physics.tasks import Task

# Probe size, action units (1 = 1e-4 rad). Responses reach ~100 m/rad in the task
# distribution (largest of 500 sampled tasks: 98.5), so a probe moves a reading by at most
# 0.01 * 0.04 * 100 = 0.04 (0.4 mm): from any start (|reading| <= 0.95) it cannot reach the
# wall (1.0), and from any start (RMS > 0.2) it cannot end the episode by success (RMS < 0.1).
PROBE = 0.04


@dataclass(frozen=True)
class Measurement:
    """A measured response matrix and what it cost.

    Attributes:
        response: (10, 10) m/rad, rows BPMs, columns correctors.
        steps: machine steps (env steps) spent measuring it.
        probe: probe size used, action units.
    """

    response: np.ndarray
    steps: int
    probe: float


def measure_response(env: AwakeSteeringEnv, probe: float = PROBE, seed: int | None = None) -> Measurement:
    """Measure the response matrix of ``env``'s task by probing each corrector once.

    Resets ``env`` (with ``seed``), then takes ``N_CORRECTORS + 1`` steps: the staircase of
    probes described in the module docstring and one step restoring the starting kicks.
    Raises ValueError for a probe outside (0, 1] (the env would rescale it) and
    RuntimeError if a probe ended the episode (wall or success; use a smaller probe).
    """
    probe = float(probe)
    if not 0.0 < probe <= 1.0:
        raise ValueError(f"probe must be in (0, 1] action units (1 = 1e-4 rad), got {probe}; a larger "
                         "action would be scaled down by the env and the measured columns would be wrong.")
    if env.max_steps < N_CORRECTORS + 1:
        raise ValueError(f"measuring takes {N_CORRECTORS + 1} steps; the env allows {env.max_steps} "
                         f"(make it with max_steps >= {N_CORRECTORS + 1}).")
    obs, _ = env.reset(seed=seed)
    start = obs.astype(np.float64)
    response = np.empty((len(start), N_CORRECTORS))
    previous = np.zeros(N_CORRECTORS)  # displacement of the correctors from the start (action units)
    for j in range(N_CORRECTORS + 1):
        target = np.zeros(N_CORRECTORS)
        if j < N_CORRECTORS:
            target[j] = probe  # the last step (j = 10) restores the start
        obs, _, terminated, truncated, info = env.step((target - previous).astype(np.float32))
        previous = target
        if j < N_CORRECTORS and (terminated or truncated):
            raise RuntimeError(
                f"probe {j} ended the episode ({'wall' if info['wall'] else 'success or time limit'}) "
                f"at step {info['step']}; use a smaller probe than {probe}."
            )
        if j < N_CORRECTORS:
            response[:, j] = (obs.astype(np.float64) - start) / (OBS_PER_METRE * KICK_PER_ACTION * probe)
    return Measurement(response, N_CORRECTORS + 1, probe)


class NominalModelPolicy(FewestStepsPolicy):
    """The fewest-steps planner built on the nominal optics' matrix, whatever the task.

    What an operator does without measuring: trust the model. ``task`` is accepted (and
    ignored) so that it works with ``per_task``; on the nominal task it *is* the
    fewest-steps planner. Costs no machine steps before acting.
    """

    machine_steps = 0

    def __init__(self, task: Task | int | None = None, plane: str = "horizontal", max_plan: int = 1000):
        super().__init__(resolve_task(None), plane, max_plan)  # evaluation task 0 = nominal optics


class MeasureThenCorrectPolicy(FewestStepsPolicy):
    """Measure the task's matrix with probes (in its own env), then plan with it.

    Args:
        task: the task to measure (a Task or an evaluation task id).
        plane: "horizontal" or "vertical".
        probe: probe size, action units (default :data:`PROBE`).
        seed: seed of the measuring episode's start (and of its BPM noise).
        max_steps: time limit of the measuring env (>= 11).
        bpm_noise: BPM noise std, mm, of the machine measured (the probes are not enlarged).
    Attributes:
        measurement: the :class:`Measurement` (matrix, steps spent, probe size).
        machine_steps: steps spent on the task before acting (= measurement.steps).
    """

    def __init__(self, task: Task | int | None, plane: str = "horizontal", probe: float = PROBE,
                 seed: int | None = 0, max_steps: int = 100, bpm_noise: float = 0.0):
        plane = check_plane(plane)
        task = resolve_task(task)
        env = AwakeSteeringEnv(task, max_steps=max_steps, plane=plane, bpm_noise=bpm_noise)
        self.measurement = measure_response(env, probe, seed)
        self.machine_steps = self.measurement.steps
        measured = Task.from_response(self.measurement.response, self.measurement.response, task_id=task.id)
        super().__init__(measured, plane)
