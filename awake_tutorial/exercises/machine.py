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


@checker("safe setpoint (notebook 07)")
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
                    f"{expected.round(6).tolist()} rad. Is one action unit 1e-4 rad, and is the action "
                    "scaled down as a whole?")
        problem = shape_problem(mine, (10,), "the setpoint")
        if problem:
            return problem
        if close(mine, expected, rtol=1e-9, atol=1e-15):
            continue
        if close(mine, kicks + KICK_PER_ACTION * action, rtol=1e-9, atol=1e-15):
            return ("an action with max|a| > 1 must be scaled down as a whole (divide by max|a|, the "
                    "direction is kept), as the env does; yours moved the correctors too far.")
        if close(mine, kicks + np.clip(action, -1, 1) * KICK_PER_ACTION, rtol=1e-9, atol=1e-15):
            return ("you clipped each action component to [-1, 1]: that changes the direction. Divide "
                    "the whole vector by max|a| instead.")
        unscaled = [kicks + action, kicks + action / max(1, np.abs(action).max())]  # units forgotten
        if any(close(mine, wrong, rtol=1e-9, atol=1e-15) for wrong in unscaled):
            return "one action unit is 1e-4 rad: multiply the (scaled) action by 1e-4 before adding it."
        return f"for kicks {kicks.round(6).tolist()} and action {action.round(3).tolist()} the setpoint " \
               f"should be {expected.tolist()}, yours is {mine.tolist()}."
    kicks = np.full(10, 9.5e-4)
    try:
        mine = as_array(call(fn, kicks.copy(), np.ones(10), limit), "your setpoint")
    except ValueError:
        return None
    if np.all(np.abs(mine) <= limit):
        return ("a setpoint beyond the limit must be refused (raise ValueError), not clipped to the "
                "limit: a clipped setpoint is not what the policy asked for, and nobody would know.")
    return "kicks of 1.05e-3 rad are beyond the limit 1e-3 rad: raise ValueError instead of returning them."
