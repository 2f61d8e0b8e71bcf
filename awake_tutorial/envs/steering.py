"""AwakeSteeringEnv: steer the AWAKE electron beam onto the BPM centres (gymnasium.Env).

Observation: 10 BPM readings, 1.0 = 10 mm, float32 in [-1, 1]. Action: changes of the
10 corrector kicks in units of 1e-4 rad, float32 in [-1, 1] (larger vectors are scaled
down to max|a| = 1, direction kept). Reward: -10 * RMS of the readings. The episode ends
on success (RMS < 1 mm), on the wall (a reading >= 10 mm) or after ``max_steps`` steps.
The physics lives in :mod:`awake_tutorial.envs.dynamics` (the starts in :mod:`.starts`); this
class keeps the state.

Backends (:mod:`.backends`): by default the env simulates the line in process
(``Simulation``). With ``machine=`` it steers a machine instead (``Machine``, e.g.
:class:`awake_tutorial.machine.EpicsMachine`, the simulated line served over EPICS Channel
Access): the env writes kicks and reads BPMs through it, with the same API and rules.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from awake_tutorial.config import PLANES
from awake_tutorial.envs import dynamics
from awake_tutorial.envs.backends import Machine, Simulation
from awake_tutorial.envs.starts import StartSampler
from awake_tutorial.physics.tasks import Task, get_evaluation_task

WALL_PENALTIES = ("strict", "reference")


def resolve_task(task) -> Task:
    """A :class:`Task` from a Task, an evaluation task id (int) or None (= task 0, nominal)."""
    if isinstance(task, Task):
        return task
    if task is None:
        return get_evaluation_task(0)
    if isinstance(task, (int, np.integer)) and not isinstance(task, (bool, np.bool_)):
        return get_evaluation_task(int(task))  # KeyError naming the valid ids
    raise TypeError(
        f"task must be a Task, an evaluation task id (int) or None, got "
        f"{type(task).__name__} {task!r}; make tasks with awake_tutorial.physics.tasks.sample_tasks."
    )


def check_plane(plane) -> str:
    """``plane`` if it is "horizontal" or "vertical", else a clear error."""
    if plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}; use one of {PLANES}.")
    return plane


def check_settings(max_steps, plane, wall_penalty) -> tuple[int, str, str]:
    """Validate the env options shared by the single and the vector env."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}.")
    check_plane(plane)
    if wall_penalty not in WALL_PENALTIES:
        raise ValueError(f"unknown wall_penalty {wall_penalty!r}; use one of {WALL_PENALTIES}.")
    return int(max_steps), plane, wall_penalty


def check_bpm_noise(bpm_noise) -> float:
    """``bpm_noise`` (mm, the std of Gaussian BPM noise) as a float >= 0, or a clear error."""
    try:
        value = float(bpm_noise)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(bpm_noise, bool) or not np.isfinite(value) or value < 0:
        raise ValueError(f"bpm_noise must be a number of mm >= 0 (0 = no noise), got {bpm_noise!r}.")
    return value


def reset_option(options, name: str):
    """The value of the only reset option ``name`` (None if absent); unknown keys are an error."""
    options = {} if options is None else dict(options)
    unknown = sorted(set(options) - {name})
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; the only option is {name!r}.")
    return options.get(name)


def seed_list(seed, num_envs: int) -> list[int | None]:
    """One seed per sub-env of a vector env: None, ``seed + i``, or the ``num_envs`` given."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(num_envs)]
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ValueError(f"got {len(seeds)} seeds for {num_envs} sub-envs; give one each.")
    return seeds


def reset_mask(options, num_envs: int) -> np.ndarray | None:
    """A vector env's ``options["reset_mask"]``: a copy of a bool (num_envs,) array, or None."""
    mask = reset_option(options, "reset_mask")
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ValueError(f"options['reset_mask'] must be a bool array of shape ({num_envs},).")
    if not mask.any():
        raise ValueError("options['reset_mask'] selects no sub-env; set at least one True.")
    return mask.copy()


def make_spaces() -> tuple[spaces.Box, spaces.Box]:
    """(observation space, action space) of one env: Box(-1, 1, (10,), float32) each."""
    observation_space = spaces.Box(-1.0, 1.0, (dynamics.N_BPMS,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (dynamics.N_CORRECTORS,), np.float32)
    return observation_space, action_space


class AwakeSteeringEnv(gym.Env):
    """One AWAKE steering task.

    Args:
        task: a :class:`~awake_tutorial.physics.tasks.Task`, an evaluation task id (0..4) or None
            (= evaluation task 0, the nominal optics).
        max_steps: time limit; reaching it gives ``truncated=True``.
        plane: "horizontal" or "vertical" (which response matrix is steered).
        wall_penalty: "strict" (default): hitting the wall also costs -10, the worst reward,
            for every step left, so that ending an episode at the wall never beats staying
            in bounds; "reference": no extra penalty, as in the reference course.
        bpm_noise: std of Gaussian BPM noise, mm (default 0: exact readings). Reward and
            success use the noisy readings (all a control room knows); the wall uses the
            true orbit. The noise has its own generator, a child of the reset seed.
        machine: None (simulate in process) or a machine backend (module docstring). Its
            own BPMs carry its noise; ``task`` (default: ``machine.model_task()``) is the
            model used to pick safe starting kicks, drawn from the env's seeded generator.

    ``reset(options={"kicks": k})`` starts from given kicks (10,) rad instead of random ones.
    """

    metadata = {"render_modes": []}

    def __init__(self, task=None, max_steps: int = 100, plane: str = "horizontal",
                 wall_penalty: str = "strict", bpm_noise: float = 0.0, machine=None):
        self.max_steps, self.plane, self.wall_penalty = check_settings(
            max_steps, plane, wall_penalty
        )
        self.bpm_noise = check_bpm_noise(bpm_noise)
        self.machine = machine
        if machine is None:
            self.backend = Simulation(self.bpm_noise)
        else:
            if self.bpm_noise:
                raise ValueError("bpm_noise is for the in-process simulation; a machine's BPMs "
                                 "have their own noise (serve-machine --bpm-noise).")
            self.backend = Machine(machine)
            if self.backend.plane not in (None, plane):
                raise ValueError(f"the machine steers the {machine.plane} plane but plane={plane!r}; "
                                 "pass the same plane to both.")
            task = self.backend.model_task() if task is None else task
        self.observation_space, self.action_space = make_spaces()
        self._kicks = np.zeros((1, dynamics.N_CORRECTORS))  # a batch of one, rad
        self._steps = np.zeros(1, dtype=np.int64)
        self._needs_reset = True
        self._starts = StartSampler(1)  # candidate starts drawn from np_random
        self._starts_rng = None  # the generator they came from
        self.set_task(task)

    # --- task (meta-RL swaps it between episodes) ----------------------------------

    @property
    def task(self) -> Task:
        """The current task."""
        return self._task

    def set_task(self, task) -> None:
        """Switch to another task; the next call must be :meth:`reset`."""
        task = resolve_task(task)  # raises before anything changes
        self._task = task
        self._R = task.response(self.plane)[None]  # (1, 10, 10) m/rad
        self._starts.forget(0)
        self._needs_reset = True

    @property
    def kicks(self) -> np.ndarray:
        """Current corrector kicks, rad, shape (10,), a float64 copy."""
        return self._kicks[0].copy()

    # --- gymnasium API ---------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode from random (or given) kicks. Returns (obs (10,), info)."""
        kicks = self._kicks_from_options(options)
        super().reset(seed=seed)
        if kicks is None:
            if self._starts_rng is not self.np_random:  # new seed: old candidates are void
                self._starts.forget(0)
                self._starts_rng = self.np_random
            kicks = self._starts.sample([0], [self.np_random], self._R)
        self._kicks = kicks
        self._steps = np.zeros(1, dtype=np.int64)
        readings, wall = self.backend.measure(kicks, self._R, self.np_random)
        self._needs_reset = bool(wall[0])  # on a machine, a start the model thought safe may lose the beam
        obs = np.clip(readings, -dynamics.WALL, dynamics.WALL).astype(np.float32)
        return obs[0], self._info(dynamics.rms(readings)[0], success=False, wall=bool(wall[0]))

    def step(self, action):
        """Apply one action (10,). Returns (obs, reward, terminated, truncated, info)."""
        if self._needs_reset:
            raise RuntimeError(
                "call reset() before step(): the episode has ended, the task was changed "
                "or the env was never reset."
            )
        actions = dynamics.check_actions(action, ())[None]  # raises before any change
        strict = self.wall_penalty == "strict"
        kicks = dynamics.next_kicks(self._kicks, actions)
        readings, wall = self.backend.measure(kicks, self._R, self.np_random)
        t = dynamics.outcome(kicks, readings, wall, self._steps, self.max_steps, strict)
        self._kicks, self._steps = t.kicks, t.steps
        terminated, truncated = bool(t.terminated[0]), bool(t.truncated[0])
        self._needs_reset = terminated or truncated
        info = self._info(t.rms[0], success=bool(t.success[0]), wall=bool(t.wall[0]))
        return t.obs[0], float(t.reward[0]), terminated, truncated, info

    # --- helpers -----------------------------------------------------------------------

    def _info(self, rms, success: bool, wall: bool) -> dict[str, Any]:
        # plain Python types, so gymnasium's vector envs stack them into typed arrays
        return {"task_id": self._task.id, "step": int(self._steps[0]), "rms": float(rms),
                "success": success, "wall": wall}

    def _kicks_from_options(self, options) -> np.ndarray | None:
        """Validated ``options["kicks"]`` as (1, 10) rad, or None for a random start."""
        kicks = reset_option(options, "kicks")
        if kicks is None:
            return None
        kicks = np.asarray(kicks, dtype=np.float64)
        if kicks.shape != (dynamics.N_CORRECTORS,) or not np.all(np.isfinite(kicks)):
            raise ValueError(f"options['kicks'] must be 10 finite kicks in rad, got {kicks!r}.")
        kicks = kicks[None].copy()
        if np.any(np.abs(dynamics.observe(self._R, kicks)) >= dynamics.WALL):
            raise ValueError(
                "options['kicks'] puts the beam on the wall (a reading >= 10 mm); "
                "start from smaller kicks."
            )
        return kicks
