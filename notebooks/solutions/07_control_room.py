# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Solutions to notebook 7: steering a machine through its control system
#
# Open this after trying the exercise of `../07_control_room.ipynb`. The checker below
# the solution prints `PASS` (CI runs this notebook).

# %%
import numpy as np

from awake_tutorial import exercises
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: the setpoint check
#
# The new kicks are the environment's update: the action scaled down as a whole to
# $\max|a| \le 1$ (its direction kept), converted to rad ($10^{-4}$ rad per unit) and added.
# It is the **new** kicks that are compared with the limit, on **both** sides
# ($|u_i| \le u_{\max}$), for **every** corrector (one beyond is enough to refuse), with no
# tolerance. A setpoint beyond is refused with an error, never clipped.

# %% tags=["solution"]
def safe_setpoint(kicks, action, limit):
    """The new kicks (10,) rad after `action`; ValueError if any is beyond +-limit."""
    action = np.asarray(action, dtype=np.float64)
    new = np.asarray(kicks, dtype=np.float64) + 1e-4 * action / max(1.0, np.abs(action).max())
    if np.any(np.abs(new) > limit):
        raise ValueError(f"setpoint beyond the limit {limit} rad: refused")
    return new


# %%
assert exercises.check_safe_setpoint(safe_setpoint)
