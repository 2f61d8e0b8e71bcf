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
# # 5. The payoff: adapting a pretrained meta-policy
#
# Notebook 3 adapted a *random* policy to each evaluation task: about ten batches of 16
# episodes before it steered well (`reinforce-10`: 2.30 steps after 1,374 machine steps per
# task, `docs/results/comparison_summary.csv`).
# Notebook 4 showed how MAML-TRPO learns a starting point for that adaptation. The
# course ships a meta-policy trained with the full budget
# (`data/pretrained_meta_policy.pt`, made by `awake-tutorial meta-train`). Here we run
# **exactly the same inner loop** from it, on the five evaluation tasks, which it never
# saw during meta-training (meta-training samples its own random tasks), and compare.
#
# ### Learning objectives
# After this notebook you can
# * adapt a pretrained meta-policy to a task and count what it cost in episodes;
# * score it the course's way: the mean action as headline, sampled actions as a
#   labelled second column, over several seeds;
# * **adapt and score** the meta-policy on a task of your choice (graded exercise);
# * say how far the adapted policy is from the physical limit, from the measured table.
#
# **Prerequisites:** notebooks 3 and 4 (the inner loop, what meta-training optimises).
#
# **Time:** about 45 min for a learner (reading 25, the exercise 15, the quiz 5); the code
# runs in about a minute (quick mode: < 30 s). Exercises are graded as in notebook 1;
# the worked solution is in `solutions/05_pretrained_meta_policy.ipynb`.

# %%
import json

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.controllers import InverseResponsePolicy
from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.paths import data_file
from awake_tutorial.physics.tasks import load_evaluation_tasks, sample_tasks, task_from_quad_scales
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.runs.compare import SEEDS, compare_methods, summarize
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.training import adapt
from awake_tutorial.ui import plotting, plotting_compare
from awake_tutorial.ui.dashboard import AdaptationDashboard

print(mode_banner())

# %% [markdown]
# ## The shipped meta-policy
#
# The file holds the network weights only; the `.json` next to it says how it was made
# (the full configuration is in there too).

# %%
meta_policy = load_pretrained("meta")  # checks the file's sha256 against the .json
print(meta_policy)
info = json.loads(data_file("pretrained_meta_policy.json").read_text())
for key in ("kind", "architecture", "num_batches", "seed", "wall_time_s", "command"):
    print(f"{key:13s} {info.get(key)}")

# %% [markdown]
# ## Adapt it, live
#
# As in notebook 3, per batch 16 episodes per task and one REINFORCE step, but with the
# step sizes $\alpha_n$ the meta-policy learned (Meta-SGD, notebook 4): they are stored in
# its file and `adapt` uses them. Batch 0 shows the meta-policy itself, before any adaptation.
# Meta-training optimised the return after `num_steps` such steps (`config.num_steps`,
# printed with the settings in notebook 4); we run more to see what happens beyond.
#
# **Look at:** the success rate after one or two batches, and compare the axes with
# notebook 3's figure (which needed about ten).

# %%
config = load_config()
tasks = load_evaluation_tasks()
num_batches = budget(10, 5)
dashboard = AdaptationDashboard([task.id for task in tasks], num_batches).display()
from_meta = adapt(meta_policy, tasks, num_batches, config, seed=0, callback=dashboard)
dashboard.close()
plotting.plot_adaptation(from_meta.records)

# %% [markdown]
# The same number of batches from a random policy, same seeds (same episode starts):

# %%
from_random = adapt(None, tasks, num_batches, config, seed=0)
plotting.plot_adaptation(from_random.records)

# %% [markdown]
# ## Evaluation after 0, 1, 2 and 4 batches
#
# The curves above show the episodes each adaptation batch sampled. To score the
# adapted policies on fresh episodes, `awake_tutorial.runs.compare.compare_methods` adapts the
# meta-policy for $k$ = 0, 1, 2, 4 batches (methods `meta-k`), then runs every method on
# the same episodes (same starting orbits), for several adaptation seeds. The scoring
# convention of the course (`notebooks/README.md`): the headline *steps* score the
# adapted policy's **mean action** (what an operator would run), with a failed episode
# counted as 100 steps; adaptation itself samples, and the *sampled* columns score the
# same adapted policies sampling their actions. The two benchmarks are deterministic.
# *steps / fewest* divides each method's steps by the fewest-steps planner's on the same
# episodes (1.0 = the physical limit); the spread is the standard deviation over seeds.
# For $E$ episodes of a task with lengths $T_e$,
#
# $$ \text{steps} = \frac1E\sum_{e=1}^{E} \begin{cases} T_e & \text{episode } e \text{ reached 1 mm}\\
#    100 & \text{it failed (time limit or wall)} \end{cases}, \qquad
#    \text{steps / fewest} = \operatorname{mean}_\text{tasks, seeds}\frac{\text{steps}}{\text{steps}_\text{fewest}} , $$
#
# averaged over the tasks, then over the seeds.

# %%
methods = ["meta-0", "meta-1", "meta-2", "meta-4", "inverse", "fewest-steps"]
seeds = budget(list(SEEDS), list(SEEDS[:1]))
rows = compare_methods(tasks, methods, episodes=budget(100, 20), seed=seeds, meta_policy=meta_policy,
                       config=config)
summary = {row["method"]: row for row in summarize(rows)}
print(f"{len(seeds)} seed(s); steps: failed episodes count as {config.max_steps}\n")
spread = (lambda std: "  - " if std is None else f"{std:4.2f}")  # no spread from one seed (quick mode)
print(f"{'method':14s} {'success':>8s} {'worst task':>11s} {'steps (mean action)':>20s} "
      f"{'steps / fewest':>15s} {'steps (sampled)':>16s} {'success (sampled)':>18s}")
for method in methods:
    row = summary[method]
    sampled = (f"{row['sampled_steps_failed_as_max']:16.2f} {row['sampled_success_rate']:18.0%}"
               if row["sampled_steps_failed_as_max"] is not None else f"{'-':>16s} {'-':>18s}")
    print(f"{method:14s} {row['success_rate']:8.0%} {row['worst_success_rate']:11.0%} "
          f"{row['steps_failed_as_max']:13.2f} +- {spread(row['steps_failed_as_max_std'])} "
          f"{row['steps_over_fewest']:15.2f} {sampled}")
plotting_compare.plot_comparison({method: [r for r in rows if r["method"] == method] for method in methods},
                                 title="meta-policy adapted for k batches vs the benchmarks")

# %%
assert summary["meta-1"]["worst_success_rate"] >= 0.95, "one batch adapts the meta-policy to every task"
# one batch keeps it at least as fast (full mode: 2.28 against 2.32 steps; quick mode's few episodes add noise)
assert summary["meta-1"]["steps_failed_as_max"] <= summary["meta-0"]["steps_failed_as_max"] + 0.5, "one batch hurt"
assert summary["fewest-steps"]["success_rate"] == 1.0

# %% [markdown]
# ## How close to the physical limit?
#
# The fewest-steps planner knows $R$ exactly; the learned policies only see readings
# and a few dozen episodes of the new task.
#
# **Look at:**
# * `meta-0`: the meta-policy *before* adaptation: it has learned what is *common* to
#   all optics, a correction that works on most of them;
# * `meta-1`, `meta-2`: one or two batches (16 to 32 episodes per task); read off the
#   table whether they beat the inverse-response controller, which *knows* $R$, and
#   how far *steps / fewest* is from 1.0 (a ratio of 1.6 means 60 % above the physical
#   limit). A few dozen episodes is what a control room can afford;
# * `meta-4`: whether further batches still help or the adaptation has converged;
# * the *sampled* columns: how much the headline would change if the operator kept the
#   exploration noise on;
# * compare with the random policy after the same number of batches (second figure
#   above, and notebook 3).

# %% [markdown]
# ## Exercise 1 (graded): your own optics
# Choose a task: a quadrupole setting of your own, e.g.
# `task_from_quad_scales({"kqd430031": 1.2}, task_id=901)` (knob names:
# `awake_tutorial.physics.lattice_model.default_lattice().knob_names`; scales between 0.75
# and 1.25 stay inside the training distribution), or a fresh random one,
# `sample_tasks(1, seed=<your number>, first_id=900)[0]`.
#
# Then write `adapt_and_score(meta_policy, task, config, num_batches, episodes, seed)`:
# adapt the meta-policy to `task` for `num_batches` batches (the notebook's adaptation
# cell above shows how; give it the seed), and score the adapted policy the course's way
# on `episodes` fresh episodes (the seed again). Return `evaluate`'s row for the task (a
# dict with `mean_length`, `success_rate`, ...).

# %%
my_task = sample_tasks(1, seed=2024, first_id=900)[0]  # or task_from_quad_scales({...}, task_id=901)
print({knob: round(scale, 3) for knob, scale in my_task.quad_scales.items()})

# %% tags=["exercise-stub"]
def adapt_and_score(meta_policy, task, config, num_batches, episodes, seed):
    """evaluate's row for `task`: the meta-policy adapted for num_batches batches, mean action."""
    raise NotImplementedError("two phases: adaptation explores, so it samples; the score is what an operator "
                              "would run. Which policy do you score, on which episodes, acting how?")


# %%
my_episodes, my_batches = budget(50, 10), 1
adapt_and_score = exercises.graded(exercises.check_adapt_and_score, adapt_and_score, meta_policy, my_task, config,
                                   num_batches=my_batches, episodes=my_episodes)
for k in (0, 1, 2):
    row = adapt_and_score(meta_policy, my_task, config, k, my_episodes, seed=0)
    print(f"your task, {k} batches: {row['mean_length']:5.2f} steps, success {row['success_rate']:.0%}")
inverse_row = evaluate(per_task(InverseResponsePolicy), [my_task], episodes=my_episodes, seed=0)[0]
print(f"inverse response (knows R): {inverse_row['mean_length']:.2f} steps")

# %% [markdown]
# ## Self-check quiz
#
# Click an answer: each option says why it is right or wrong. (The quiz cells' code is
# collapsed; in a viewer without widgets, e.g. a plain `.ipynb` on the web, the options
# and their explanations are that code.)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"1. Why does adaptation sample its actions while the headline scores the mean action?", {
    r"The policy gradient needs exploration; an operator runs the best guess without noise":
        r"Right: only sampled actions tell which <i>other</i> actions would be better. The sampled column shows how much the noise would cost or help.",
    r"Sampling is faster to compute":
        r"No: both cost one forward pass; the difference is what each is for.",
    r"The mean action cannot be adapted":
        r"No: adaptation changes the whole Gaussian, mean included; it just needs samples to estimate its gradient.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"2. <code>meta-1</code> costs how many episodes of the new task, and how many machine steps if its 16 episodes last 5 steps on average?", {
    r"16 episodes, about 80 machine steps":
        r"Right: $16 \times 5 = 80$; each step sets the correctors and reads the BPMs once. (Measured: 37 machine steps per evaluation task, <code>docs/results</code>: the shipped policy succeeds in about 2 to 3 steps.)",
    r"1 episode, 5 machine steps":
        r"No: one <i>batch</i> is <code>fast_batch_size</code> = 16 episodes.",
    r"16 episodes, 1,600 machine steps":
        r"No: an episode lasts until success (here 5 steps on average), not the 100-step limit.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"3. <code>meta-0</code> is scored on the evaluation tasks, which meta-training never saw. Why is that still not a fully independent test?", {
    r"The course's text and settings were developed looking at these five tasks":
        r"Right: decisions may be tuned to them. Notebook 6 adds 20 held-out tasks drawn with a seed used nowhere else, and several adaptation seeds.",
    r"Because meta-training did see them":
        r"No: meta-training samples its own random tasks.",
    r"Because five tasks are too many":
        r"No: five are few, which is part of the problem, but the main issue is that they were looked at while designing.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"4. The previous shipped policy, adapted without safeguards, needed more steps on the 20 held-out tasks after 4 batches than after 2 (2.90 ± 1.25 against 2.46 ± 0.08; <code>docs/results/no_cycle_variants.md</code> has the same effect over 8 seeds). Why can one more REINFORCE step make the mean action worse?", {
    r"The step comes from 16 noisy episodes with no trust region, and it improves the sampling policy, not its mean":
        r"Right: a step size learned for the first steps from the meta-policy can overshoot from an already adapted policy, and the inner loss rewards the sampling policy, so the mean action can fall into a limit cycle (notebook 6, exercise 2). The shipped configuration guards against it: a trust region on each inner step (<code>inner_max_kl</code>) and a stability check that shortens a step whose closed loop would overshoot (<code>stable_adaptation</code>, <code>runs/stability.py</code>).",
    r"More steps always help; it is noise in the table":
        r"No: the spread over seeds (± 1.25) comes from seeds where the mean action failed episodes on some held-out tasks, not from a few unlucky episodes.",
    r"The meta-policy forgets the task after two steps":
        r"No: nothing is forgotten; each step moves the parameters further, and a step can go the wrong way for the mean action.",
}, answer=0)

# %% [markdown]
# ## Summary
#
# Meta-learning turned "ten batches of 16 episodes per new optics" (notebook 3; 1,374
# machine steps per evaluation task for 2.30 steps per correction) into "one batch" (37
# machine steps for 2.28 steps; both `docs/results/comparison_summary.csv`, 4 seeds).
# The cost was paid once, offline, during meta-training (notebook 4), on simulated tasks.
#
# **Next:** notebook 6 puts every method of the course side by side on 20 more held-out
# tasks.
