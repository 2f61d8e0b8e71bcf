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
# # Solutions to notebook 2: PPO on a single task
#
# Open this after trying the exercise of `../02_ppo_single_task.ipynb`. The checker below
# the solution prints `PASS` (CI runs this notebook).

# %%
from awake_tutorial import exercises
from awake_tutorial.quick import mode_banner

print(mode_banner())

# %% [markdown]
# ## Exercise 1: reading the result honestly
#
# Two things make a plausible answer wrong. The rows of two methods need not come in the
# same order, so they are matched by `task_id`, not by position. And a mean episode length
# that averages in failed episodes (ended at the wall after a few steps, or at the time
# limit of 100) measures nothing: the ratio exists only where PPO solved every episode.

# %% tags=["solution"]
def length_ratio(ppo_rows, inverse_rows):
    """{task_id: PPO mean length / inverse mean length, or None where PPO fails episodes}."""
    inverse_length = {row["task_id"]: row["mean_length"] for row in inverse_rows}
    return {row["task_id"]: row["mean_length"] / inverse_length[row["task_id"]]
            if row["success_rate"] == 1.0 else None
            for row in ppo_rows}


# %%
assert exercises.check_length_ratio(length_ratio)
