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
# # Solutions to notebook 4: meta-training with MAML-TRPO
#
# Open this after trying the exercises of `../04_meta_training.ipynb`. Each solution is
# followed by its checker, which prints `PASS` (CI runs this notebook).

# %%
import torch

from awake_tutorial import exercises
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: conjugate gradient
#
# Start from $x = 0$, so the residual $q = g - Ax$ is $g$ and the first direction is $p = q$.
# One product $Ap$ per iteration gives the step length $\tau$ along $p$, the new $x$ and
# the new residual; the next direction adds the new residual to a multiple of $p$ chosen
# so that it is $A$-conjugate to the previous directions. Stop early once $q^\top q$ is tiny.
# In exact arithmetic $n$ iterations solve an $n \times n$ system.

# %% tags=["solution"]
def conjugate_gradient(Av, g, iters):
    """Approximate solution x of A x = g (flat torch vectors); A only through Av(v) = A v."""
    x = torch.zeros_like(g)
    q, p = g.clone(), g.clone()  # residual g - A x at x = 0, first search direction
    qq = q.dot(q)
    for _ in range(iters):
        if qq < 1e-10:
            break
        Ap = Av(p)
        tau = qq / p.dot(Ap)  # step length along p
        x = x + tau * p
        q = q - tau * Ap
        qq_new = q.dot(q)
        p = q + (qq_new / qq) * p  # the next direction, A-conjugate to the previous ones
        qq = qq_new
    return x


# %%
assert exercises.check_conjugate_gradient(conjugate_gradient)

# %% [markdown]
# ## Exercise 2: the KL-scaled step
#
# With $\Delta\theta = \ell x$ the quadratic model is $\tfrac12\ell^2\,x^\top F x = \eta$, so
#
# $$ \ell = \sqrt{\frac{2\eta}{x^\top F x}} , $$
#
# positive (the step goes along $x = F^{-1}g$), one Fisher-vector product for $x^\top F x$.
# Forgetting the $\tfrac12$ gives a step whose KL is half the trust region.

# %% tags=["solution"]
def kl_scaled_step(x, fvp, max_kl):
    """The multiple of x whose quadratic KL 1/2 d^T F d equals max_kl."""
    return torch.sqrt(2 * max_kl / x.dot(fvp(x))) * x


# %%
assert exercises.check_kl_scaled_step(kl_scaled_step)
