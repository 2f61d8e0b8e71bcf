"""Exercises on steering with a known response matrix, and on reading scores.

* notebook 01: :func:`check_inverse_policy`, the inverse-response action;
* notebook 02: :func:`check_length_ratio`, reading a PPO evaluation honestly;
* notebook 06: :func:`check_method` and :func:`score_method`, a method of your design. It
  gets a :class:`SealedTask`: the task's id, but not its response matrix nor its quadrupole
  settings (reading them raises, saying why), and must beat a floor: success in at least
  95 % of the episodes, and fewer steps than the nominal-model controller on the same ones.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from awake_tutorial.controllers import InverseResponsePolicy, NominalModelPolicy

from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE, rescale
from awake_tutorial.exercises._feedback import as_array, call, checker, close, shape_problem
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks
from awake_tutorial.runs.compare import STEPS, task_scores

PLANE = "horizontal"


def _cases(seed: int = 0):
    """(R, obs, reference action) for the 5 evaluation tasks: small and large readings."""
    rng = np.random.default_rng(seed)
    for task in load_evaluation_tasks():
        R = task.response(PLANE)
        reference = InverseResponsePolicy(task, PLANE)
        for scale in (0.002, 0.02, 0.5, 0.9):  # small ones need no rescaling, large ones do
            obs = (scale * rng.uniform(-1, 1, 10)).astype(np.float64)
            yield R, obs, reference.act(obs).astype(np.float64)


def _action_for(matrix: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """rescale(-matrix^-1 obs / (100 * 1e-4)): the reference formula with another matrix."""
    return rescale(-np.linalg.pinv(matrix) @ obs / (OBS_PER_METRE * KICK_PER_ACTION))


def inverse_response_action_reference(R: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """The inverse-response action (10,) for readings obs (10,) and response matrix R (10, 10)."""
    return _action_for(np.asarray(R, dtype=np.float64), np.asarray(obs, dtype=np.float64))


@checker("inverse-response action (notebook 01)", fallback=inverse_response_action_reference,
         fallback_name="inverse-response action (as controllers.InverseResponsePolicy)")
def check_inverse_policy(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> str | None:
    """``fn(R, obs) -> action``: R (10, 10) m/rad, obs (10,) normalised readings (1 = 10 mm),
    action (10,) in units of 0.1 mrad with max|a| <= 1, as :class:`InverseResponsePolicy`."""
    cases = list(_cases())
    mine = []
    for R, obs, _ in cases:
        action = as_array(call(fn, R.copy(), obs.copy()), "your action")
        problem = shape_problem(action, (10,), "the action")
        if problem:
            return problem
        mine.append(action)
    reference = [case[2] for case in cases]
    if all(close(a, r, rtol=1e-4, atol=1e-6) for a, r in zip(mine, reference)):
        return None
    if all(close(a, -r, rtol=1e-4, atol=1e-6) for a, r in zip(mine, reference)):
        return ("your action has the wrong sign: it pushes the beam further away. The kick change "
                "that cancels the readings x is -R^-1 x.")
    if all(close(a, _action_for(R.T, obs), rtol=1e-4, atol=1e-6) for a, (R, obs, _) in zip(mine, cases)):
        return ("your matrix looks transposed: readings = R kicks, rows = BPMs, columns = correctors; "
                "which of the two does your solve treat as the BPMs?")
    if max(np.abs(a).max() for a in mine) > 1 + 1e-6:
        return ("some actions have max|a| > 1: scale the whole vector down (direction kept), as the "
                "environment does.")
    small = [i for i, r in enumerate(reference) if np.abs(r).max() < 0.99]  # no rescaling involved
    if all(close(mine[i], reference[i], rtol=1e-4, atol=1e-6) for i in small):
        return ("right for small corrections, wrong for large ones: when max|a| > 1 scale the whole "
                "action down; clipping each component (np.clip) changes its direction.")
    cosines = [a @ r / (np.linalg.norm(a) * np.linalg.norm(r) + 1e-30) for a, r in zip(mine, reference)]
    if min(cosines) > 0.9999:
        ratio = np.median([np.linalg.norm(mine[i]) / np.linalg.norm(reference[i]) for i in small])
        return (f"right direction, wrong size (yours / reference = {ratio:.3g} on small corrections): "
                "check the units: readings / 100 are metres, and the action is the kick change "
                "divided by 1e-4 rad.")
    return ("your action differs from the inverse-response action: which kick change cancels the readings "
            "(in metres), and how many action units is it?")


def length_ratio_reference(ppo_rows: Sequence[dict], inverse_rows: Sequence[dict]) -> dict:
    """task_id -> PPO mean length / inverse mean length, or None where PPO fails episodes."""
    inverse = {row["task_id"]: row for row in inverse_rows}
    return {row["task_id"]: (row["mean_length"] / inverse[row["task_id"]]["mean_length"]
                             if row["success_rate"] == 1.0 else None) for row in ppo_rows}


def _synthetic_rows():
    """Rows like evaluate's, with task ids that are not 0..n-1 and one partly failed task."""
    ppo = [{"task_id": 7, "mean_length": 3.0, "std_length": 1.0, "success_rate": 1.0},
           {"task_id": 3, "mean_length": 40.0, "std_length": 20.0, "success_rate": 0.6},
           {"task_id": 11, "mean_length": 6.0, "std_length": 2.0, "success_rate": 1.0}]
    inverse = [{"task_id": 11, "mean_length": 4.0, "std_length": 1.0, "success_rate": 1.0},
               {"task_id": 7, "mean_length": 4.0, "std_length": 1.5, "success_rate": 1.0},
               {"task_id": 3, "mean_length": 5.0, "std_length": 1.0, "success_rate": 1.0}]
    return ppo, inverse


@checker("reading a PPO result (notebook 02)", fallback=length_ratio_reference,
         fallback_name="length_ratio (exercises.steering.length_ratio_reference)")
def check_length_ratio(fn: Callable, ppo_rows: Sequence[dict] | None = None,
                       inverse_rows: Sequence[dict] | None = None) -> str | None:
    """``fn(ppo_rows, inverse_rows) -> {task_id: ratio or None}`` (see
    :func:`length_ratio_reference`), tried on made-up rows and on the rows given."""
    trials = [_synthetic_rows()] + ([(ppo_rows, inverse_rows)] if ppo_rows is not None else [])
    for ppo, inverse in trials:
        mine = call(fn, [dict(r) for r in ppo], [dict(r) for r in inverse])
        expected = length_ratio_reference(ppo, inverse)
        if not isinstance(mine, dict):
            return f"return a dict task_id -> ratio, not {type(mine).__name__}."
        if set(mine) != set(expected):
            return (f"your keys are {sorted(mine)}, expected the task ids {sorted(expected)}: key by "
                    "task id, not by position (rows of the two methods need not be in the same order).")
        for task_id, ratio in expected.items():
            got = mine[task_id]
            if ratio is None and got is not None:
                return (f"task {task_id}: PPO's success rate is below 100 %, so its mean length averages "
                        "in failed episodes (time limit or wall) and compares nothing: return None.")
            if ratio is not None and got is None:
                return f"task {task_id}: PPO solves every episode, so the ratio is defined."
            if ratio is not None and not np.isclose(got, ratio):
                if np.isclose(got, 1 / ratio):
                    return "your ratio is upside down: PPO's mean length divided by the inverse-response one."
                return f"task {task_id}: ratio {got!r}, expected {ratio:.4g} (mean_length, not std_length)."
    return None


class SealedTask(Task):
    """A task as notebook 06's open method may see it: its id and nothing it must not know.

    ``response``, ``response_h``, ``response_v`` and ``quad_scales`` raise PermissionError
    saying why: the exercise asks for a method that does *not* know the task's optics. It
    is a :class:`Task`, so handing it to a controller that reads the matrix fails the same way.
    """

    _FORBIDDEN = frozenset({"response", "response_h", "response_v", "quad_scales"})

    def __init__(self, task: Task):  # no dataclass __init__: the matrices are never stored
        object.__setattr__(self, "id", task.id)

    def __getattribute__(self, name):
        if name in SealedTask._FORBIDDEN:
            raise PermissionError(
                f"task.{name} is sealed in this exercise: your method must steer without the task's own "
                "optics (that would be the `inverse` benchmark). Allowed: the nominal optics (task 0), "
                "the readings, and what you learn from them.")
        return object.__getattribute__(self, name)

    def __eq__(self, other) -> bool:
        return isinstance(other, SealedTask) and other.id == self.id

    def __repr__(self) -> str:
        return f"SealedTask(id={self.id})"


def sealed(factory: Callable) -> Callable:
    """``factory(task, plane)`` given a :class:`SealedTask` instead of the task."""
    return lambda task, plane: factory(SealedTask(task), plane)


FLOOR_TASKS, FLOOR_EPISODES, FLOOR_SUCCESS = (1, 2, 3, 4), 8, 0.95


def _floor_scores(factory: Callable) -> tuple[float, float]:
    """(steps with failures as 100, success rate) on evaluation tasks 1-4, same episodes for all."""
    tasks = [load_evaluation_tasks()[i] for i in FLOOR_TASKS]
    results = evaluate(per_task(factory), tasks, episodes=FLOOR_EPISODES, seed=0, plane=PLANE)
    steps = float(np.mean([score[STEPS] for score in task_scores(results, 100)]))
    return steps, float(np.mean([r["success_rate"] for r in results]))


@functools.lru_cache(maxsize=1)
def _nominal_floor() -> tuple[float, float]:
    return _floor_scores(nominal_method)  # deterministic: computed once per process


def nominal_method(task, plane: str = PLANE):
    """The nominal-model controller of the comparison (``nominal``): the floor to beat."""
    return NominalModelPolicy(None, plane)


@checker("your method's policy (notebook 06)", fallback=nominal_method,
         fallback_name="nominal-model controller (controllers.NominalModelPolicy)")
def check_method(factory: Callable) -> str | None:
    """``factory(task, plane)`` returns a policy (a function obs -> actions or an object with
    ``.act``) that maps a batch of readings (n, 10) to actions (n, 10); the task it gets is a
    :class:`SealedTask`. It must beat the floor on evaluation tasks 1-4 (8 episodes each):
    success >= 95 % and fewer steps (failures count 100) than :func:`nominal_method`."""
    task = load_evaluation_tasks()[1]
    try:
        policy = call(factory, SealedTask(task), PLANE)
        act = getattr(policy, "act", policy)
        if not callable(act):
            return (f"factory(task, plane) must return a function or an object with .act, got "
                    f"{type(policy).__name__}.")
        obs = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 10)).astype(np.float32)
        actions = as_array(call(act, obs.copy()), "your actions")
        problem = shape_problem(actions, (4, 10), "actions for 4 observations")
        if problem:
            return problem + " The policy gets a batch of readings (n, 10) and returns one action per row."
        steps, success = _floor_scores(sealed(factory))
    except PermissionError as error:
        return f"your method read forbidden information: {error}"
    floor_steps, floor_success = _nominal_floor()
    print(f"      (tasks {FLOOR_TASKS}, {FLOOR_EPISODES} episodes each: yours {steps:.1f} steps, success "
          f"{success:.0%}; nominal model {floor_steps:.1f} steps, success {floor_success:.0%})")
    if success == 0:
        return ("your policy never steers the beam below 1 mm: does it move the correctors at all, and "
                "towards zero?")
    if success < FLOOR_SUCCESS:
        return (f"success {success:.0%}, the floor is {FLOOR_SUCCESS:.0%}: a method that fails episodes "
                "(the wall, or the time limit of a too timid correction) is not usable.")
    if steps >= floor_steps:
        return (f"{steps:.1f} steps per episode, not fewer than the nominal-model controller's "
                f"{floor_steps:.1f}, which costs nothing to build.")
    return None


def score_method(factory: Callable, task_sets: dict, episodes: int, seeds: Sequence[int] = (0,),
                 name: str = "mine", machine_steps: int = 0, max_steps: int = 100) -> list[dict]:
    """Rows in the format of :func:`awake_tutorial.runs.compare.compare_methods` for your method on
    every task set ({name: tasks}) and seed, to append to its rows before ``summarize``.

    ``machine_steps``: the steps your method spends on a task before it acts (e.g. probes);
    scored with the course's convention (failed episodes count as ``max_steps``). The factory
    gets :class:`SealedTask` objects, as in :func:`check_method`.
    """
    rows = []
    for task_set, tasks in task_sets.items():
        for seed in seeds:
            results = evaluate(per_task(sealed(factory)), tasks, episodes=episodes, seed=seed,
                               max_steps=max_steps)
            for result, score in zip(results, task_scores(results, max_steps)):
                rows.append({"method": name, "task_set": task_set, "task_id": result["task_id"], "seed": seed,
                             "machine_steps": machine_steps, **score, f"sampled_{STEPS}": None,
                             "sampled_success_rate": None,
                             **{k: result[k] for k in ("mean_length", "std_length", "mean_return", "lengths")}})
    return rows
