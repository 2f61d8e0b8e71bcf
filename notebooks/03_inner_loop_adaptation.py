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
# # 3. The inner loop: adapting a policy to one task with REINFORCE
#
# Meta-learning has two loops. The **inner loop** adapts a policy to the task at hand
# with a few plain policy-gradient steps; the **outer loop** (notebook 4) learns the
# starting point from which these few steps work well.
#
# This notebook runs the inner loop alone, from a *randomly initialised* policy, on the
# five evaluation tasks: how many adaptation batches does it take to steer the beam?
# Remember the number; notebook 5 starts the same inner loop from the meta-learned
# policy instead.

# %%
import inspect

from IPython.display import Code

from awake_tutorial import plotting, training
from awake_tutorial.benchmark import InverseResponsePolicy, evaluate, per_task
from awake_tutorial.config import load_config
from awake_tutorial.dashboard import AdaptationDashboard
from awake_tutorial.metalearners import reinforce
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.tasks import load_evaluation_tasks

print(mode_banner())

# %% [markdown]
# ## The policy
#
# The policy is a Gaussian whose mean is a small neural network (two hidden layers of
# 64 tanh units) and whose standard deviation $\sigma$ is a learned vector:
#
# $$ \pi_\theta(a \mid s) = \mathcal N\big(\mu_\theta(s),\ \operatorname{diag}\sigma^2\big),
#    \qquad s \in [-1,1]^{10} \text{ (readings)},\ a \in \mathbb R^{10} \text{ (kick changes, 1 = 0.1 mrad)}. $$
#
# While learning it *samples* actions (exploration, initial $\sigma$ = 0.5); to evaluate
# it we act with the mean $\mu_\theta(s)$.
#
# ## REINFORCE, the policy gradient
#
# The return of an episode is $G = \sum_t r_t$. The policy-gradient theorem gives the
# gradient of its expectation $J(\theta) = \mathbb E_{\pi_\theta}[G]$ from sampled
# episodes alone, without a model of the machine:
#
# $$ \nabla_\theta J(\theta) = \mathbb E\Big[\sum_t \nabla_\theta \log\pi_\theta(a_t\mid s_t)\, \hat A_t\Big]. $$
#
# $\hat A_t$ is the **advantage**: how much better the rest of the episode went than
# expected from $s_t$. We estimate it with GAE ($\gamma = 1$, $\lambda = 0.99$) around a
# linear value baseline $V(s_t)$ fitted on the same batch, and normalise it per batch.
# Actions with $\hat A_t > 0$ are made more likely, the others less.
#
# One **adaptation step** is one gradient step on the loss
# $\mathcal L_\text{inner}(\theta) = -\tfrac1N\sum \log\pi_\theta(a_t\mid s_t)\hat A_t$:
#
# $$ \theta' = \theta - \alpha\, \nabla_\theta \mathcal L_\text{inner}(\theta), \qquad \alpha = \texttt{fast\_lr} = 0.01 . $$
#
# This is the whole inner loop. Here is the code that runs it,
# `awake_tutorial.metalearners.reinforce`:

# %%
Code(inspect.getsource(reinforce.inner_loss) + "\n\n" + inspect.getsource(reinforce.inner_step)
     + "\n\n" + inspect.getsource(reinforce.reinforce_gradient), language="python")

# %% [markdown]
# Notes on the code:
#
# * `episodes` hold many tasks at once (shape `(K, T, B, ...)`: tasks, time steps,
#   episodes); summing the per-task losses and differentiating once gives every task its
#   own gradient, because task $k$'s loss depends only on its own copy of $\theta$.
# * `create_graph=True` (second-order MAML, notebook 4) keeps the step differentiable,
#   so that the outer gradient can flow *through* the adaptation.
# * With `first_order` (our default) nothing needs to flow through the step, and the
#   same gradient is computed by hand, `reinforce_gradient` below: for a Gaussian,
#   $\partial \log\pi / \partial \mu = (a-\mu)/\sigma^2$ and
#   $\partial \log\pi / \partial \log\sigma = (a-\mu)^2/\sigma^2 - 1$, carried back through
#   the network by the chain rule. It gives autograd's numbers (a test checks it) at
#   about three quarters of the cost, and meta-training takes ~14 such steps per meta-batch.
#
# `awake_tutorial.training.adapt` repeats, for every batch: sample `fast_batch_size`
# episodes per task with the current adapted policy, fit the baseline, compute
# advantages, take one `inner_step`:

# %%
Code(inspect.getsource(training.add_advantages), language="python")

# %% [markdown]
# ## Adapt a random policy, live
#
# Each adaptation batch samples 16 episodes per task (80 episodes in all), then takes
# one REINFORCE step per task. The curves show the episodes *sampled* in each batch,
# before its step: batch 0 is the random policy (acting with exploration noise).
#
# **Look at:** how many batches the policy needs before every task succeeds, and how
# the episode length then keeps shrinking. Keep the cost in mind: every batch is 16
# episodes per task *on the machine*.

# %%
config = load_config()
tasks = load_evaluation_tasks()
num_batches = budget(100, 40)
dashboard = AdaptationDashboard([task.id for task in tasks], num_batches).display()
result = training.adapt(None, tasks, num_batches, config, seed=0, callback=dashboard)
dashboard.close()
assert len(result.records) == num_batches * len(tasks)
assert len(result.policies) == len(tasks)
plotting.plot_adaptation(result.records)

# %% [markdown]
# ## The adapted policies, acting deterministically
#
# `result.policies[k]` is the policy adapted to task $k$. Evaluated with its mean
# action on fresh episodes, next to the inverse-response benchmark:

# %%
episodes = budget(100, 20)
adapted_to = {task.id: policy.as_numpy_policy() for task, policy in zip(tasks, result.policies)}
adapted = evaluate(per_task(lambda task, plane: adapted_to[task.id]), tasks, episodes=episodes, seed=1)
random_policy = training.new_policy(config, seed=0)  # the starting point of the adaptation
before = evaluate(random_policy.as_numpy_policy(), tasks, episodes=episodes, seed=1)
inverse = evaluate(per_task(InverseResponsePolicy), tasks, episodes=episodes, seed=1)
for row_b, row_a, row_i in zip(before, adapted, inverse):
    print(f"task {row_a['task_id']}: random {row_b['mean_length']:5.1f} steps ({row_b['success_rate']:4.0%}) -> "
          f"adapted {row_a['mean_length']:5.1f} steps ({row_a['success_rate']:4.0%}); "
          f"inverse response {row_i['mean_length']:.1f}")
plotting.plot_comparison({"random init": before, f"after {num_batches} batches": adapted,
                          "inverse response": inverse},
                         title="adaptation from a random policy")

# %% [markdown]
# ## What we learned
#
# * REINFORCE adapts a policy to each task with no knowledge of $R$, from episodes only.
# * From a random start it takes tens of batches, i.e. **hundreds of episodes per
#   task**, before the beam is steered reliably.
# * Once adapted, a learned policy can need *fewer* steps than the inverse-response
#   controller: it is not bound to correct along one fixed direction (notebook 1's
#   fewest-steps limit shows how much room there is).
#
# The idea of MAML: keep exactly this inner loop, but *learn its starting point*
# $\theta$ over many tasks so that **one to four** steps are enough on a new task.
#
# ### Try it
# * Change the step size: `load_config(fast_lr=0.05)` or `0.002`. What happens to speed
#   and stability?
# * Change the batch size `fast_batch_size` (episodes per step): fewer episodes make
#   cheaper but noisier gradient estimates.
