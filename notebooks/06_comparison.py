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
# # 6. Every method, side by side
#
# The question of the course: **how many steps does each method need to steer the
# beam on optics it has not been trained on?** Methods:
#
# | method | knows $R$? | data of the new task | from |
# |---|---|---|---|
# | `random` | no | none | a randomly initialised policy, as meta-training starts |
# | `ppo` | no | none | PPO trained on task 0 only (notebook 2, shipped model) |
# | `meta-0` | no | none | the pretrained meta-policy, not adapted (notebook 5) |
# | `meta-1`, `meta-2`, `meta-4` | no | 1, 2, 4 batches of 16 episodes | the meta-policy after $k$ REINFORCE steps |
# | `inverse` | yes | none | the inverse-response controller (notebook 1) |
# | `fewest-steps` | yes | none | the planner that needs the fewest steps: the physical limit |
#
# Two task sets: the 5 **evaluation** tasks used throughout the course and 20
# **held-out** tasks drawn from the same distribution with a seed used nowhere else.
# Every method plays the same episodes (same seeds, same starting orbits). The Gaussian
# policies (`random`, `meta-k`) act as they are trained: they sample their actions
# (seeded noise). PPO acts with its mean action, as stable-baselines3 evaluates it, and
# the two benchmarks are deterministic anyway. Exercise 2 shows why this matters.

# %%
from IPython.display import Markdown

from awake_tutorial import plotting
from awake_tutorial.compare import compare_methods, heldout_tasks, summarize, write_results
from awake_tutorial.config import load_config
from awake_tutorial.paths import REPO_DIR, data_file
from awake_tutorial.policies import load_pretrained
from awake_tutorial.ppo import load_ppo
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.tasks import load_evaluation_tasks

print(mode_banner())

# %%
config = load_config()
meta_policy = load_pretrained("meta")
ppo_model = load_ppo(data_file("ppo_task0.zip"))
task_sets = {"evaluation": load_evaluation_tasks(), "heldout": heldout_tasks()}
print({name: [task.id for task in tasks] for name, tasks in task_sets.items()})

# %% [markdown]
# ## Run the comparison
#
# `compare_methods` adapts the meta-policy (for `meta-k`), then scores every method with
# `awake_tutorial.benchmark.evaluate`. The same comparison runs from a terminal with
# `awake-tutorial compare`.

# %%
episodes = budget(50, 20)
rows = []
for task_set, tasks in task_sets.items():
    rows += compare_methods(tasks, episodes=episodes, seed=0, meta_policy=meta_policy,
                            ppo_model=ppo_model, config=config, task_set=task_set,
                            progress=lambda method: print(method, end=" "))
    print(f"<- {task_set} tasks done")
summary = summarize(rows)
paths = write_results(rows, REPO_DIR / "runs" / "06_comparison")
print("written:", *paths.values(), sep="\n  ")

# %% [markdown]
# ## One figure
#
# **Look at:** the episode length relative to the fewest-steps limit (1.0), and the
# success rate, per method; evaluation and held-out tasks side by side.

# %%
plotting.plot_method_summary(summary)

# %% [markdown]
# ## One table
#
# Means over the tasks of a set; *worst* = the worst task of the set; *steps / fewest* =
# mean episode length divided by the fewest-steps planner's on the same episodes.

# %%
lines = ["| method | tasks | success | worst success | steps | worst steps | steps / fewest |",
         "|---|---|---|---|---|---|---|"]
for row in summary:
    lines.append(f"| `{row['method']}` | {row['task_set']} | {row['success_rate']:.0%} | "
                 f"{row['worst_success_rate']:.0%} | {row['mean_length']:.2f} | "
                 f"{row['worst_length']:.1f} | {row['steps_over_fewest']:.2f} |")
Markdown("\n".join(lines))

# %%
by = {(row["method"], row["task_set"]): row for row in summary}
for task_set in task_sets:
    assert by[("inverse", task_set)]["success_rate"] == 1.0
    assert by[("fewest-steps", task_set)]["success_rate"] == 1.0
    assert by[("fewest-steps", task_set)]["mean_length"] <= by[("inverse", task_set)]["mean_length"]
    assert by[("meta-1", task_set)]["success_rate"] >= 0.95, "one batch adapts the meta-policy"
    assert by[("meta-1", task_set)]["mean_length"] < by[("meta-0", task_set)]["mean_length"]

# %% [markdown]
# ## Reading the results
#
# * **`random`** rarely succeeds: steering is not trivial.
# * **`ppo`** is excellent on task 0 (part of the evaluation set) and fails on many
#   other optics: it learned one task.
# * **`meta-0`** succeeds on (nearly) every task, but slowly: the meta-policy encodes a
#   cautious correction that works for all optics.
# * **`meta-1`**: one batch of 16 episodes of the new task makes it fast, in the range
#   of the inverse-response controller, without ever being told $R$.
# * **`meta-2`, `meta-4`**: faster still, below the inverse-response controller;
#   meta-training optimised the policy after 4 such steps. Look at the *worst* columns
#   too: the held-out tasks vary more than the five evaluation tasks.
# * **`inverse`** needs $R$, which on the real machine must be measured or modelled,
#   and is not optimal either: **`fewest-steps`** shows that the action limits, not
#   the physics, set the pace.
# * Evaluation and held-out numbers tell the same story: the meta-policy was not tuned
#   to the five evaluation tasks. Five tasks are few, though: rare failures show up only
#   on the larger held-out set.
#
# ## Exercises
#
# Try them in new cells below; each has a solution to unfold.
#
# **1. The hardest held-out task.** Find the held-out task on which `meta-1` needs the
# most steps *relative to the fewest-steps limit*. Show its response matrix next to the
# nominal one. What is special about it?

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from awake_tutorial.tasks import get_evaluation_task
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
# </details>

# %% [markdown]
# **2. The mean action alone.** The comparison lets the adapted meta-policy sample its
# actions. On the machine an operator might rather apply its mean action, without
# noise. Adapt the meta-policy to every held-out task for 4 batches and score it both
# ways (`as_numpy_policy(deterministic=True)` and `deterministic=False`). On the task
# where the mean action does worst, follow the RMS of a failed episode step by step.
# What happens?

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from awake_tutorial.benchmark import evaluate
# from awake_tutorial.envs import AwakeSteeringEnv
# from awake_tutorial.training import adapt
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
# loop). MAML scores the adapted *sampling* policy, which does not see such cycles, so
# nothing in meta-training removes them; that is also why the comparison scores the
# sampling policy. Remedies an operator would use: stop adapting once the task is
# solved, keep a little action noise, or use more episodes per step.
#
# </details>

# %% [markdown]
# **3. Why does PPO not adapt?** PPO and the meta-policy are both small neural networks
# trained by policy gradients. Why does only one of them improve on a new task?

# %% [markdown]
# <details><summary>Solution</summary>
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
# </details>

# %% [markdown]
# **4. Fewer episodes per adaptation step.** On the real machine every episode costs
# beam time. Repeat the `meta-1` comparison on the held-out tasks with 4 instead of 16
# episodes per batch. What changes, and why?

# %% [markdown]
# <details><summary>Solution</summary>
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
# like 1/N); the step has the same size (`fast_lr`), so on average it still improves
# the episode length, but less reliably: on some tasks it makes things much worse
# (look at the worst success rate). The meta-policy was
# meta-trained with 16 episodes per step, so its starting point is tuned for that noise
# level: meta-training with `fast_batch_size: 4` would give a starting point that copes
# better with few episodes.
#
# </details>

# %% [markdown]
# **5. Outside the training distribution.** Meta-training saw quadrupole scale factors
# in $[0.75, 1.25]$. Build a task with every knob at 1.4 and compare `meta-0`, `meta-4`
# and the benchmarks on it.

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from awake_tutorial.optics import KNOBS
# from awake_tutorial.tasks import task_from_quad_scales
# far = task_from_quad_scales({knob: 1.4 for knob in KNOBS}, task_id=900)
# plotting.plot_tasks([task_sets["evaluation"][0], far])
# rows_far = compare_methods([far], ["meta-0", "meta-1", "meta-4", "inverse", "fewest-steps"],
#                            episodes=episodes, seed=0, meta_policy=meta_policy,
#                            config=config, task_set="far")
# summarize(rows_far)
# ```
#
# The benchmarks do not care: they are given the task's $R$. This optics responds
# much more strongly than any training task (entries over 100 m/rad, about three times
# the largest in the training distribution): the unadapted meta-policy overshoots and
# fails on about half of the episodes. One adaptation batch repairs it, but further
# batches make it unstable again: the meta-learned starting point and step size
# `fast_lr` were tuned to the training distribution, and here the same change of the
# network moves the beam much further. Meta-learning helps most inside the
# distribution it was trained on: choosing the task distribution is part of the design.
#
# </details>

# %% [markdown]
# **6. The wall penalty.** The environment charges a wall hit $-10$ for every step left
# (`wall_penalty="strict"`). The reference course did not (`"reference"`). Why can this
# matter for learning, although the physics is the same?

# %% [markdown]
# <details><summary>Solution</summary>
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
# </details>
