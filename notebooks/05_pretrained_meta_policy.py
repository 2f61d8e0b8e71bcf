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
# Notebook 3 adapted a *random* policy to each evaluation task: tens of batches.
# Notebook 4 showed how MAML-TRPO learns a starting point for that adaptation. The
# course ships a meta-policy trained with the full budget
# (`data/pretrained_meta_policy.pt`, made by `awake-tutorial meta-train`). Here we run
# **exactly the same inner loop** from it, on the five evaluation tasks, which it never
# saw during meta-training (meta-training samples its own random tasks), and compare.

# %%
import json

from awake_tutorial import plotting, plotting_compare
from awake_tutorial.compare import compare_methods, summarize
from awake_tutorial.config import load_config
from awake_tutorial.dashboard import AdaptationDashboard
from awake_tutorial.paths import data_file
from awake_tutorial.policies import load_pretrained
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.tasks import load_evaluation_tasks
from awake_tutorial.training import adapt

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
# Same settings as notebook 3: per batch 16 episodes per task and one REINFORCE step
# ($\alpha$ = `fast_lr`). Batch 0 shows the meta-policy itself, before any adaptation.
# Meta-training optimised the return after `num_steps` = 4 such steps; we run a few more
# to see what happens beyond.
#
# **Look at:** the success rate after one or two batches, and compare the axes with
# notebook 3's figure (which needed tens of batches).

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
# adapted policies on fresh episodes, `awake_tutorial.compare.compare_methods` adapts the
# meta-policy for $k$ = 0, 1, 2, 4 batches (methods `meta-k`), then runs every method on
# the same episodes (same starting orbits). The adapted policies act as they were
# trained and adapted: they *sample* their actions (seeded noise), because MAML
# optimises the return of the sampling policy. The two benchmarks act deterministically.
# `summarize` adds *steps / fewest*: each method's mean episode length divided by that
# of the fewest-steps planner on the same episodes (1.0 = the physical limit).

# %%
methods = ["meta-0", "meta-1", "meta-2", "meta-4", "inverse", "fewest-steps"]
rows = compare_methods(tasks, methods, episodes=budget(100, 20), seed=1, meta_policy=meta_policy,
                       config=config)
summary = {row["method"]: row for row in summarize(rows)}
print(f"{'method':14s} {'success':>8s} {'worst task':>11s} {'steps':>6s} {'steps / fewest':>15s}")
for method in methods:
    row = summary[method]
    print(f"{method:14s} {row['success_rate']:8.0%} {row['worst_success_rate']:11.0%} "
          f"{row['mean_length']:6.2f} {row['steps_over_fewest']:15.2f}")
plotting_compare.plot_comparison({method: [r for r in rows if r["method"] == method] for method in methods},
                                 title="meta-policy adapted for k batches vs the benchmarks")

# %%
assert summary["meta-4"]["worst_success_rate"] >= 0.95, "the adapted meta-policy steers every task"
assert summary["meta-1"]["mean_length"] < summary["meta-0"]["mean_length"], "one batch helps"
assert summary["meta-2"]["mean_length"] < summary["inverse"]["mean_length"], "two batches beat the textbook"
assert summary["fewest-steps"]["success_rate"] == 1.0

# %% [markdown]
# ## How close to the physical limit?
#
# The fewest-steps planner knows $R$ exactly; the learned policies only see readings
# and a few dozen episodes of the new task.
#
# **Look at:**
# * `meta-0`: the meta-policy *before* adaptation already steers the beam on every
#   task, but slowly: it has learned what is *common* to all optics, a cautious
#   correction that works everywhere;
# * `meta-1`, `meta-2`: one or two batches (16 to 32 episodes per task) make it fast,
#   faster than the inverse-response controller that knows $R$, and within a few tens
#   of percent of the physical limit. A few dozen episodes is what a control room can
#   afford;
# * `meta-4` gains little over `meta-2`: the adaptation has converged;
# * compare with the random policy after the same number of batches (second figure
#   above, and notebook 3).
#
# ## Summary
#
# Meta-learning turned "hundreds of episodes per new optics" into "a few dozen". The
# cost was paid once, offline, during meta-training (notebook 4), on simulated tasks.
#
# **Next:** notebook 6 puts every method of the course side by side on 20 more held-out
# tasks.
