"""Exercise of notebook 07: the safety check a control-room client does before every setpoint.

:func:`check_safe_setpoint` checks the learner's ``safe_setpoint(kicks, action, limit)``:
the new kicks (10,) rad after an action (kicks + 1e-4 rad per action unit, the action
scaled down to max|a| <= 1 as the env does), and a ValueError, never a clipped setpoint,
when any kick would leave ``[-limit, limit]``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from awake_tutorial.envs.dynamics import KICK_PER_ACTION, next_kicks
from awake_tutorial.exercises._feedback import as_array, call, checker, close, shape_problem


def _cases(seed: int = 0):
    """(kicks, action) pairs: small actions, and large ones the env scales down."""
    rng = np.random.default_rng(seed)
    for scale in (0.3, 0.9, 3.0, 20.0):
        for _ in range(5):
            yield rng.uniform(-5e-4, 5e-4, 10), scale * rng.uniform(-1, 1, 10)


def safe_setpoint_reference(kicks: np.ndarray, action: np.ndarray, limit: float) -> np.ndarray:
    """The new kicks (10,) rad after ``action`` (as the env applies it); ValueError beyond +-limit."""
    new = next_kicks(np.asarray(kicks, dtype=np.float64)[None], np.asarray(action, dtype=np.float64)[None])[0]
    if np.any(np.abs(new) > limit):
        raise ValueError(f"setpoint beyond the limit {limit} rad (largest |kick| {np.abs(new).max():.3g} rad): refused")
    return new


def _refusal_cases(limit: float):
    """(what, kicks, action): setpoints that must be refused, each a plausible hole in a check."""
    one = np.zeros(10)
    one[4] = -limit + 0.5 * KICK_PER_ACTION
    just = np.zeros(10)
    just[7] = limit - 0.98 * KICK_PER_ACTION
    scaled = np.full(10, 1e-4 * limit)
    scaled[2] = limit - 0.5 * KICK_PER_ACTION
    big = np.zeros(10)
    big[2] = 30.0  # scaled down to 1: still half a step beyond
    return [
        ("every kick pushed beyond +limit", np.full(10, 0.95 * limit), np.ones(10)),
        ("kicks near -limit pushed further negative (the limit holds on both sides)",
         np.full(10, -0.95 * limit), -np.ones(10)),
        ("one corrector of ten beyond -limit, the nine others well inside (any, not all)",
         one, -np.eye(10)[4]),
        ("one kick beyond the limit by 2 % of a step (no tolerance: the limit is the limit)",
         just, np.eye(10)[7]),
        ("a large action, scaled down as a whole, that still crosses the limit", scaled, big),
    ]


@checker("safe setpoint (notebook 07)", fallback=safe_setpoint_reference,
         fallback_name="safe_setpoint (exercises.machine.safe_setpoint_reference)")
def check_safe_setpoint(fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> str | None:
    """``fn(kicks, action, limit) -> new kicks``: kicks (10,) rad, action (10,) in units of
    1e-4 rad (scaled down to max|a| <= 1), limit rad; ValueError if a new kick is beyond it."""
    limit = 1e-3
    for kicks, action in _cases():
        expected = next_kicks(kicks[None], action[None])[0]  # within the limit for every case
        try:
            mine = as_array(call(fn, kicks.copy(), action.copy(), limit), "your setpoint")
        except ValueError as error:
            return (f"you refused a setpoint that is within the limit ({error}): for kicks "
                    f"{kicks.round(6).tolist()} and action {action.round(3).tolist()} the new kicks are "
                    f"{expected.round(6).tolist()} rad. Is one action unit 1e-4 rad, is the action "
                    "scaled down as a whole before you compare, and is it the new kicks you compare?")
        problem = shape_problem(mine, (10,), "the setpoint")
        if problem:
            return problem
        if close(mine, expected, rtol=1e-9, atol=1e-15):
            continue
        if close(mine, kicks + KICK_PER_ACTION * action, rtol=1e-9, atol=1e-15):
            return ("an action with max|a| > 1 must be scaled down as a whole (the direction is kept), as "
                    "the env does; yours moved the correctors too far.")
        if close(mine, kicks + np.clip(action, -1, 1) * KICK_PER_ACTION, rtol=1e-9, atol=1e-15):
            return ("you clipped each action component to [-1, 1]: that changes the direction. Scale the "
                    "whole vector down instead.")
        unscaled = [kicks + action, kicks + action / max(1, np.abs(action).max())]  # units forgotten
        if any(close(mine, wrong, rtol=1e-9, atol=1e-15) for wrong in unscaled):
            return "one action unit is 1e-4 rad: convert the (scaled) action to rad before adding it."
        if close(mine, -expected + 2 * kicks, rtol=1e-9, atol=1e-15):
            return "wrong sign: the action is added to the kicks (a positive action raises them)."
        return f"for kicks {kicks.round(6).tolist()} and action {action.round(3).tolist()} the setpoint " \
               f"should be {expected.tolist()}, yours is {mine.tolist()}."
    for what, kicks, action in _refusal_cases(limit):
        try:
            mine = as_array(call(fn, kicks.copy(), action.copy(), limit), "your setpoint")
        except ValueError:
            continue
        if np.all(np.abs(mine) <= limit):
            return (f"{what}: a setpoint beyond the limit must be refused (raise ValueError), not clipped "
                    "to the limit: a clipped setpoint is not what the policy asked for, and nobody would know.")
        return f"{what}: the new kicks reach {np.abs(mine).max():.6g} rad, beyond the limit {limit} rad: " \
               "raise ValueError instead of returning them."
    return None
