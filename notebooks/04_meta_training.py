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
# about ten batches of 16 episodes (over 1,300 machine steps per task: `reinforce-10` in
# `docs/results/comparison_summary.csv`). **MAML** (Model-Agnostic Meta-Learning, Finn et al. 2017) keeps that
# inner loop and learns its *starting point* $\theta$ over many tasks, so that a few
# inner steps suffice on a task never seen before. In this notebook you run the whole
# meta-training, end to end, with a live dashboard.
#
# ### Learning objectives
# After this notebook you can
# * state the MAML objective and the difference between first- and second-order MAML;
# * write the Gaussian policy's log-likelihood, the KL between two Gaussians and the
#   Fisher matrix, and say how TRPO uses them;
# * **implement** conjugate gradient and the KL-scaled TRPO step (two graded exercises);
# * follow one MAML-TRPO meta-batch step by step (algorithm box) and read the
#   meta-training dashboard.
#
# **Prerequisites:** notebook 3 (REINFORCE, GAE, the baseline); notebook 2's
# definitions of the KL divergence and the Fisher matrix; gradients and Hessians.
#
# **Time:** about 70 min for a learner (reading 40, two exercises 25, the quiz 5); the
# code runs in about 2 min, of which meta-training about 40 s on 2 quiet cores (quick
# mode: < 30 s). Exercises are graded as in notebook 1;
# worked solutions are in `solutions/04_meta_training.ipynb`.
#
# **Which configuration:** every equation below is written for the course's default,
# `awake_tutorial/configs/awake.yaml` (`inner_weighting: sum`, `adapted_std: 0.1`,
# `zero_shot_weight: 1`, `max_kl: 0.03`, Meta-SGD, first order, and the inner step's trust
# region `inner_max_kl: 1` of notebook 3, which scales each task's step $\theta'_k$ by its
# $c_k \le 1$, a constant for the meta-gradient); where the reference course's
# configuration (`configs/reference.yaml`) differs, the text says so.

# %%
import inspect
import json

import torch
from IPython.display import Code

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.paths import REPO_DIR
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.rl.metalearners import MetaLearner
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.training import meta_train
from awake_tutorial.ui import plotting
from awake_tutorial.ui.dashboard import MetaTrainingDashboard, watch

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
# objective under a bound on the KL divergence between the new and the old (adapted)
# policies:
#
# $$ \max_\theta\ \frac1K\sum_{k=1}^K \mathbb E\Big[\frac{\pi_{\theta'_k}(a\mid s)}{\pi_{\theta'_{k,\text{old}}}(a\mid s)}\hat A\Big]
#    \quad\text{s.t.}\quad \frac1K\sum_k \overline{\mathrm{KL}}\big(\pi_{\theta'_k}\,\|\,\pi_{\theta'_{k,\text{old}}}\big) \le \eta . $$
#
# $\eta$ = `max_kl`. $\mathbb E$ and $\overline{\mathrm{KL}}$ are means over the validation
# steps of task $k$ with the **per-episode** weights $\omega_t$ (each episode weighs the
# same, `BatchEpisodes.weights`), whatever `inner_weighting` the inner loss of notebook 3
# uses. With the default `adapted_std: 0.1` the adapted policy $\pi_{\theta'_k}$ is scored
# with its std set to 0.1, and with `zero_shot_weight` $w = 1$ both sums get a second term
# for the unadapted policy (section *Meta-SGD* below). The code computes
# $\mathrm{KL}(\text{new}\,\|\,\text{old})$, as written; near $\theta_\text{old}$ both
# directions agree to second order, which is all TRPO uses.
#
# ### The Gaussian policy: log-likelihood, KL and Fisher matrix
# With mean $\mu = \mu_\theta(s)$ and standard deviations $\sigma_i = e^{\log\sigma_i}$ (10
# action dimensions, independent), the log-likelihood that the ratio and the REINFORCE
# loss use is (`policy.distribution(obs).log_prob(a).sum(-1)`)
#
# $$ \log\pi_\theta(a\mid s) = \sum_{i=1}^{10}\Big[-\frac{(a_i-\mu_i)^2}{2\sigma_i^2} - \log\sigma_i
#    - \tfrac12\log 2\pi\Big] . $$
#
# The KL between the new policy $(\mu, \sigma)$ and the old one $(\mu^\text{old}, \sigma^\text{old})$
# in one state has a closed form (`trpo.kl_divergence`, i.e. `torch.distributions.kl_divergence(new, old)`):
#
# $$ \mathrm{KL}\big(\pi\,\|\,\pi^\text{old}\big) = \sum_{i=1}^{10}\Big[\log\frac{\sigma^\text{old}_i}{\sigma_i}
#    + \frac{\sigma_i^2 + (\mu_i - \mu^\text{old}_i)^2}{2(\sigma_i^\text{old})^2} - \tfrac12\Big] . $$
#
# Its second derivative at $\theta = \theta_\text{old}$ is the **Fisher matrix**
# $F = \mathbb E\big[\nabla_\theta\log\pi\,\nabla_\theta\log\pi^\top\big]$, so that
# $\overline{\mathrm{KL}} \approx \tfrac12\Delta\theta^\top F\,\Delta\theta$. The textbook computes
# products $Fv$ by differentiating the KL twice (a "double backward",
# `trpo.hessian_vector_product`; config `fast_path: false`). For this policy $F$ also has a
# simple form, which the course's fast path uses (`awake_tutorial/rl/fast/gradients.py`,
# first-order MAML; a test checks both give the same products): with $J_t = \partial\mu_\theta(s_t)/\partial\theta$
# the Jacobian of the mean network and $\omega_t$ the per-episode step weights above
# (they sum to 1 per task),
#
# $$ F = \frac1K\sum_{k=1}^K\Big(\sum_{t\,\in\,\text{valid}_k} \omega_t\, J_t^\top \operatorname{diag}\!\big(\sigma'^{-2}\big) J_t
#    + w\!\!\sum_{t\,\in\,\text{train}_k} \omega_t\, J_t^\top \operatorname{diag}\!\big(\sigma^{-2}\big) J_t\Big)
#    \ \text{for the network weights}, \qquad 2w\,I \ \text{for}\ \log\sigma , $$
#
# where the first sum is the adapted policy on its validation steps, with std
# $\sigma' = $ `adapted_std` = 0.1, and the second the unadapted policy (its own $\sigma$)
# on the first adaptation batch, weighted by $w$ = `zero_shot_weight` = 1. The log-std
# block comes from the second term alone: the adapted policy's std is the constant 0.1,
# so its KL does not depend on $\log\sigma$. (In the reference configuration,
# `adapted_std: 0` and $w = 0$, it is $2I$ from the adapted term, with $\sigma' = \sigma$
# and no second term.) No cross terms; the mean block is estimated on at most
# `fisher_max_samples` steps per task. The code never builds $F$ (about 5000 x 5000): it computes products
# $Fv = J^\top(\sigma^{-2}\odot Jv)$ from one Jacobian-vector and one vector-Jacobian product.
# With Meta-SGD the meta-parameters also hold the log step sizes, and the same products
# run along each task's adapted direction (`metalearners/meta_sgd.py`).
#
# Linearising the objective (gradient $g$) and taking the KL to second order (Fisher
# matrix $F$) gives the step direction $x = F^{-1} g$:
#
# 1. **Conjugate gradient** solves $F x = g$ in `cg_iters` iterations using only
#    products $F v$, never the matrix $F$ itself (damping `cg_damping` added).
# 2. **Scaling** to the edge of the trust region: $\Delta\theta = \ell\, x$, with the length
#    $\ell$ for which the quadratic KL model equals $\eta$ = `max_kl` (exercise 2 derives it).
# 3. **Line search**: try $\zeta^j \Delta\theta$ for $j = 0, 1, \dots$ ($\zeta$ =
#    `ls_backtrack_ratio`) until the surrogate improves *and* the measured KL is
#    $\le \eta$; if none works, keep $\theta$ (a *rejected* step, marked x in the KL panel).
#
# The code: `awake_tutorial/rl/metalearners/trpo.py` (conjugate gradient, line search) and
# `awake_tutorial/rl/metalearners/maml_trpo.py` (the meta-objective and the step).
#
# ### Algorithm: one MAML-TRPO meta-batch (`MetaLearner.meta_batch`)
#
# ```text
# input: meta-parameters theta (Meta-SGD: with the log step sizes), settings of awake.yaml
# draw K = meta_batch_size tasks T_1..T_K from p(T)
# for each task k (all K at once, batched):
#     theta_k <- theta
#     repeat num_steps times:                                  # inner loop (notebook 3)
#         sample fast_batch_size episodes of T_k with pi(theta_k), actions sampled
#         fit the linear baseline, compute GAE advantages (normalised)
#         theta_k <- theta_k - alpha * grad L_inner(theta_k)     # REINFORCE step
#     sample fast_batch_size validation episodes of T_k with pi(theta_k); advantages
# outer step (TRPO), L(theta) = -mean_k E_valid[ pi_theta_k / pi_theta_k,old * A ]:
#     g <- grad_theta L                   (first order: d theta_k / d theta = I)
#     x <- conjugate_gradient(v -> F v, g, cg_iters)        # x ~ F^-1 g
#     full step d <- l * x, l such that 1/2 d^T F d = max_kl      # exercise 2
#     for j = 0, 1, ..., ls_max_steps - 1:                   # backtracking line search
#         theta_new <- theta - ls_backtrack_ratio^j * d; re-adapt on the same training episodes
#         if L(theta_new) < L(theta) and mean_k KL(pi_new_k || pi_old_k) <= max_kl:
#             theta <- theta_new; stop
#     (no try accepted: theta unchanged, a rejected step)
# awake.yaml's Meta-SGD (section below): theta includes log alpha (one per tensor); the
# validation episodes are sampled and scored with std adapted_std (close to the mean
# action); and with w = zero_shot_weight, L adds w * (-E_train1[pi_theta / pi_theta,old * A])
# (the unadapted policy's importance-ratio surrogate on the first adaptation batch, not
# L_inner) and the KL constraint adds w * KL(pi_theta || pi_theta,old) on the same steps.
# ```
#
# (The loss is minimised, so the code steps along $-x$; "improves" means a lower $L$.)
#
# The same meta-batch in the course's code, a method of every learner
# (`awake_tutorial/rl/metalearners/base.py`): the learner (`MAMLTRPO`, or `MetaSGDTRPO`; the
# config's `learner` key picks it) owns the inner loop (`num_steps`, the step sizes,
# `adapt_step`) and the TRPO step (`step`); the sampler's `streams` carry each task's random
# numbers from one round to the next. `runs/training.py` only seeds the streams and keeps the record.
#
# The meta-objective is a mean over tasks, so the meta-batch can be split: with
# `meta_batch_shards: 2` (the default) the first half of the tasks runs `sample_and_adapt` here
# and the second half in a second Python process at the same time; the TRPO step then adds the
# two halves' losses, gradients and Fisher products, half and half (`awake_tutorial/runs/shards.py`;
# on a one-core machine both halves run here, one after the other, with the same numbers).
# Same algorithm, both cores busy.

# %%
Code(inspect.getsource(MetaLearner.sample_and_adapt) + "\n\n" + inspect.getsource(MetaLearner.meta_batch),
     language="python")

# %% [markdown]
#
# ### Exercise 1 (graded): conjugate gradient
# Write `conjugate_gradient(Av, g, iters)` that solves $Ax = g$ for a symmetric positive
# definite $A$ known only through the function `Av(v)` $= Av$ ($g$ a flat torch vector; in
# TRPO, $A = F$ and $g$ the gradient). Start from $x = 0$, residual $q = g - Ax = g$ and
# direction $p = q$; each iteration:
#
# $$ \tau = \frac{q^\top q}{p^\top A p},\quad x \leftarrow x + \tau p,\quad
#    q' = q - \tau A p,\quad p \leftarrow q' + \frac{q'^\top q'}{q^\top q}\, p,\quad q \leftarrow q' . $$
#
# Stop after `iters` iterations or when $q^\top q < 10^{-10}$.

# %% tags=["exercise-stub"]
def conjugate_gradient(Av, g, iters):
    """Approximate solution x of A x = g (flat torch vectors); A only through Av(v) = A v."""
    raise NotImplementedError("the residual, g minus A x, tells how far x is from a solution: what are x, the "
                              "residual and the direction at the start, how many products with A does one "
                              "iteration need, and when can you stop early?")


# %%
conjugate_gradient = exercises.graded(exercises.check_conjugate_gradient, conjugate_gradient)

# %% [markdown]
# ### Exercise 2 (graded): the KL-scaled step
# Given the direction $x \approx F^{-1}g$ and the Fisher-vector product `fvp(v)` $= Fv$,
# return the step $\Delta\theta = \ell\, x$ whose quadratic KL $\tfrac12\Delta\theta^\top F\Delta\theta$
# equals $\eta$ = `max_kl` (the edge of the trust region). Derive $\ell$ on paper first.

# %% tags=["exercise-stub"]
def kl_scaled_step(x, fvp, max_kl):
    """The multiple of x whose quadratic KL 1/2 d^T F d equals max_kl."""
    raise NotImplementedError("put the step, l times x, into the quadratic KL model and solve for l; F is known "
                              "only through its products with vectors")


# %%
kl_scaled_step = exercises.graded(exercises.check_kl_scaled_step, kl_scaled_step)

# %% [markdown]
# ### Meta-SGD: learning the inner step sizes too
#
# MAML learns where the inner loop starts; its step size $\alpha$ stays a hand-set number
# (`fast_lr`). **Meta-SGD** (Li et al. 2017) learns it as well: one step size $\alpha_n$
# per parameter tensor $n$ (each layer's weights and bias, the log-std), kept positive by
# learning $\log\alpha_n$:
#
# $$ \theta'_{k,n} = \theta_n - \alpha_n\, \nabla_{\theta_n} \mathcal L^{\text{inner}}_{\mathcal T_k}(\theta),
#    \qquad \alpha_n = e^{\log\alpha_n}\ \text{(starts at fast\_lr)}. $$
#
# TRPO updates $(\theta, \log\alpha)$ together, inside the same trust region. With
# first-order adaptation $\partial\theta'_{k,n}/\partial\log\alpha_n = \theta'_{k,n}-\theta_n$, so a
# change $(v_\theta, v_\alpha)$ moves task $k$'s adapted parameters along
# $u_k = v_\theta + (\theta'_k-\theta)\,v_\alpha$: the Fisher-vector product above, with a
# per-task direction. The learned $\alpha_n$ are saved in the policy file and used
# whenever the policy adapts (`training.adapt`, notebook 5).
#
# Three more choices of `awake.yaml` (each marked "changed", each measured with
# `benchmarks/meta_training.py --quality`) make the adapted **mean action** reliable:
#
# * **The textbook REINFORCE estimator** (`inner_weighting: sum`):
#   $\nabla J = \mathbb E_\tau\big[\sum_t \nabla\log\pi(a_t\mid s_t)\,\hat A_t\big]$ sums over an
#   episode's steps (the reference averages them). A task the policy already solves in
#   one or two steps then moves $\theta$ little; averaging gave it as large a step as an
#   unsolved task, and on optics with a strong response that step overshoots.
# * **Score what is deployed** (`adapted_std: 0.1`): the outer loss rates the adapted
#   policy with a small std, close to its mean action, the way an operator runs it;
#   the adaptation episodes still explore with the policy's own std.
# * **Count the start** (`zero_shot_weight: 1`): the meta-objective adds the unadapted
#   policy's surrogate on the first adaptation batch, $\mathcal L(\theta'_k) + w\,\mathcal L_0(\theta)$
#   with $\mathcal L_0(\theta) = -\mathbb E_{\text{train}_1}\big[\tfrac{\pi_\theta}{\pi_{\theta_\text{old}}}\hat A\big]$
#   (an importance-ratio surrogate like the outer loss, not $\mathcal L_\text{inner}$), and the KL
#   constraint adds $w\,\overline{\mathrm{KL}}(\pi_\theta\,\|\,\pi_{\theta_\text{old}})$ on the same steps:
#   those episodes cost beam time too.
#
# The code: `awake_tutorial/rl/metalearners/meta_sgd.py` (`MetaSGDTRPO`, a subclass of
# `MAMLTRPO` that adds $\log\alpha$ to what TRPO learns). The step sizes the shipped
# meta-policy learned (the log-std's stays at `fast_lr`, 1.00 x: with `adapted_std` > 0
# the outer loss never sees the adapted log-std, so nothing moves its step size):

# %%
fast_lr = load_config().fast_lr
for name, alpha in load_pretrained("meta").step_sizes(fast_lr).items():
    print(f"{name:16s} alpha = {float(alpha):.5f}  ({float(alpha) / fast_lr:5.2f} x fast_lr)")

# %% [markdown]
# ## The settings
# All settings live in `awake_tutorial/configs/awake.yaml` (the reference course's
# values, except those the file marks "changed"); any of them can be overridden, e.g. `load_config(meta_batch_size=16)`.

# %%
config = load_config(num_batches=budget(500, 20))
for key in ("num_batches", "meta_batch_size", "fast_batch_size", "num_steps", "fast_lr", "learner",
            "inner_weighting", "adapted_std", "zero_shot_weight",
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
# Full mode (500 meta-batches) takes about 40 s on 2 quiet cores (both busy: the meta-batch is
# split over two processes), longer on a busy or
# smaller laptop (README, speed table); quick mode runs only a few meta-batches, too few
# to learn much (notebook 5 loads a fully trained meta-policy).

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
# ## Self-check quiz
#
# Click an answer: each option says why it is right or wrong. (The quiz cells' code is
# collapsed; in a viewer without widgets, e.g. a plain `.ipynb` on the web, the options
# and their explanations are that code.)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"1. In the figure the return <i>before</i> adaptation rises too, although MAML optimises the return <i>after</i> adaptation. Why?", {
    r"$\theta'$ is a few small steps from $\theta$: what makes $\theta'$ good on every task mostly makes $\theta$ good too":
        r"Right: first-order MAML even uses the gradient at $\theta'$ as the gradient at $\theta$, and the default adds the unadapted policy's term ($w = 1$). What MAML adds is the <i>gap</i> between the curves.",
    r"Because the validation episodes are sampled with $\theta$":
        r"No: they are sampled with the adapted policies $\theta'_k$.",
    r"It is a plotting artefact of quick mode":
        r"No: it shows in full mode as well; it follows from how close $\theta'$ stays to $\theta$.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"2. The default <code>max_kl</code> is $3\cdot10^{-2}$ (the reference course's is $10^{-3}$). What do you expect from $10^{-3}$? Predict, then try it on 20 meta-batches: <code>load_config(max_kl=1e-3)</code> and a budget of 20.", {
    r"Slower progress per meta-batch, with fewer rejected or shrunk steps":
        r"Right: each outer step may change the policy thirty times less (in KL). Larger steps learn faster early on, but the line search shrinks them more often (<code>ls_steps</code> in the records), and late in training a large step can undo progress.",
    r"The same progress: the line search makes up for it":
        r"No: the line search only shrinks steps, it never lengthens them beyond the trust region.",
    r"Faster progress: smaller steps are more accurate":
        r"No: the steps are more accurate, but thirty times smaller in KL; over 20 meta-batches that shows as slower progress.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"3. Second-order MAML (<code>load_config(first_order=False)</code>, two meta-batches): what changes in <code>result.records[-1]['timings']['outer']</code>? Predict, then measure.", {
    r"It grows a lot: every Fisher-vector product differentiates twice through the inner steps":
        r"Right: the exact meta-gradient keeps the inner step's graph, and the conjugate gradient repeats that product many times. Measure the factor on your machine; on many problems first-order MAML learns about as well, which is why it is the default.",
    r"It is the same: only the gradient changes":
        r"No: the gradient and every Fisher-vector product now go through the inner step's graph, which is far more work.",
    r"It shrinks, because no fast path is needed":
        r"No: second order needs the textbook double backward (the fast path's hand-written gradients are first order), which is slower.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"4. Why does TRPO solve $Fx = g$ with conjugate gradient instead of forming and inverting $F$?", {
    r"$F$ has thousands of rows; CG needs only products $Fv$, and <code>cg_iters</code> of them give a good direction":
        r"Right: forming $F$ would cost thousands of Fisher-vector products and inverting it a cubic solve; <code>cg_damping</code> handles the nearly singular directions.",
    r"Because $F$ is not symmetric":
        r"No: $F$ is symmetric positive semi-definite, which is exactly what CG needs.",
    r"Because $F^{-1}$ does not exist":
        r"No: damping makes $F$ invertible; the reason is cost, not existence.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"5. A line-search try lowers the surrogate loss, but its KL is $1.5\,\eta$. What happens next?", {
    r"The try is rejected and a shorter one ($\zeta$ times) is tested":
        r"Right: both conditions must hold. $\tfrac12\Delta\theta^\top F\Delta\theta$ is only the second-order model of the KL; for a finite step the higher-order terms (the network's non-linearity, the $\sigma$ dependence) make the measured KL differ.",
    r"It is accepted: the loss improved":
        r"No: the KL bound is a hard condition of every accepted step.",
    r"$\theta$ is reset and the meta-batch is sampled again":
        r"No: only when no try of the line search works does $\theta$ stay unchanged (a rejected step); nothing is resampled.",
}, answer=0)
