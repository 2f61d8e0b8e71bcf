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
#
# ### Learning objectives
# After this notebook you can
# * **derive** the gradient of the Gaussian policy's log-likelihood and check it against
#   autograd (graded exercise);
# * write the REINFORCE loss as the code computes it (the default sums each episode's
#   steps, the reference averages them) and say what each weighting favours;
# * **implement** the REINFORCE loss and generalized advantage estimation (two graded
#   exercises), and fit the linear baseline's features in your head;
# * explain what treating the time limit as terminal costs;
# * read an adaptation curve: how many batches (episodes on the machine) a random start needs.
#
# **Prerequisites:** notebooks 1-2 (environment; value function, advantage, baseline);
# torch tensors and autograd at the level of `loss.backward()`; least squares.
#
# **Time:** about 75 min for a learner (reading 30, three exercises 40, the quiz 5); the
# code runs in under a minute (quick mode: < 30 s). Exercises are graded as in notebook 1;
# worked solutions are in `solutions/03_inner_loop_adaptation.ipynb`.

# %%
import inspect

import numpy as np
import torch
from IPython.display import Code

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.controllers import InverseResponsePolicy
from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.rl.metalearners import reinforce
from awake_tutorial.runs import training
from awake_tutorial.ui import plotting, plotting_compare
from awake_tutorial.ui.dashboard import AdaptationDashboard

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
# While learning it *samples* actions (exploration, initial $\sigma$ = 0.5); to score
# it we act with the mean $\mu_\theta(s)$, the course's convention for every headline
# number (what an operator would run).
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
# expected from $s_t$. Actions with $\hat A_t > 0$ are made more likely, the others less.
#
# ### The baseline: a linear fit per batch
# The expectation $V(s_t)$ comes from a **linear baseline** (`awake_tutorial/rl/baseline.py`),
# fitted anew on every batch, one fit per task. Features of step $t$ (22 numbers),
# with $t' = t/100$:
#
# $$ \phi_t = \big[\,s_t,\ s_t^2,\ t',\ t'^2,\ t'^3,\ 1\,\big], \qquad V(s_t) = \phi_t^\top c , $$
#
# and $c$ is the ridge least-squares fit to the reward-to-go $G_t = \sum_{u\ge t}\gamma^{u-t} r_u$
# over all steps of the batch ($\Phi$: the features of all steps as rows, $G$ their
# rewards-to-go):
#
# $$ c = \arg\min_c \sum_{b,t} \big(\phi_{t}^\top c - G_{t}\big)^2 + 10^{-5}\,\|c\|^2
#    \ \Leftrightarrow\ (\Phi^\top \Phi + 10^{-5} I)\, c = \Phi^\top G . $$
#
# ### Generalized advantage estimation (GAE)
# With the TD error $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$, GAE sums the TD errors
# of the rest of the episode, discounted by $\gamma\lambda$ (`episodes.generalized_advantages`):
#
# $$ \hat A_t = \sum_{u=t}^{T_b-1} (\gamma\lambda)^{u-t}\, \delta_u
#    = \delta_t + \gamma\lambda\, \hat A_{t+1}, \qquad V(s_{T_b}) = 0 ,
#    \qquad \gamma = 1,\ \lambda = 0.99 . $$
#
# $\lambda = 1$ gives $G_t - V(s_t)$ (unbiased, noisy), $\lambda = 0$ gives $\delta_t$ (low
# variance, as biased as $V$). The advantages are then normalised per task: minus their
# mean, divided by their standard deviation, both weighted **per episode** (every episode
# weighs the same, `BatchEpisodes.weights`) whatever the loss's `inner_weighting` below
# (`BatchEpisodes.compute_advantages`).
#
# ### The loss, as the code computes it
# A batch holds $B$ episodes of lengths $T_b$. The **textbook** policy-gradient estimator,
# $\nabla_\theta J = \mathbb E_\tau\big[\sum_t \nabla_\theta \log\pi_\theta(a_t\mid s_t)\,\hat A_t\big]$,
# sums over the steps of each episode and averages over the episodes. It is the course's
# default (`inner_weighting: sum`):
#
# $$ \mathcal L^\text{sum}_\text{inner}(\theta) = -\frac1B \sum_{b=1}^{B} \sum_{t=0}^{T_b-1}
#    \log\pi_\theta(a_{b,t}\mid s_{b,t})\, \hat A_{b,t} . $$
#
# The reference course (pytorch-maml-rl, `configs/reference.yaml`, `inner_weighting: mean`)
# averages **over the steps of each episode first**, then over the episodes
# (`BatchEpisodes.weights`):
#
# $$ \mathcal L^\text{mean}_\text{inner}(\theta) = -\frac1B \sum_{b=1}^{B} \frac1{T_b}\sum_{t=0}^{T_b-1}
#    \log\pi_\theta(a_{b,t}\mid s_{b,t})\, \hat A_{b,t} . $$
#
# With *mean*, every **episode** weighs the same: a failed episode of 100 steps counts as
# much as a successful one of 3 steps. With *sum*, every **step** weighs the same, so a
# task the policy does not yet solve (long episodes) moves $\theta$ a lot, and a task it
# already solves in one or two steps barely moves it. That second property is what the
# meta-policy needs (notebook 4, Meta-SGD): one adaptation step must not spoil a task
# that was already solved. *Mean* is not exactly $\nabla_\theta J$; its direction still
# improves the return. (An average over all $N = \sum_b T_b$ steps, $1/N$, weighs the
# steps like *sum*, but its scale changes with the batch: the step size would too.)
# `reinforce.step_weights` holds both weightings.
#
# One **adaptation step** is one gradient step on this loss:
#
# $$ \theta' = \theta - \alpha\, \nabla_\theta \mathcal L_\text{inner}(\theta), \qquad \alpha = \texttt{fast\_lr} = 0.01 . $$
#
# (A meta-policy trained with Meta-SGD, notebooks 4 and 5, carries its own learned
# $\alpha$ per parameter tensor; a fresh random policy adapts with `fast_lr`.)
#
# Two safeguards of the default configuration (`awake.yaml`; the reference configuration
# has neither) act on this step. A **trust region on the inner step** (`inner_max_kl`
# $= \eta_\text{in} = 1$ nat) scales the step so that the new policy stays close to the
# old on the batch's states:
#
# $$ \theta' = \theta - c\,\alpha\,\nabla_\theta \mathcal L_\text{inner}(\theta), \qquad
#    c = \min\Big(1, \sqrt{\eta_\text{in} / \overline{\mathrm{KL}}(\pi_{\theta - \alpha\nabla\mathcal L}\,\|\,\pi_\theta)}\Big), $$
#
# with $\overline{\mathrm{KL}}$ averaged over the batch's steps (`rl/metalearners/inner_bound.py`).
# And `adapt` (`stable_adaptation`) halves a step, down to none, while the adapted mean
# action would overshoot the goal, judged on the step's own episodes (`runs/stability.py`,
# notebook 6). Both leave a step that behaves as it is.
#
# This is the whole inner loop. Here is the code that runs it,
# `awake_tutorial.rl.metalearners.reinforce`:

# %%
Code(inspect.getsource(reinforce.inner_loss) + "\n\n" + inspect.getsource(reinforce.policy_gradient)
     + "\n\n" + inspect.getsource(reinforce.inner_step), language="python")

# %% [markdown]
# Notes on the code:
#
# * `episodes` hold many tasks at once (shape `(K, T, B, ...)`: tasks, time steps,
#   episodes); summing the per-task losses and differentiating once gives every task its
#   own gradient, because task $k$'s loss depends only on its own copy of $\theta$.
# * `create_graph=True` (second-order MAML, notebook 4) keeps the step differentiable,
#   so that the outer gradient can flow *through* the adaptation.
# * With `first_order` (our default) nothing needs to flow through the step: the gradient
#   is a constant, `policy_gradient` (autograd, above).
# * The course runs a speed-tuned copy of the same maths by default (config key
#   `fast_path`, the package `awake_tutorial/rl/fast/`): `reinforce_gradient` there computes
#   this gradient by hand: the derivatives of $\log\pi$ with respect to the mean and the
#   log-std (exercise 1 below derives them), carried back through the network by the chain
#   rule. It gives autograd's numbers (a test checks it) at
#   about three quarters of the cost, and meta-training takes many such steps per meta-batch
#   (one per inner step, and again at every try of the line search). The learner passes it
#   as `inner_step`'s `gradient`.
#
# `awake_tutorial.runs.training.adapt` repeats, for every batch: sample `fast_batch_size`
# episodes per task with the current adapted policy, fit the baseline, compute
# advantages, take one `inner_step`:

# %%
Code(inspect.getsource(add_advantages), language="python")

# %% [markdown]
# ### Exercise 1 (graded, a derivation): the score of a Gaussian policy
# The policy's log-likelihood of an action $a \in \mathbb R^{10}$, with mean $\mu = \mu_\theta(s)$ and
# standard deviations $\sigma_i = e^{\log\sigma_i}$ (independent dimensions), is
#
# $$ \log\pi_\theta(a\mid s) = \sum_{i=1}^{10}\Big[-\frac{(a_i-\mu_i)^2}{2\sigma_i^2} - \log\sigma_i
#    - \tfrac12\log 2\pi\Big] . $$
#
# **Derive**, on paper, its partial derivatives with respect to $\mu_i$ and to $\log\sigma_i$
# (not $\sigma_i$: the policy learns $\log\sigma$). Then write
# `gaussian_score(a, mu, log_std)`: `a` and `mu` are $(n, 10)$ tensors, `log_std` is $(10,)$;
# return the pair `(d_mu, d_log_std)`, each $(n, 10)$: one row per sample. The checker
# compares with autograd, which differentiates the formula above for you. (Which sign
# makes an action likelier when the mean moves towards it? What does the chain rule
# through $\sigma = e^{\log\sigma}$ add?)

# %% tags=["exercise-stub"]
def gaussian_score(a, mu, log_std):
    """(d log pi / d mu, d log pi / d log_std), each (n, 10), for pi = N(mu, diag exp(log_std)^2)."""
    raise NotImplementedError("differentiate each term of the log-density above: the quadratic term "
                              "depends on mu and on sigma, the normalisation on sigma only; then the chain "
                              "rule from sigma to log sigma")


# %%
gaussian_score = exercises.graded(exercises.check_gaussian_score, gaussian_score)

# %% [markdown]
# ### Exercise 2 (graded): the REINFORCE loss
# Write `reinforce_loss(log_probs, advantages, mask)`. All three are tensors of shape
# $(T, B)$: time steps, episodes of one task. `mask[t, b]` is 1.0 while episode $b$ runs
# and 0.0 after its end; the entries after the end are padding, with arbitrary values.
# Return the course's default $\mathcal L^\text{sum}_\text{inner}$ above (every step weighs
# the same) as a one-number tensor; autograd must be able to differentiate it with
# respect to `log_probs`.

# %% tags=["exercise-stub"]
def reinforce_loss(log_probs, advantages, mask):
    """The default inner loss L^sum: a scalar tensor, differentiable with respect to log_probs."""
    raise NotImplementedError("which steps count, what is summed and what averaged in L^sum, and which "
                              "sign makes gradient descent favour actions with a positive advantage?")


# %%
reinforce_loss = exercises.graded(exercises.check_reinforce_loss, reinforce_loss)

# %% [markdown]
# ### Exercise 3 (graded): generalized advantage estimation
# Write `gae(rewards, values, mask, gamma, lam)`: `rewards`, `values` ($V(s_t)$) and
# `mask` are $(T, B)$ tensors as above; return the advantages $\hat A_t$ $(T, B)$
# (not normalised). After an episode's last step $V = 0$: nothing beyond it counts.

# %% tags=["exercise-stub"]
def gae(rewards, values, mask, gamma, lam):
    """GAE(gamma, lambda) advantages (T, B) of padded episodes; V = 0 after each episode's end."""
    raise NotImplementedError("the recursive form of GAE above runs backwards in time; what is the next state's value "
                              "at an episode's last step, and what may the padding contribute?")


# %%
gae = exercises.graded(exercises.check_gae, gae)

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
# ## The adapted policies
#
# `result.policies[k]` is the policy adapted to task $k$. The headline column scores its
# **mean action** on fresh episodes (the course's convention); the second column lets it
# sample, as it did while adapting. Next to them, the random start and the
# inverse-response benchmark:

# %%
episodes = budget(100, 20)
adapted_to = {task.id: policy for task, policy in zip(tasks, result.policies)}
adapted = evaluate(per_task(lambda task, plane: adapted_to[task.id].as_numpy_policy()), tasks,
                   episodes=episodes, seed=1)
adapted_sampled = evaluate(per_task(lambda task, plane: adapted_to[task.id].as_numpy_policy(
    deterministic=False, seed=task.id)), tasks, episodes=episodes, seed=1)
random_policy = training.new_policy(config, seed=0)  # the starting point of the adaptation
before = evaluate(random_policy.as_numpy_policy(), tasks, episodes=episodes, seed=1)
inverse = evaluate(per_task(InverseResponsePolicy), tasks, episodes=episodes, seed=1)
print(f"{'':7s} {'random start':>16s} {'adapted (mean)':>16s} {'adapted (sampled)':>18s} {'inverse':>8s}")
for row_b, row_a, row_s, row_i in zip(before, adapted, adapted_sampled, inverse):
    print(f"task {row_a['task_id']}: {row_b['mean_length']:6.1f} ({row_b['success_rate']:4.0%}) "
          f"{row_a['mean_length']:9.1f} ({row_a['success_rate']:4.0%}) "
          f"{row_s['mean_length']:11.1f} ({row_s['success_rate']:4.0%}) {row_i['mean_length']:8.1f}")
print("(steps per episode, success rate in brackets)")
plotting_compare.plot_comparison({"random init": before, f"after {num_batches} batches": adapted,
                          "inverse response": inverse},
                         title="adaptation from a random policy (mean action)")

# %% [markdown]
# ## The time limit: treated as terminal
#
# An episode that reaches 100 steps is *cut*, not finished: the textbook would bootstrap
# its last advantage from the value of the state where it was cut,
# $\delta_{T-1} = r_{T-1} + \gamma V(s_T) - V(s_{T-1})$ (stable-baselines3's PPO in notebook 2
# does). The course's inner loop, like pytorch-maml-rl, sets $V(s_T) = 0$ instead, as if
# the episode had ended (`episodes.generalized_advantages`). Why the course keeps it:
#
# * every episode, in training and in scoring, is cut at 100 steps: the objective *is*
#   the return within 100 steps, and the baseline's time features $t', t'^2, t'^3$ let $V$
#   learn that little return is left near the limit;
# * the shipped meta-policy was trained this way, and the inner loop must be the one it
#   was meta-trained for.
#
# What it costs: the policy does not see $t$, so in a cut episode the last actions are
# credited as if steering had ended there, without the $-10\cdot$RMS per step the beam
# would go on costing. The bias touches only episodes that run into the limit. How
# many are there? Below, for the random start and for the adapted policies, sampling
# as during adaptation:

# %%
def share_at_time_limit(rows):
    """Fraction of the episodes that ran to the time limit, over all tasks."""
    return np.mean([np.mean(np.array(row["lengths"]) >= config.max_steps) for row in rows])


before_sampled = evaluate(random_policy.as_numpy_policy(deterministic=False, seed=0), tasks,
                          episodes=config.fast_batch_size, seed=0)
print(f"episodes cut by the time limit: random start {share_at_time_limit(before_sampled):.1%}, "
      f"after {num_batches} batches {share_at_time_limit(adapted_sampled):.1%}")

# %% [markdown]
# Most failed episodes of a random start end at the wall, not at the time limit, and
# adapted policies hardly reach it: the bias concerns a small share of the data, and
# mostly in the first batches. (Where many episodes are cut, e.g. a policy that hovers
# just above 1 mm, bootstrapping would matter more.)
#
# ## What we learned
#
# * REINFORCE adapts a policy to each task with no knowledge of $R$, from episodes only.
# * From a random start it takes several batches, i.e. **dozens of episodes and over a
#   thousand machine steps per task** (most of them in the first, long episodes), before
#   the beam is steered reliably (count them in the adaptation figure; measured over 4
#   seeds, 10 batches cost 1,374 machine steps per evaluation task, `reinforce-10` in
#   `docs/results/comparison_summary.csv`).
# * Once adapted, a learned policy can need *fewer* steps than the inverse-response
#   controller: it is not bound to correct along one fixed direction (compare the
#   columns of the table above; notebook 1's fewest-steps limit shows how much room
#   there is).
#
# The idea of MAML: keep exactly this inner loop, but *learn its starting point*
# $\theta$ over many tasks so that **one to four** steps are enough on a new task.
#
# ## Self-check quiz
#
# Click an answer: each option says why it is right or wrong. (The quiz cells' code is
# collapsed; in a viewer without widgets, e.g. a plain `.ipynb` on the web, the options
# and their explanations are that code.)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"1. Predict first, then try: <code>load_config(fast_lr=0.05)</code> instead of 0.01, then rerun the adaptation cell. What happens?", {
    r"Faster at first, but less reliable: no trust region guards the inner step":
        r"Right: a larger step moves the policy further per batch, and with 16 noisy episodes per step it can also overshoot and spoil a task it had solved. Rerun with two seeds to see the spread; 0.002 is slow and steady.",
    r"Exactly five times faster":
        r"No: the step is five times longer, but the gradient is noisy and the loss is not quadratic; nothing makes progress scale with the step.",
    r"No change: the advantages are normalised":
        r"No: normalising the advantages fixes the scale of the gradient estimate, not of the step; <code>fast_lr</code> multiplies it.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"2. Fewer episodes per step, <code>load_config(fast_batch_size=4)</code>: what changes?", {
    r"Cheaper steps with noisier gradients: more batches, less reliable adapted policies":
        r"Right: the variance of the estimate is about four times larger. In episodes on the machine it can still be cheaper.",
    r"Nothing but the cost":
        r"No: the gradient is an average over the episodes; fewer episodes give a noisier average.",
    r"The steps get smaller":
        r"No: the step size is <code>fast_lr</code> times the gradient estimate, whose size does not shrink with fewer episodes; its noise grows.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"3. A batch has one failed episode of 100 steps and three successes of 2 steps. What share of the total weight do the failed episode's steps get with <code>inner_weighting: sum</code> (the default)?", {
    r"94 %: every step weighs 1/4, and 100 of the 106 steps are the failure's":
        r"Right. With <code>mean</code> each episode gets a quarter (25 %, i.e. 0.0025 per step of the failure); a $1/N$ average over all steps gives the same 94 % as <code>sum</code>, at another scale.",
    r"25 %: each episode weighs a quarter":
        r"No: that is the reference's <code>mean</code> weighting, where each episode is averaged over its own steps first.",
    r"1 %: one step of 106":
        r"No: that is a single step's share; the failed episode has 100 of the 106 steps.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"4. With $\lambda = 0$, what is $\hat A_t$?", {
    r"$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$, the one-step TD error":
        r"Right: only the first term of the sum survives. With $\lambda = \gamma = 1$ it is $G_t - V(s_t)$, the reward-to-go minus the baseline.",
    r"$G_t - V(s_t)$":
        r"No: that is $\lambda = 1$ (with $\gamma = 1$).",
    r"0":
        r"No: $(\gamma\lambda)^0 = 1$, so the $u = t$ term, $\delta_t$, stays.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"5. Why does the baseline get the features $t', t'^2, t'^3$, although the policy never sees the time?", {
    r"The reward-to-go depends on the time left: the same orbit has more reward ahead early in an episode":
        r"Right: the time features let the linear fit capture that, so the advantage is not blamed on the action.",
    r"So that the policy can learn the time":
        r"No: the baseline only centres the advantages; the policy's inputs stay the readings.",
    r"They make the fit better conditioned":
        r"No: they add columns to the fit; their purpose is to explain the part of the return that depends on time.",
}, answer=0)
