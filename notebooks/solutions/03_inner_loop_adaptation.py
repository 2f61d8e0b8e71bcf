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
# # Solutions to notebook 3: the inner loop
#
# Open this after trying the exercises of `../03_inner_loop_adaptation.ipynb`. Each
# solution is followed by its checker, which prints `PASS` (CI runs this notebook).

# %%
import torch

from awake_tutorial import exercises
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: the score of a Gaussian policy
#
# Per dimension, $\log\pi = -\frac{(a-\mu)^2}{2\sigma^2} - \log\sigma - \tfrac12\log 2\pi$. With
# respect to the mean only the quadratic term depends on $\mu$:
#
# $$ \frac{\partial\log\pi}{\partial\mu_i} = \frac{a_i-\mu_i}{\sigma_i^2} , $$
#
# positive when the action lies above the mean: moving the mean towards an action makes
# it likelier. With respect to $\sigma$, $\frac{\partial\log\pi}{\partial\sigma} = \frac{(a-\mu)^2}{\sigma^3} - \frac1\sigma$,
# and the chain rule with $\partial\sigma/\partial\log\sigma = \sigma$ gives
#
# $$ \frac{\partial\log\pi}{\partial\log\sigma_i} = \frac{(a_i-\mu_i)^2}{\sigma_i^2} - 1 , $$
#
# zero on average (an action one standard deviation away is as likely as expected), positive
# for actions further out: a good far-away action widens the policy. These two lines are
# what `awake_tutorial/rl/fast/gradients.py` carries back through the network.

# %% tags=["solution"]
def gaussian_score(a, mu, log_std):
    """(d log pi / d mu, d log pi / d log_std), each (n, 10), for pi = N(mu, diag exp(log_std)^2)."""
    variance = torch.exp(2 * log_std)  # sigma^2, (10,): broadcast over the n samples
    return (a - mu) / variance, (a - mu) ** 2 / variance - 1


# %%
assert exercises.check_gaussian_score(gaussian_score)

# %% [markdown]
# ## Exercise 2: the REINFORCE loss
#
# $\mathcal L^\text{sum}_\text{inner} = -\frac1B\sum_b\sum_{t<T_b}\log\pi\,\hat A$: the mask keeps
# the steps that ran (the padding holds arbitrary numbers), the sum runs over all of them,
# and the mean is over the $B$ episodes only. The minus sign: gradient *descent* on the
# loss must raise $\log\pi$ of actions with $\hat A > 0$. Averaging each episode over its
# own length first would give the reference's `mean` weighting; dividing by the number of
# steps $N$ would make the scale depend on the episode lengths.

# %% tags=["solution"]
def reinforce_loss(log_probs, advantages, mask):
    """The default inner loss L^sum: a scalar tensor, differentiable with respect to log_probs."""
    B = mask.shape[1]  # episodes
    return -(log_probs * advantages * mask).sum() / B  # every step that ran weighs alike


# %%
assert exercises.check_reinforce_loss(reinforce_loss)

# %% [markdown]
# ## Exercise 3: generalized advantage estimation
#
# Backwards in time, $\hat A_t = \delta_t + \gamma\lambda\,\hat A_{t+1}$ with
# $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$. At an episode's last step $V(s_{t+1}) = 0$ (the
# value stored in the next row is padding, hence `mask[t + 1]`), and multiplying by
# `mask[t]` keeps the padding's $\hat A$ at zero, so nothing leaks from beyond the end.

# %% tags=["solution"]
def gae(rewards, values, mask, gamma, lam):
    """GAE(gamma, lambda) advantages (T, B) of padded episodes; V = 0 after each episode's end."""
    T = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        next_value = values[t + 1] * mask[t + 1] if t + 1 < T else torch.zeros_like(values[t])
        delta = rewards[t] + gamma * next_value - values[t]
        next_advantage = (delta + gamma * lam * next_advantage) * mask[t]  # 0 after the end
        advantages[t] = next_advantage
    return advantages


# %%
assert exercises.check_gae(gae)
