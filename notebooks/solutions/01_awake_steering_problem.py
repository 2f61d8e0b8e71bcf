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
# # Solutions to notebook 1: the AWAKE steering problem
#
# Open this after trying the exercises of `../01_awake_steering_problem.ipynb`. Each
# solution is followed by its checker, which prints `PASS` (CI runs this notebook, so
# every solution here is checked).

# %%
import numpy as np

from awake_tutorial import exercises
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: the inverse-response action
#
# The readings are $s = 100\,\mathrm{m^{-1}}\cdot y$ with $y = R\,u$ (m). The kick change that
# cancels them solves $R\,\Delta u = -s/100$ (rows of $R$ = BPMs, columns = correctors; a
# solve, not an explicit inverse). In action units $a = \Delta u / 10^{-4}$ rad; a too
# large action is divided by $\max_i|a_i|$ as a whole, so that its direction is kept
# (clipping each entry would turn it).

# %% tags=["solution"]
def inverse_response_action(R, obs):
    """The inverse-response action (10,) for readings obs (10,) and response matrix R (10, 10)."""
    kick_change = np.linalg.solve(R, -np.asarray(obs) / 100)  # rad
    action = kick_change / 1e-4  # 1 = 0.1 mrad
    return action / max(1.0, np.abs(action).max())  # scale as a whole: the direction is kept


# %%
assert exercises.check_inverse_policy(inverse_response_action)

# %% [markdown]
# ## Exercise 2: when the nominal model still converges
#
# One full step with $R_0$ gives $s_{k+1} = (I - M)\,s_k$, $M = R R_0^{-1}$. Repeated steps
# shrink *every* start to zero if and only if every eigenvalue of $I - M$ lies inside the
# unit circle, i.e. every eigenvalue $m$ of $M$ satisfies $|1 - m| < 1$. For real
# eigenvalues that is $0 < m < 2$: $m < 1$ undershoots (slow), $1 < m < 2$ overshoots (the
# sign alternates while the error shrinks); $m = 2$ flips the sign at full size forever,
# and $m \le 0$ pushes the wrong way. One eigenvalue outside is enough to diverge: *all*
# must be inside.
#
# Both matrices are lower triangular, so $M$ is too, and its eigenvalues are simply the
# ratios of the diagonals, $m_i = R_{ii} / R_{0,ii}$ (no eigenvalue solver needed). The
# max-abs scaling does *not* create the convergence: a step shortened by a factor
# $\ell \in (0, 1]$ gives eigenvalues $1 - \ell m$, inside the unit circle under the same
# condition.

# %% tags=["solution"]
def nominal_converges(R, R0):
    """True if full inverse-response steps computed with R0 steer a machine with response R to zero."""
    m = np.diag(R) / np.diag(R0)  # the eigenvalues of the lower-triangular M = R R0^-1
    return bool(np.all(np.abs(1 - m) < 1))  # every mode shrinks: strict, both bounds, all of them


# %%
assert exercises.check_nominal_converges(nominal_converges)
