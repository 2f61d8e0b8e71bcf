"""Exercise of notebook 09: the inputs of the recurrent (RL²) policy.

At step t the policy sees x_t = [s_t, s_t - s_{t-1}, a_{t-1}]: the reading, the change of
readings its last action caused, and that action as the machine applied it (scaled down
as a whole to max|a| <= 1); at t = 0 the change and the previous action are 0.

:func:`check_rl2_features` names the usual slips: time-major instead of episode-major, the
change with the wrong sign or wrapped around at t = 0, the action the policy is about to
choose instead of the previous one, the action as the policy returned it or clipped per
component instead of as the machine applied it. Its fallback, what a learner notebook
runs on while the exercise is undone or wrong, is :func:`rl2_inputs` (the package's
:func:`awake_tutorial.rl.recurrent.features`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from awake_tutorial.exercises._feedback import as_array, call, checker, close
from awake_tutorial.rl.recurrent import applied, features

T, N = 5, 3  # steps and episodes of the checker's rollout


def rl2_inputs(observations, actions) -> np.ndarray:
    """The package's answer with the learner's signature: observations and actions (T, n, 10)
    -> x (n, T, 30) float32 (:func:`awake_tutorial.rl.recurrent.features`)."""
    return features(observations, actions).numpy()


def episode_major(x: np.ndarray) -> np.ndarray:
    """(T, n, k) -> (n, T, k)."""
    return np.asarray(x).transpose(1, 0, 2)


@checker("the RL² inputs x_t (notebook 09)", fallback=rl2_inputs,
         fallback_name="RL² inputs (awake_tutorial.rl.recurrent.features)")
def check_rl2_features(fn: Callable, seed: int = 0) -> str | None:
    """``fn(observations (T, n, 10), actions (T, n, 10)) -> (n, T, 30)``, compared with
    :func:`awake_tutorial.rl.recurrent.features` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-0.5, 0.5, size=(T, N, 10)).astype(np.float32)
    actions = rng.normal(scale=1.5, size=(T, N, 10))  # every row has max|a| > 1: it is scaled down
    expected = features(obs, actions).numpy().astype(np.float64)
    mine = as_array(call(fn, obs.copy(), actions.copy()))
    if mine.shape == (T, N, 30):
        return "time-major: the GRU reads episode-major inputs, shape (n, T, 30), episodes first."
    if mine.shape != expected.shape:
        return f"expected shape {expected.shape} (n, T, 30): 10 readings, 10 changes, 10 actions; got {mine.shape}."
    if not np.all(np.isfinite(mine)):
        return "your inputs contain NaN or inf."
    reading, change, previous = (mine[..., k:k + 10] for k in (0, 10, 20))
    e_reading, e_change, e_previous = (expected[..., k:k + 10] for k in (0, 10, 20))
    atol = 1e-5
    if not close(reading, e_reading, atol=atol):
        return "the first 10 inputs are the readings s_t themselves (order: reading, change, previous action)."
    if close(change, -e_change, atol=atol) and not close(change, e_change, atol=atol):
        return "wrong sign: inputs 10-19 are s_t - s_{t-1}, the change the last action caused."
    if close(change[:, 1:], e_change[:, 1:], atol=atol) and not close(change[:, 0], 0 * change[:, 0], atol=atol):
        return ("at t = 0 there is no previous reading, so the change is 0 there; yours is not "
                "(a shift that wraps around takes the episode's last reading as the previous one).")
    if not close(change, e_change, atol=atol):
        return "inputs 10-19: the change s_t - s_{t-1}, 0 at t = 0 (no previous reading)."
    if close(previous, episode_major(applied(actions)), atol=atol):
        return ("inputs 20-29 hold a_t, the action about to be chosen from s_t: the policy cannot see it. "
                "They are the previous action a_{t-1}.")
    if close(previous[:, 1:], episode_major(actions[:-1]), atol=atol):
        return ("inputs 20-29: the previous action as the machine applied it, scaled down as a whole to "
                "max|a| <= 1 (notebook 1), not as the policy returned it.")
    if close(previous[:, 1:], episode_major(np.clip(actions[:-1], -1, 1)), atol=atol):
        return ("inputs 20-29: you clipped each component; the machine scales the action down as a whole, "
                "keeping its direction (notebook 1).")
    wrapped = not close(previous[:, 0], 0 * previous[:, 0], atol=atol)
    if close(previous[:, 1:], e_previous[:, 1:], atol=atol) and wrapped:
        return ("at t = 0 there is no previous action, so inputs 20-29 are 0 there "
                "(a shift that wraps around takes the episode's last action).")
    if not close(previous, e_previous, atol=atol):
        return "inputs 20-29: the previous applied action a_{t-1}, 0 at t = 0."
    return None
