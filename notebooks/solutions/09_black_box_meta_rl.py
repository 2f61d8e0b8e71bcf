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
# # Solutions to notebook 9: black-box meta-RL
#
# Open this after trying the exercise of `../09_black_box_meta_rl.ipynb`. The checker
# below the solution prints `PASS` (CI runs this notebook); then the quiz's answers.

# %%
import numpy as np

from awake_tutorial import exercises
from awake_tutorial.envs.dynamics import rescale
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise: the inputs $x_t$
#
# $$x_t = [s_t,\ s_t - s_{t-1},\ a_{t-1}], \qquad s_{-1} = s_0,\quad a_{-1} = 0 .$$
#
# Before the first reading there is none, so the previous reading of $t = 0$ is $s_0$
# itself (the change is 0), and the previous action of $t = 0$ is 0: shift along time by
# one and fill the first step, never wrap around (the episode's last reading is not the
# one before its first). The action the policy sees is the one the machine **applied**:
# scaled down as a whole to $\max|a| \le 1$ (`rescale`, notebook 1), not clipped per
# component, and it is $a_{t-1}$, never $a_t$, which is chosen from $x_t$. A rollout
# stores time first, (T, n, 10); the GRU reads episodes first, (n, T, 30).

# %% tags=["solution"]
def rl2_inputs(observations, actions):
    """x (n, T, 30) of whole episodes from observations and actions (T, n, 10)."""
    obs = np.asarray(observations, dtype=np.float32)
    applied = rescale(np.asarray(actions, dtype=np.float64)).astype(np.float32)
    previous_obs = np.concatenate([obs[:1], obs[:-1]])
    previous_action = np.concatenate([np.zeros_like(applied[:1]), applied[:-1]])
    return np.concatenate([obs, obs - previous_obs, previous_action], axis=-1).transpose(1, 0, 2)


# %%
assert exercises.check_rl2_features(rl2_inputs)

# %% [markdown]
# ## The quiz's answers
#
# 1. In the GRU's hidden state $h_t$; it starts at 0 in every episode, so it is forgotten
#    when the episode ends (the weights never change at deployment).
# 2. It acts from the first step of the episode that is being scored: it adapts with the
#    steps that do the steering. "meta-1" first runs a batch of 16 episodes on the task
#    and takes a gradient step, and those episodes are machine steps spent before it acts.
# 3. The gradient-based one: more batches are more gradient steps on this machine. The
#    recurrent policy's weights are fixed, and its memory lasts one episode.
# 4. The change of readings caused by a known action measures the response, which is what
#    differs between optics (a secant step, as Broyden's). From $s_t$ alone it would need
#    to remember the previous reading and action itself.
