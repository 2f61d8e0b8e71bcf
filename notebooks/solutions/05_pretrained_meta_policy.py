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
# # Solutions to notebook 5: adapting the pretrained meta-policy
#
# Open this after trying the exercise of `../05_pretrained_meta_policy.ipynb`. The checker
# below the solution prints `PASS` (CI runs this notebook).

# %%
from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.envs import evaluate
from awake_tutorial.physics.tasks import sample_tasks
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.training import adapt

print(mode_banner())
meta_policy, config = load_pretrained("meta"), load_config()
my_task = sample_tasks(1, seed=2024, first_id=900)[0]

# %% [markdown]
# ## Exercise 1: adapt and score on your own optics
#
# Two phases, two ways to act. Adaptation needs exploration, so `adapt` samples its
# actions (as the policy gradient requires); the adapted policy is then scored the way an
# operator would run it, with its **mean action**, on fresh episodes. Both get the seed,
# so that the row is reproducible and comparable with other methods on the same starts.

# %% tags=["solution"]
def adapt_and_score(meta_policy, task, config, num_batches, episodes, seed):
    """evaluate's row for `task`: the meta-policy adapted for num_batches batches, mean action."""
    adapted = adapt(meta_policy, [task], num_batches, config, seed=seed).policies[0]  # samples while adapting
    return evaluate(adapted.as_numpy_policy(deterministic=True), [task], episodes=episodes, seed=seed)[0]


# %%
assert exercises.check_adapt_and_score(adapt_and_score, meta_policy, my_task, config, num_batches=1,
                                       episodes=budget(50, 10))
