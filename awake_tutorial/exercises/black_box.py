"""Exercise of notebook 09: the inputs of the recurrent (RL²) policy.

At step t the policy sees x_t = [s_t, s_t - s_{t-1}, a_{t-1}]: the reading, the change of
readings its last action caused, and that action as the machine applied it (rescaled to
max|a| <= 1); at t = 0 the change and the previous action are 0.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from awake_tutorial.exercises._feedback import as_array, call, checker
from awake_tutorial.rl.recurrent import features


@checker("the RL² inputs x_t (notebook 09)")
def check_rl2_features(fn: Callable, seed: int = 0) -> str | None:
    """``fn(observations (T, n, 10), actions (T, n, 10)) -> (n, T, 30)``, compared with
    :func:`awake_tutorial.rl.recurrent.features`."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-0.5, 0.5, size=(4, 3, 10)).astype(np.float32)
    actions = rng.normal(scale=1.5, size=(4, 3, 10))  # some need rescaling
    expected = features(obs, actions).numpy()
    mine = as_array(call(fn, obs, actions))
    if mine.shape == (4, 3, 30):
        return "episode-major please: shape (n, T, 30), e.g. x.transpose(1, 0, 2)."
    if mine.shape != expected.shape:
        return f"expected shape {expected.shape} (n, T, 30), got {mine.shape}."
    if not np.allclose(mine[:, :, :10], expected[:, :, :10], atol=1e-6):
        return "the first 10 inputs are the readings s_t themselves."
    if not np.allclose(mine[:, :, 10:20], expected[:, :, 10:20], atol=1e-6):
        return "inputs 10-19: s_t - s_{t-1}, and 0 at t = 0 (no previous reading)."
    if np.allclose(mine[:, 1:, 20:], np.asarray(actions[:-1]).transpose(1, 0, 2), atol=1e-6):
        return ("inputs 20-29: the previous action as the machine applied it: "
                "awake_tutorial.envs.dynamics.rescale(a) (max|a| <= 1).")
    if not np.allclose(mine[:, :, 20:], expected[:, :, 20:], atol=1e-6):
        return "inputs 20-29: the previous applied action a_{t-1}, 0 at t = 0."
    return None
