"""The capstone of notebook 08: a controller of your own for a machine you have not seen.

The machine is the out-of-distribution set (:func:`awake_tutorial.runs.compare.ood_tasks`):
knob scales beyond the training range, a dead BPM, a miscalibrated corrector, BPM noise.
Your ``factory(task, plane)`` is handed the task **blind**: its id, with the nominal
optics' matrix in place of its own (:func:`blind`), as a control room knows it; what the
machine really does, your controller finds out by acting (and by the machine steps it
declares it spends before acting, within the budget).

:func:`check_capstone` is the graded part: notebook 06's protocol check
(:func:`~awake_tutorial.exercises.check_method`, the controller handed its tasks blind too), then the course's score on the set (mean
steps to 1 mm with a failure counted as 100, every seed), with a floor: at least
``MIN_SUCCESS`` of the episodes succeed, the steps beat the inverse response on the nominal
matrix (the operator's first choice, same episodes), and the declared machine steps fit
the budget. Its fallback, what a learner notebook runs on while the exercise is undone
or wrong, is the Broyden controller from the nominal matrix (0 machine steps).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from awake_tutorial.controllers import BroydenPolicy
from awake_tutorial.envs import per_task
from awake_tutorial.exercises._feedback import call, checker
from awake_tutorial.exercises.steering import check_method
from awake_tutorial.physics.tasks import Task, get_evaluation_task
from awake_tutorial.runs import compare, methods

MIN_SUCCESS = 0.95  # the floor: share of episodes that reach 1 mm
BUDGET = 200  # machine steps a method may spend per task before acting
BASELINE = methods.INVERSE_NOMINAL  # the floor on steps: the operator's first choice, 0 machine steps


def blind(task: Task) -> Task:
    """``task`` as a control room knows it: the same id, the nominal optics' matrices."""
    nominal = get_evaluation_task(0)
    return Task(task.id, nominal.response_h, nominal.response_v)


def score_mine(factory: Callable, tasks: Sequence[Task], bpm_noise: float, config, episodes: int,
               seeds: Sequence[int], machine_steps: int = 0, name: str = "mine") -> list[dict]:
    """Rows of :func:`~awake_tutorial.runs.compare.compare_methods`'s format for ``factory``,
    handed each task blind, on ``tasks`` under ``bpm_noise`` (mm), one block per seed."""
    built = methods.Built(per_task(lambda task, plane: factory(blind(task), plane)), None,
                          {task.id: int(machine_steps) for task in tasks})
    settings = dict(episodes=episodes, max_steps=config.max_steps, plane=config.plane,
                    wall_penalty=config.wall_penalty, bpm_noise=bpm_noise)
    return [row for seed in seeds
            for row in compare.score_built(name, built, tasks, "out-of-distribution", seed, settings)]


@checker("your controller on the unseen machine (notebook 08)", fallback=BroydenPolicy,
         fallback_name="Broyden controller from the nominal matrix (controllers.BroydenPolicy, 0 machine steps)")
def check_capstone(factory: Callable, tasks: Sequence[Task], bpm_noise: float, config, episodes: int = 4,
                   seeds: Sequence[int] = (0, 1000), machine_steps: int = 0) -> str | None:
    """``factory(task, plane)`` -> a policy; graded on ``tasks`` (see the module docstring)."""
    call(factory, blind(tasks[0]), config.plane)  # an unfilled stub: NOT DONE YET, with its hint
    if not check_method(lambda task, plane: factory(blind(task), plane)):
        return "it must first pass notebook 06's check of a method (above)."
    if not 0 <= int(machine_steps) <= BUDGET:
        return f"you declared {machine_steps} machine steps per task; the budget is 0 to {BUDGET}."
    rows = call(score_mine, factory, tasks, bpm_noise, config, episodes, seeds, machine_steps)
    (mine,) = compare.summarize(rows)
    floor = compare.compare_methods(tasks, [BASELINE], episodes=episodes, seed=list(seeds), config=config,
                                    task_set="out-of-distribution", bpm_noise=bpm_noise)
    (baseline,) = compare.summarize(floor)
    steps, base = mine[compare.STEPS], baseline[compare.STEPS]
    print(f"      yours: {steps:.2f} steps (failures = {config.max_steps}), success {mine['success_rate']:.1%}, "
          f"{machine_steps} machine steps; {BASELINE}: {base:.2f} steps, success {baseline['success_rate']:.1%}")
    if mine["success_rate"] < MIN_SUCCESS:
        worst = int(np.argmin([np.mean([r["success_rate"] for r in rows if r["task_id"] == t.id]) for t in tasks]))
        return (f"success {mine['success_rate']:.1%} is below the floor {MIN_SUCCESS:.0%} (worst: task "
                f"{tasks[worst].id}); with a dead BPM and noise, a smaller step or a damped update helps.")
    if steps >= base:
        return (f"{steps:.2f} steps does not beat the inverse on the nominal matrix ({base:.2f}), which an "
                "operator runs for free: learn from your own steps (e.g. a secant update).")
    return None
