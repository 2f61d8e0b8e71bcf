"""Exercises on steering with a known response matrix, and on reading scores.

* notebook 01: :func:`check_inverse_policy`, the inverse-response action;
* notebook 02: :func:`check_length_ratio`, reading a PPO evaluation honestly;
* notebook 06: :func:`check_method` and :func:`score_method`, a method of your design.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from awake_tutorial.controllers import InverseResponsePolicy

from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.envs.dynamics import KICK_PER_ACTION, OBS_PER_METRE, rescale
from awake_tutorial.exercises._feedback import as_array, call, checker, close, shape_problem
from awake_tutorial.physics.tasks import load_evaluation_tasks
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


@checker("inverse-response action (notebook 01)")
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
        return ("your matrix looks transposed: readings = R @ kicks (rows = BPMs, columns = "
                "correctors), so solve R dk = -x, not R^T dk = -x.")
    if max(np.abs(a).max() for a in mine) > 1 + 1e-6:
        return ("some actions have max|a| > 1: scale the whole vector down by its max|a| "
                "(direction kept), as the environment does.")
    small = [i for i, r in enumerate(reference) if np.abs(r).max() < 0.99]  # no rescaling involved
    if all(close(mine[i], reference[i], rtol=1e-4, atol=1e-6) for i in small):
        return ("right for small corrections, wrong for large ones: when max|a| > 1 divide the "
                "whole action by max|a| (np.clip changes its direction).")
    cosines = [a @ r / (np.linalg.norm(a) * np.linalg.norm(r) + 1e-30) for a, r in zip(mine, reference)]
    if min(cosines) > 0.9999:
        ratio = np.median([np.linalg.norm(mine[i]) / np.linalg.norm(reference[i]) for i in small])
        return (f"right direction, wrong size (yours / reference = {ratio:.3g} on small corrections): "
                "check the units: readings / 100 are metres, and the action is the kick change "
                "divided by 1e-4 rad.")
    return "your action differs from the inverse-response action; compare with -R^-1 (obs / 100) / 1e-4."


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


@checker("reading a PPO result (notebook 02)")
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
                    "row['task_id'], not by position (rows of the two methods need not be in the same order).")
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


@checker("your method's policy (notebook 06)")
def check_method(factory: Callable) -> str | None:
    """``factory(task, plane)`` returns a policy (a function obs -> actions or an object with
    ``.act``) that maps a batch of readings (n, 10) to actions (n, 10); it then runs in
    :func:`awake_tutorial.envs.evaluate`."""
    task = load_evaluation_tasks()[1]
    policy = call(factory, task, PLANE)
    act = getattr(policy, "act", policy)
    if not callable(act):
        return f"factory(task, plane) must return a function or an object with .act, got {type(policy).__name__}."
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 10)).astype(np.float32)
    actions = as_array(call(act, obs.copy()), "your actions")
    problem = shape_problem(actions, (4, 10), "actions for 4 observations")
    if problem:
        return problem + " The policy gets a batch of readings (n, 10) and returns one action per row."
    score = evaluate(per_task(factory), [task], episodes=4, seed=0)[0]
    print(f"      (on task 1, 4 episodes: {score['mean_length']:.1f} steps, success {score['success_rate']:.0%})")
    return None


def score_method(factory: Callable, task_sets: dict, episodes: int, seeds: Sequence[int] = (0,),
                 name: str = "mine", machine_steps: int = 0, max_steps: int = 100) -> list[dict]:
    """Rows in the format of :func:`awake_tutorial.runs.compare.compare_methods` for your method on
    every task set ({name: tasks}) and seed, to append to its rows before ``summarize``.

    ``machine_steps``: the steps your method spends on a task before it acts (e.g. probes);
    scored with the course's convention (failed episodes count as ``max_steps``).
    """
    rows = []
    for task_set, tasks in task_sets.items():
        for seed in seeds:
            results = evaluate(per_task(factory), tasks, episodes=episodes, seed=seed, max_steps=max_steps)
            for result, score in zip(results, task_scores(results, max_steps)):
                rows.append({"method": name, "task_set": task_set, "task_id": result["task_id"], "seed": seed,
                             "machine_steps": machine_steps, **score, f"sampled_{STEPS}": None,
                             "sampled_success_rate": None,
                             **{k: result[k] for k in ("mean_length", "std_length", "mean_return", "lengths")}})
    return rows
