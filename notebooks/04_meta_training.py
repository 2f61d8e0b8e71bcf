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
# # 4. Meta-training with MAML-TRPO
#
# Notebook 3 adapted a random policy to each task with REINFORCE: it worked, but took
# tens of batches. **MAML** (Model-Agnostic Meta-Learning, Finn et al. 2017) keeps that
# inner loop and learns its *starting point* $\theta$ over many tasks, so that a few
# inner steps suffice on a task never seen before. In this notebook you run the whole
# meta-training, end to end, with a live dashboard.

# %%
import json

from awake_tutorial import plotting
from awake_tutorial.config import load_config
from awake_tutorial.dashboard import MetaTrainingDashboard, watch
from awake_tutorial.paths import REPO_DIR
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.training import meta_train

print(mode_banner())

# %% [markdown]
# ## The MAML objective
#
# Tasks $\mathcal T$ come from a distribution $p(\mathcal T)$ (here: random quadrupole
# settings). For each task, the inner loop turns $\theta$ into adapted parameters with
# REINFORCE steps on `fast_batch_size` episodes each (one step shown):
#
# $$ \theta'_{\mathcal T}(\theta) = \theta - \alpha\,\nabla_\theta \mathcal L^{\text{inner}}_{\mathcal T}(\theta). $$
#
# MAML maximises the return **after** adaptation, measured on fresh (validation)
# episodes of the same task:
#
# $$ \max_\theta\ \ \mathbb E_{\mathcal T\sim p(\mathcal T)}\Big[ J_{\mathcal T}\big(\theta'_{\mathcal T}(\theta)\big)\Big]. $$
#
# Each **meta-batch** draws `meta_batch_size` tasks, adapts to each (`num_steps` inner
# steps), samples validation episodes with the adapted policies and makes one outer
# update of $\theta$. The dashboard shows, per meta-batch, the episodes *before*
# adaptation (with $\theta$) and *after* (with $\theta'$).
#
# ### First or second order
# By the chain rule the meta-gradient goes through the adaptation step:
#
# $$ \nabla_\theta J(\theta') = \big(I - \alpha\, \nabla^2_\theta \mathcal L^{\text{inner}}(\theta)\big)\,
#    \nabla_{\theta'} J(\theta'). $$
#
# *Second-order* MAML keeps the Hessian term (differentiating through the inner
# gradient, `first_order: false`); *first-order* MAML (FOMAML, our default,
# `first_order: true`) drops it and uses $\nabla_{\theta'}J(\theta')$ directly. FOMAML
# works about as well on many problems and is many times cheaper.
#
# ## The outer update: TRPO
#
# The outer step must not change the policy too much at once: a bad step could ruin
# every task. **TRPO** (Trust Region Policy Optimization) maximises the surrogate
# objective under a bound on the KL divergence between the old and new (adapted)
# policies:
#
# $$ \max_\theta\ \frac1K\sum_{k=1}^K \mathbb E\Big[\frac{\pi_{\theta'_k}(a\mid s)}{\pi_{\theta'_{k,\text{old}}}(a\mid s)}\hat A\Big]
#    \quad\text{s.t.}\quad \frac1K\sum_k \overline{\mathrm{KL}}\big(\pi_{\theta'_k}\,\|\,\pi_{\theta'_{k,\text{old}}}\big) \le \delta . $$
#
# ($\overline{\mathrm{KL}}$: mean over the visited states. Near $\theta_\text{old}$ both
# directions of the KL agree to second order, which is all TRPO uses.)
#
# Linearising the objective (gradient $g$) and taking the KL to second order (Fisher
# matrix $F$) gives the step direction $x = F^{-1} g$:
#
# 1. **Conjugate gradient** solves $F x = g$ in `cg_iters` iterations using only
#    products $F v$, never the matrix $F$ itself (damping `cg_damping` added).
# 2. **Scaling** to the edge of the trust region: $\Delta\theta = \sqrt{2\delta / x^\top F x}\; x$,
#    with $\delta$ = `max_kl`.
# 3. **Line search**: try $\beta^j \Delta\theta$ for $j = 0, 1, \dots$ ($\beta$ =
#    `ls_backtrack_ratio`) until the surrogate improves *and* the measured KL is
#    $\le \delta$; if none works, keep $\theta$ (a *rejected* step, marked x in the KL panel).
#
# The code: `awake_tutorial/metalearners/trpo.py` (conjugate gradient, line search) and
# `awake_tutorial/metalearners/maml_trpo.py` (the meta-objective and the step).
#
# ## The settings
# All settings live in `awake_tutorial/configs/awake.yaml` (the reference course's
# values); any of them can be overridden, e.g. `load_config(meta_batch_size=16)`.

# %%
config = load_config(num_batches=budget(500, 20))
for key in ("num_batches", "meta_batch_size", "fast_batch_size", "num_steps", "fast_lr",
            "first_order", "max_kl", "cg_iters", "cg_damping", "ls_backtrack_ratio"):
    print(f"{key:20s} {getattr(config, key)}")

# %% [markdown]
# ## Meta-train, live
#
# Every meta-batch appends one line to `progress.jsonl` in the run folder and saves
# the policy (`policy.pt`), so a run can be stopped (**Stop** button) and resumed
# (`meta_train(config, run_dir, resume=True)`).
#
# **Look at:**
# * *return*, *length*, *success*: the gap between *before* (grey) and *after*
#   adaptation (blue) is what MAML creates; both curves rise as $\theta$ becomes a
#   better starting point. The shaded band is the range over the tasks of the batch.
# * *KL*: every accepted step (o) sits at or below `max_kl`; rejected steps (x) leave
#   $\theta$ unchanged.
#
# Full mode takes a couple of minutes on a laptop; quick mode runs only a few
# meta-batches, too few to learn much (notebook 5 loads a fully trained meta-policy).

# %%
run_dir = REPO_DIR / "runs" / "04_meta_training"
dashboard = MetaTrainingDashboard(config.num_batches).display()
result = meta_train(config, run_dir=run_dir, callback=dashboard, overwrite=True)
dashboard.close()
assert len(result.records) == config.num_batches or dashboard.stop_requested
assert all(r["kl"] <= config.max_kl * (1 + 1e-6) for r in result.records if r["step_accepted"])
plotting.plot_meta_training(result.records)

# %% [markdown]
# ## What a run leaves on disk

# %%
for path in sorted(run_dir.iterdir()):
    print(f"{path.name:16s} {path.stat().st_size:8d} bytes")
print(json.dumps(result.records[-1]["timings"], indent=1))
print((run_dir / "meta.json").read_text())

# %% [markdown]
# The `timings` (s) of a meta-batch show where the time goes: *sampling* the episodes,
# the *inner* steps, and the *outer* TRPO step (gradient, conjugate gradient, line search).
#
# ## Following a run from the terminal
#
# Long runs are better started from a terminal, where they survive a closed browser tab:
#
# ```bash
# awake-tutorial meta-train --run-dir runs/meta
# ```
#
# and followed from a notebook with `watch(run_dir)`: it reads `progress.jsonl` as it
# grows and shows the same dashboard, until the run finishes (or you press Stop, which
# stops *watching*, not the run). Here we point it at the run we just finished: it
# reads all its records and returns at once.

# %%
watched = watch(run_dir, poll_interval=0.2, timeout=budget(60, 10))
assert watched is not None and len(watched.records) == len(result.records)
watched.figure()

# %% [markdown]
# ## Questions
#
# 1. In the figure, why is the return *before* adaptation also rising, although MAML
#    only optimises the return *after* adaptation?
# 2. `max_kl` = $10^{-3}$ is small. What would you expect with $10^{-2}$? Try it on a
#    few meta-batches (`load_config(max_kl=1e-2, num_batches=20)`).
# 3. Second-order MAML: run two meta-batches with `load_config(first_order=False,
#    num_batches=2)` and compare `result.records[-1]["timings"]["outer"]` with the
#    first-order run.

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. The adapted parameters $\theta'$ are a few small steps away from $\theta$, so what
#    makes $\theta'$ good on every task (steering that works for all optics) mostly
#    makes $\theta$ good too; first-order MAML even uses the gradient at $\theta'$ as
#    the gradient at $\theta$. What MAML adds is the *gap* between the curves: a
#    starting point from which one REINFORCE step helps a lot.
# 2. Each outer step may change the policy ten times more (in KL), so early progress is
#    faster: in 20 meta-batches the success after adaptation climbs noticeably quicker.
#    The price: the line search has to shrink the steps more often (`ls_steps` in the
#    records), and a large step late in training, when the policy is already good, can
#    undo progress. The reference course's $10^{-3}$ favours steady progress over
#    hundreds of meta-batches.
# 3. Second-order steps take tens of seconds instead of a fraction of a second, about
#    a hundred times slower: every Fisher-vector product in the conjugate gradient then
#    differentiates twice through the inner REINFORCE steps. On many problems
#    first-order MAML learns about as well, which is why it is the default here.
#
# </details>
