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
# # Solutions to notebook 6: every method, side by side
#
# Open this after trying the exercises of `../06_comparison.ipynb`. Exercises 1-6 are
# open: their code (as text, to paste into notebook 6, where `rows`, `task_sets`,
# `episodes`, `config` and `meta_policy` exist) and what it shows. Exercise 7 is graded:
# its checker below prints `PASS` (CI runs this notebook).

# %%
from awake_tutorial import exercises
from awake_tutorial.controllers import InverseResponsePolicy
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: the hardest held-out task
#
#
# ```python
# from awake_tutorial.physics.tasks import get_evaluation_task
# fewest = {r["task_id"]: r["mean_length"] for r in rows
#           if r["method"] == "fewest-steps" and r["task_set"] == "heldout"}
# meta1 = [r for r in rows if r["method"] == "meta-1" and r["task_set"] == "heldout"]
# worst = max(meta1, key=lambda r: r["mean_length"] / fewest[r["task_id"]])
# task = next(t for t in task_sets["heldout"] if t.id == worst["task_id"])
# print(worst, task.quad_scales)
# plotting.plot_tasks([get_evaluation_task(0), task])
# ```
#
# Typically the hardest tasks have response matrices far from the typical one: much
# weaker or much stronger entries, or rows whose signs flip (a quadrupole setting that
# moves the phase advance between a corrector and a BPM past a multiple of $\pi$). A
# policy that starts from the "average" optics must then change its behaviour most,
# and one adaptation step does not get all the way. Looking at the ratio rather than the
# raw number of steps separates "hard for this method" from "hard for everyone".
#

# %% [markdown]
# ## Exercise 2: the mean action alone
#
#
# ```python
# from awake_tutorial.envs import evaluate
# from awake_tutorial.envs import AwakeSteeringEnv
# from awake_tutorial.runs.training import adapt
# tasks = task_sets["heldout"]
# adapted = adapt(meta_policy, tasks, 4, config, seed=0).policies  # as compare_methods does
# scores = {deterministic: [evaluate(p.as_numpy_policy(deterministic=deterministic, seed=0), [t],
#                                    episodes=episodes, seed=0)[0] for t, p in zip(tasks, adapted)]
#           for deterministic in (True, False)}
# worst = min(range(len(tasks)), key=lambda i: scores[True][i]["success_rate"])
# for deterministic in (True, False):
#     score = scores[deterministic][worst]
#     print(f"deterministic={deterministic}: success {score['success_rate']:.0%}, lengths {score['lengths']}")
# env, act = AwakeSteeringEnv(tasks[worst]), adapted[worst].as_numpy_policy()
# first_failure = scores[True][worst]["lengths"].index(100)  # (if there is one)
# obs, _ = env.reset(seed=first_failure)  # episode i of evaluate(seed=0) starts from seed i
# for step in range(10):
#     obs, reward, terminated, truncated, info = env.step(act(obs))
#     print(step, round(info["rms"], 3))
# ```
#
# The sampling policy succeeds in every episode, mostly within a few steps, while the
# mean policy fails on part of the episodes: it runs to the time limit, and its RMS
# jumps back and forth between values above the success threshold (e.g. 0.17 to 0.34
# and back, again and again). The mean action
# overshoots, and the next one overshoots back: a *limit cycle* of the deterministic
# policy, which the noise of the sampling policy breaks.
#
# Why? Each REINFORCE step is estimated from 16 noisy episodes, and nothing guarantees
# that every step improves the mean action (there is no trust region in the inner
# loop). Meta-training scores the adapted policy after `num_steps` inner steps, with a
# small std (`adapted_std: 0.1`), near but not at its mean action; four steps and the
# exact mean action are beyond what it optimised, so nothing in meta-training removes such
# cycles. That is why the comparison shows both, the mean action as the headline and the
# sampling policy next to it. Remedies an operator would use: stop adapting once the task
# is solved, keep a little action noise, or use more episodes per step.
#

# %% [markdown]
# ## Exercise 3: why does PPO not adapt?
#
#
# Two differences. (a) *Data of the new task:* the `meta-k` methods run $k$ REINFORCE
# steps on 16 episodes each of the new task; PPO is used as trained, on task 0's data
# only. You could fine-tune PPO on the new task too, but (b) *the starting point:* PPO's
# weights are optimised for task 0's return, nothing makes a gradient step from there
# useful for another task. MAML optimises the return *after* a gradient step, averaged
# over many tasks, so its weights sit where one step in the direction given by a few
# episodes of any task helps. Fine-tuning PPO from its task-0 weights is possible, but
# nothing in its training makes a few steps enough.
#

# %% [markdown]
# ## Exercise 4: fewer episodes per adaptation step
#
#
# ```python
# cheap = load_config(fast_batch_size=4)
# rows_cheap = compare_methods(task_sets["heldout"], ["meta-0", "meta-1", "fewest-steps"],
#                              episodes=episodes, seed=0, meta_policy=meta_policy,
#                              config=cheap, task_set="heldout")
# summarize(rows_cheap)
# ```
#
# The policy-gradient estimate from 4 episodes is much noisier (its variance scales
# like 1/N); the step has the same size (the meta-policy's learned step sizes, 0.0019 to
# 0.006 per tensor, notebook 4), so on average it still improves
# the episode length, but less reliably: on some tasks it makes things much worse
# (look at the worst success rate). The meta-policy was
# meta-trained with 16 episodes per step, so its starting point is tuned for that noise
# level: meta-training with `fast_batch_size: 4` would give a starting point that copes
# better with few episodes.
#

# %% [markdown]
# ## Exercise 5: outside the training distribution
#
#
# ```python
# from awake_tutorial.physics.lattice_model import default_lattice
# from awake_tutorial.physics.tasks import sample_tasks, task_from_quad_scales
# far = task_from_quad_scales({knob: 1.4 for knob in default_lattice().knob_names}, task_id=900)
# largest_training = max(abs(t.response_h).max() for t in sample_tasks(1000, seed=1))
# print(f"largest |R| entry: {abs(far.response_h).max():.0f} m/rad here, "
#       f"{largest_training:.0f} m/rad over 1000 training tasks")
# plotting.plot_tasks([task_sets["evaluation"][0], far])
# rows_far = compare_methods([far], ["meta-0", "meta-1", "meta-4", "inverse", "fewest-steps"],
#                            episodes=episodes, seed=0, meta_policy=meta_policy,
#                            config=config, task_set="far")
# summarize(rows_far)
# ```
#
# The benchmarks do not care: they are given the task's $R$. This optics responds
# more strongly than any training task: its largest entry is 116 m/rad, against 92 m/rad
# for the largest of 1,000 sampled training tasks (the two numbers the code prints): the
# unadapted meta-policy overshoots and
# fails on about half of the episodes. One adaptation batch repairs it, but further
# batches make it unstable again: the meta-learned starting point and its learned step
# sizes (0.0019 to 0.006 per tensor, notebook 4) were tuned to the training distribution, and here the same change of the
# network moves the beam much further. Meta-learning helps most inside the
# distribution it was trained on: choosing the task distribution is part of the design.
#

# %% [markdown]
# ## Exercise 6: the wall penalty
#
#
# Rewards are negative ($-10\cdot$RMS per step). Without the extra penalty, an episode
# that ends at the wall after one step collects a single reward of about $-10$, while
# steering slowly from a large offset collects several rewards of $-2$ to $-9$: ending
# the episode at the wall can have the *higher* return. A return-maximising agent may
# then learn to throw the beam at the wall on hard starts. Charging $-10$ for every
# remaining step makes a wall hit at least as bad as the worst possible in-bounds
# episode, so crashing never pays. You can compare both settings with
# `load_config(wall_penalty="reference")` in notebook 3's adaptation.
#

# %% [markdown]
# ## Exercise 7: a method of your own
#
# One answer that clears the floor: the **damped nominal-model controller**. Notebook 1
# showed that the inverse-response controller built on the nominal matrix $R_0$ converges
# when every eigenvalue $m$ of $R R_0^{-1}$ satisfies $|1 - m| < 1$, and that overshoot
# ($m$ near 2) is what threatens it. A gain $g < 1$ on its action,
#
# $$ a = g\; \frac{-R_0^{-1}\, s / 100}{10^{-4}}, \qquad \text{scaled to } \max_i|a_i| \le 1 , $$
#
# turns the eigenvalues into $1 - g\,m$: convergence for $0 < m < 2/g$, more margin
# against strong optics, paid for with more steps on weak ones. It reads only task 0's
# matrix, never the sealed task's. The fewest-steps planner on the same $R_0$ (`nominal`)
# plans the longest steps the action limit allows and overshoots on many optics: the
# floor it sets is low. Beating `meta-1` or `measure-correct` is the real challenge, e.g.
# with a policy that estimates the task's response from its own first actions.

# %% tags=["solution"]
def my_method(task, plane):
    """Damped nominal-model controller: the design optics' inverse-response action times 0.7."""
    nominal = InverseResponsePolicy(0, plane)  # task 0 = the nominal optics; the task's own R stays sealed
    return lambda obs: 0.7 * nominal.act(obs)


# %%
assert exercises.check_method(my_method)
