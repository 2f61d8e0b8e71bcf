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
# # 1. The AWAKE steering problem
#
# [AWAKE](https://awake.web.cern.ch) at CERN accelerates electrons in the wakefield of a
# proton bunch travelling through a plasma. Before the plasma, a 15 m long transfer line
# (TT43) brings a **19 MeV electron beam** to the plasma merge point. The beam has to
# pass through the centre of the line: an offset of a few millimetres spoils the
# injection into the wakefield, and at 10 mm the beam scrapes the vacuum chamber.
#
# **Steering** = setting 10 small dipole magnets (*correctors*) so that the 10 *beam
# position monitors* (BPMs) read zero. In this notebook you meet:
#
# 1. the line: where the magnets are and how the quadrupoles focus the beam;
# 2. the **orbit response matrix** that links corrector kicks to BPM readings;
# 3. the reinforcement-learning environment built on it;
# 4. **tasks**: every quadrupole setting gives a different response matrix;
# 5. two policies that *know* the response matrix: the textbook inverse-response
#    controller and the fewest-steps planner, the physical limit of the course.
#
# ### Learning objectives
# After this notebook you can
# * write down the orbit response matrix $R$ and say why it is lower triangular;
# * state the observation, action, reward and end conditions of the steering environment;
# * **implement** the inverse-response controller (graded exercise) and **derive** when it
#   still converges with a wrong (nominal) model (graded exercise);
# * say what a *task* is and why the tasks of this course form a distribution.
#
# **Prerequisites:** Python and numpy; linear algebra (matrix inverse, eigenvalues);
# no accelerator physics or reinforcement learning needed (the terms are in the
# glossary, `notebooks/README.md`).
#
# **Time:** about 50 min for a learner (reading 25, two exercises 20, the quiz 5); the
# code runs in under a minute (quick mode: < 30 s).
#
# **How exercises work:** a cell tagged *exercise* holds a stub that raises
# `NotImplementedError` with a hint; write your code there and run it, then run the
# *check* cell below it. It grades **your** function and prints `PASS`, `NOT YET` and
# what is wrong, or `NOT DONE YET` while the stub is unfilled; the notebook runs on either
# way (later cells then use the package's own implementation and say so). Worked
# solutions are kept apart, in `solutions/01_awake_steering_problem.ipynb`: open it
# when you are stuck or done.

# %%
import numpy as np

from awake_tutorial import exercises
from awake_tutorial.controllers import FewestStepsPolicy, InverseResponsePolicy
from awake_tutorial.envs import AwakeSteeringEnv, evaluate, per_task
from awake_tutorial.physics import optics
from awake_tutorial.physics.lattice_model import default_lattice
from awake_tutorial.physics.tasks import load_evaluation_tasks, sample_tasks
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.ui import plotting, plotting_compare

print(mode_banner())

# %% [markdown]
# ## 1. The beamline
#
# Elements sit at a position $z$ along the design orbit (m; the figures' axes call it
# $s$, the accelerator convention, but in this course $s$ is the observation). The
# quadrupoles focus the beam; the **beta function** $\beta(z)$ (m) measures how large the
# beam is and, more important for us, how strongly an orbit offset at $z$ is amplified:
# in linear optics a kick $u_j$ (rad) at corrector $j$ moves the beam at a downstream
# point $i$ by
#
# $$ \Delta y_i = \sqrt{\beta_i \beta_j}\, \sin\!\big(2\pi(\psi_i - \psi_j)\big)\, u_j , $$
#
# with $\psi$ the *phase advance* (in turns of $2\pi$). (The course's matrix below
# multiplies this by a calibration factor $\kappa = \tfrac12$.) The figure shows the layout
# (BPMs, correctors, quadrupoles, bends) and $\beta_x$, $\beta_y$ of the nominal optics,
# computed with [Cheetah](https://github.com/desy-ml/cheetah) in
# `awake_tutorial.physics.optics.twiss`. The line itself is an object, a `Lattice`
# (elements, quadrupole knobs, beam) read from `awake_tutorial/physics/lattice/tt43.yaml`;
# every optics function is given the lattice it works on.
#
# **Look at:** the large $\beta_x$ around $z \approx 10$ m: a small kick becomes a large
# offset there. (The beam starts with $\beta_x = \beta_y = 5$ m.)

# %%
lattice = default_lattice()  # the TT43 model shipped with the course
line = optics.beamline(lattice)  # the notebook computes the optics (nominal) ...
plotting.plot_beamline(line)  # ... the figure only draws them

# %% [markdown]
# ## 2. The orbit response matrix
#
# For the 10 BPMs and 10 correctors used in the course, the linear optics gives a
# $10 \times 10$ matrix $R$ (m/rad, one per plane):
#
# $$ y_{\text{BPM}} = R\, u_{\text{correctors}}, \qquad
#    R_{ij} = \kappa\,\sqrt{\beta_i\beta_j}\,\sin\!\big(2\pi(\psi_i-\psi_j)\big)
#    \ \text{if BPM } i \text{ is downstream of corrector } j, \text{ else } 0,
#    \qquad \kappa = \tfrac12 . $$
#
# The calibration factor $\kappa = \tfrac12$ (`awake_tutorial.physics.optics.RESPONSE_CALIBRATION`)
# is empirical, not physics: the reference course's matrices are exactly half the response
# of section 1 (the $\Delta y_i / u_j$ that MAD-X or tracking gives), and we keep the
# factor so our tasks equal the matrices that course trained and was tested on. So an entry
# of $R$, quoted in m/rad, is half the BPM offset (m) per rad of kick; the environment uses
# exactly this $R$. A corrector cannot move the beam upstream of itself, so $R$ is lower
# triangular.
#
# **Look at:** the zeros above the diagonal; the strong columns of the first correctors
# (they act on the whole line) and the strong rows of the BPMs near the large $\beta_x$;
# the vertical plane responds much less than the horizontal one. The course steers
# the horizontal plane.

# %%
tasks = load_evaluation_tasks()  # 5 fixed tasks; task 0 = nominal optics
nominal = tasks[0]
R = nominal.response("horizontal")
print(f"largest entry {np.abs(R).max():.1f} m/rad: a 0.1 mrad kick moves the beam "
      f"by up to {np.abs(R).max() * 1e-4 * 1e3:.1f} mm at one BPM")
assert np.all(np.triu(R, k=1) == 0), "no BPM sees a corrector downstream of it"
plotting.plot_response_matrix(nominal)

# %% [markdown]
# ## 3. The environment
#
# `AwakeSteeringEnv` (a [gymnasium](https://gymnasium.farama.org) environment) turns
# this into a reinforcement-learning problem, in normalised units:
#
# | | definition | units |
# |---|---|---|
# | observation $s$ | the 10 BPM readings, clipped to $[-1, 1]$ | 1.0 = 10 mm |
# | action $a$ | change of the 10 corrector kicks, $\Delta u = 10^{-4}\,\text{rad}\cdot a$ | 1.0 = 0.1 mrad |
# | reward | $r = -10 \cdot \mathrm{RMS}(s)$, RMS over the 10 BPMs | 0 is perfect |
# | success | $\mathrm{RMS}(s) < 0.1$ (1 mm): the episode ends | |
# | wall | any $|s_i| \ge 1$ (10 mm): the episode ends, with a penalty | |
# | time limit | 100 steps | |
#
# An action with $\max_i |a_i| > 1$ is scaled down to $\max_i|a_i| = 1$ (direction kept):
# each corrector changes by at most 0.1 mrad per step. Kicks accumulate. Every episode
# starts from random kicks (up to 0.5 mrad) with an RMS between 0.2 and 0.95 (2 to 9.5 mm).
#
# With the *strict* wall penalty (default) hitting the wall costs $-10$ for every step
# left, so crashing never pays more than steering.

# %%
env = AwakeSteeringEnv(task=nominal)
obs, info = env.reset(seed=0)
print("observation space:", env.observation_space)
print("action space:     ", env.action_space)
print("first readings (1 = 10 mm):", np.round(obs, 2))
print("info:", info)

# %% [markdown]
# ## 4. Tasks: one quadrupole setting = one steering problem
#
# The response matrix depends on the quadrupoles. A **task** of this course is a
# setting of the 10 quadrupole knobs, each scaled by a random factor in
# $[0.75, 1.25]$ of its nominal strength. This is what meta-learning is about: a
# *distribution of tasks* that share a structure (same line, same kind of matrix) but
# differ in the details.
#
# The course uses 5 fixed **evaluation tasks** (task 0 = nominal optics) and samples
# fresh tasks for training with `sample_tasks(n, seed)`.
#
# **Look at:** which entries keep their sign from task to task and which flip; how much
# the strongest rows change.

# %%
plotting.plot_tasks(tasks)

# %%
sampled = sample_tasks(200, seed=1)
change = [np.linalg.norm(t.response_h - R) / np.linalg.norm(R) for t in sampled]
flips = [np.mean(np.sign(t.response_h[R != 0]) != np.sign(R[R != 0])) for t in sampled]
print(f"200 sampled tasks: |R_task - R_nominal| / |R_nominal| = {np.mean(change):.0%} on average "
      f"(up to {np.max(change):.0%}); {np.mean(flips):.0%} of the entries flip sign")

# %% [markdown]
# ## 5. Policies that know the physics
#
# ### The inverse-response policy (the benchmark)
# If $R$ is known, the kick change that cancels the readings $s$ (in m: $s/100$) is
# $\Delta u = -R^{-1} s/100$. In action units $a = \Delta u / 10^{-4}$, scaled
# down to $\max_i |a_i| \le 1$ if needed: a large correction takes a few steps.
# This is `awake_tutorial.controllers.InverseResponsePolicy`.
#
# ### Exercise 1 (graded): the inverse-response action
# Write `inverse_response_action(R, obs)`: given $R$ (10 x 10, m/rad) and the readings
# `obs` (10 numbers, 1 = 10 mm), return the action (10 numbers, 1 = 0.1 mrad),
# scaled down as a whole so that $\max_i|a_i| \le 1$:
#
# $$ a = \frac{-R^{-1}\, s / 100}{10^{-4}}, \qquad
#    a \leftarrow a / \max(1, \max_i |a_i|) . $$
#
# Mind which index of $R$ is the BPM and which the corrector, and the units.

# %% tags=["exercise-stub"]
def inverse_response_action(R, obs):
    """The inverse-response action (10,) for readings obs (10,) and response matrix R (10, 10)."""
    raise NotImplementedError("which kick change makes the readings R du + s vanish? Readings are in "
                              "units of 10 mm, kicks in rad, actions in units of 0.1 mrad; a too large "
                              "action is shortened, its direction kept")


# %%
inverse_response_action = exercises.graded(exercises.check_inverse_policy, inverse_response_action)

# %% [markdown]
# One episode on the nominal optics with the package's `InverseResponsePolicy`
# (the same formula):
#
# **Look at:** top: the readings (coloured) and their RMS (black) fall below the success
# line (dashed); middle: the actions point the same way at every step, scaled so that
# the largest is $\pm 1$ (0.1 mrad): the full correction takes several steps; bottom:
# the reward rises towards 0.

# %%
def run_episode(policy, task, seed):
    """Play one episode; returns the observations (T+1, 10), actions (T, 10), rewards (T,)."""
    env = AwakeSteeringEnv(task=task)
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [obs], [], []
    done = False
    while not done:
        action = policy.act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs), actions.append(action), rewards.append(reward)
        done = terminated or truncated
    return np.array(observations), np.array(actions), np.array(rewards)


observations, actions, rewards = run_episode(InverseResponsePolicy(nominal), nominal, seed=0)
print(f"{len(rewards)} steps, return {rewards.sum():.2f}")
plotting.plot_episode(observations, actions, rewards, title="inverse-response policy, task 0")

# %% [markdown]
# ### How good is it on every task?
# `evaluate` plays many episodes per task (all at once, in a vector environment) and
# reports the mean episode length, its spread, the return and the success rate. A policy
# that needs to know the task is passed as `per_task(factory)`: `factory(task, plane)`
# makes the policy for each task.

# %%
episodes = budget(100, 20)
inverse = evaluate(per_task(InverseResponsePolicy), tasks, episodes=episodes, seed=0)
for row in inverse:
    print(f"task {row['task_id']}: {row['mean_length']:.2f} +- {row['std_length']:.2f} steps, "
          f"success {row['success_rate']:.0%}")
assert all(row["success_rate"] == 1.0 for row in inverse), "the benchmark solves every task"

# %% [markdown]
# ### The physical limit: the fewest steps
# The inverse-response policy is not optimal: it goes straight for zero and lets the
# $\pm 1$ limit stretch the path. Because each corrector changes by at most 0.1 mrad per
# step, some starts *need* several steps whatever one does. `FewestStepsPolicy` plans
# with the known $R$: it finds the smallest $n$ such that some kick change with
# $\|\Delta u\|_\infty \le n \cdot 10^{-4}$ rad brings the RMS below 1 mm (a bounded
# least-squares problem), and walks there in $n$ equal steps.
#
# This is **what is possible when the physics is known**: no learned policy can need
# fewer steps on average. Later notebooks measure every method against it.

# %%
fewest = evaluate(per_task(FewestStepsPolicy), tasks, episodes=episodes, seed=0)
results = {"inverse response": inverse, "fewest steps": fewest}
for row_inv, row_few in zip(inverse, fewest):
    print(f"task {row_inv['task_id']}: inverse {row_inv['mean_length']:.2f} steps, "
          f"fewest {row_few['mean_length']:.2f} steps")
assert all(f["mean_length"] <= i["mean_length"] + 1e-9 for f, i in zip(fewest, inverse))
assert all(row["success_rate"] == 1.0 for row in fewest)
plotting_compare.plot_comparison(results, title="policies that know R (same episodes for both)")

# %% [markdown]
# ### Knowing the wrong physics
# What if the controller uses the *nominal* matrix while the machine runs another
# optics? This is the everyday situation in a control room: the model is never exact.
#
# **Look at:** the episode length on tasks 1-4. With the wrong matrix every step goes in
# a somewhat wrong direction: the controller over- or undershoots and needs extra steps,
# but here it still gets there. Why, is worked out below the figure. A learned policy
# trained on a single task has the same problem, only worse (notebook 2). Meta-learning
# (notebooks 3-5) learns a policy that *adapts* to the task at hand from a few episodes.

# %%
wrong_model = evaluate(InverseResponsePolicy(nominal), tasks, episodes=episodes, seed=0)
for row_own, row_wrong in zip(inverse, wrong_model):
    print(f"task {row_own['task_id']}: own R {row_own['mean_length']:.2f} steps, nominal R "
          f"{row_wrong['mean_length']:.2f} steps (success {row_wrong['success_rate']:.0%})")
assert sum(w["mean_length"] for w in wrong_model) > sum(i["mean_length"] for i in inverse)
plotting_compare.plot_comparison({"inverse, own R": inverse, "inverse, nominal R": wrong_model},
                         title="the right and the wrong model")

# %% [markdown]
# ### Exercise 2 (graded, a derivation): when does the wrong model still converge?
# With the nominal matrix $R_0$ one full step changes the kicks by $\Delta u = -R_0^{-1}s/100$,
# and the machine, whose matrix is $R$, answers: the readings become
#
# $$ s_{k+1} = (I - M)\, s_k, \qquad M = R\, R_0^{-1} . $$
#
# **Derive** for which $M$ repeated steps drive every start to zero, with pen and paper
# first. Then write `nominal_converges(R, R0)`: `True` if they do on a machine with
# response $R$ (both matrices $10\times10$, lower triangular), else `False`. Ignore the
# max-abs scaling of large actions (it shortens a step, and does not change the answer).
# Think of: the eigenvalues of a linear iteration, what is special about the eigenvalues
# of a triangular matrix, and the edge cases (an eigenvalue above 1, exactly at a bound,
# negative). The checker tries matrices near each edge.

# %% tags=["exercise-stub"]
def nominal_converges(R, R0):
    """True if full inverse-response steps computed with R0 steer a machine with response R to zero."""
    raise NotImplementedError("when does a linear iteration s -> A s shrink every start? Which matrix is A "
                              "here, where are the eigenvalues of a triangular matrix, and is an eigenvalue "
                              "exactly on the bound enough?")


# %%
nominal_converges = exercises.graded(exercises.check_nominal_converges, nominal_converges)

# %% [markdown]
# Now on the course's tasks. The eigenvalues of $R\,R_0^{-1}$ are the ratios of the
# diagonals, $m_i = R_{ii} / R_{0,ii}$ (both matrices are lower triangular): their range on
# the evaluation tasks and on 200 sampled ones, and your verdict for each task. (In the
# long run the eigenvalues set the rate; a few early steps can still grow some readings,
# and a reading that reaches 10 mm ends the episode at the wall.)

# %%
eval_ratios = np.array([np.diag(task.response("horizontal")) / np.diag(R) for task in tasks])
sampled_ratios = np.array([np.diag(task.response_h) / np.diag(R) for task in sampled])
verdicts = [nominal_converges(task.response_h, R) for task in sampled]
print(f"evaluation tasks: eigenvalues of R_task R_0^-1 between {eval_ratios.min():.2f} and {eval_ratios.max():.2f}")
print(f"200 sampled tasks: between {sampled_ratios.min():.2f} and {sampled_ratios.max():.2f}; "
      f"the nominal model converges on {np.mean(verdicts):.1%} of them")
assert all(nominal_converges(task.response("horizontal"), R) for task in tasks), \
    "the nominal model converges on every evaluation task (measured above: no failed episode)"

# %% [markdown]
# ## Summary
#
# * Steering = choosing 10 kicks so that 10 BPMs read zero; the linear map between them
#   is the response matrix $R$ (m/rad), set by the quadrupoles.
# * Each quadrupole setting is a **task** with its own $R$.
# * Knowing $R$, the inverse-response policy solves every task in a few steps, and the
#   fewest-steps planner shows the limit; with the wrong $R$ it needs more steps.
#
# * With the nominal $R_0$ instead, the inverse-response controller still converges on a
#   task as long as the eigenvalues of $R\,R_0^{-1}$ satisfy your condition of exercise 2
#   (the solutions notebook derives it), but it needs more steps.
#
# ## Self-check quiz
#
# Click an answer: each option says why it is right or wrong. (The quiz cells' code is
# collapsed; in a viewer without widgets, e.g. a plain `.ipynb` on the web, the options
# and their explanations are that code.)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"1. Why is $R$ lower triangular?", {
    r"A corrector moves the beam only downstream of itself":
        r"Right. BPMs and correctors are numbered along the line: $R_{ij} = 0$ when BPM $i$ sits upstream of corrector $j$, whatever the optics.",
    r"The quadrupoles of this plane all focus":
        r"No: the quadrupoles set the values of $\beta$ and $\psi$, not which entries vanish. Any optics gives a triangular $R$.",
    r"The calibration factor removes the upper half":
        r"No: $\kappa = \tfrac12$ scales every entry alike. The zeros come from causality along the line.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"2. A corrector kick of 0.1 mrad and $R_{ij} = 20$ m/rad: how far does BPM $i$ move, and what does the observation show?", {
    r"2 mm; the observation changes by 0.2":
        r"Right: $20 \times 10^{-4}$ m = 2 mm, and 1.0 of the observation is 10 mm. The kick was one action unit.",
    r"20 mm; the beam hits the wall":
        r"No: m/rad times rad, and 0.1 mrad is $10^{-4}$ rad: $20 \times 10^{-4}$ m = 2 mm.",
    r"2 mm; the observation changes by 2":
        r"The offset is right, the units of the observation are not: 1.0 = 10 mm, so 2 mm reads 0.2.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"3. The action is $(2, 0.5, 0, \dots)$. What does the environment apply?", {
    r"$(1, 0.25, 0, \dots)$":
        r"Right: the whole vector is divided by $\max_i|a_i| = 2$, which keeps its direction.",
    r"$(1, 0.5, 0, \dots)$":
        r"No: that clips each entry, which changes the direction; the correction would no longer point at zero.",
    r"$(2, 0.5, 0, \dots)$":
        r"No: a corrector changes by at most 0.1 mrad (one action unit) per step; larger actions are scaled down.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"4. On a task where one diagonal ratio $R_{ii}/R_{0,ii}$ were 2.5, what would the nominal-model inverse controller do?", {
    r"Diverge: along that mode the reading overshoots by 150 % per full step and grows":
        r"Right: that eigenvalue of $I - M$ is $1 - 2.5 = -1.5$; the reading grows in alternating sign until the beam hits the wall.",
    r"Converge, only more slowly":
        r"No: slow convergence belongs to small ratios ($0 < m < 1$, undershoot). At 2.5 every full step overshoots by more than it corrects.",
    r"Converge, because large actions are scaled down":
        r"No: short steps can delay it, but close to zero the steps are not scaled down any more, and full steps amplify that mode by 1.5.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"5. Why does the course call a setting of the quadrupoles a <i>task</i>?", {
    r"Each setting has its own $R$, i.e. its own dynamics, drawn from one distribution with shared structure":
        r"Right: learning to solve <i>any</i> task of that distribution quickly is the meta-learning problem.",
    r"Each episode starts from another orbit":
        r"No: the start is random <i>within</i> a task; the task fixes how kicks move the beam.",
    r"The reward differs between settings":
        r"No: the reward is $-10\cdot\mathrm{RMS}$ everywhere; what changes is the response matrix.",
}, answer=0)

# %% [markdown]
# **Next:** notebook 2 trains a neural-network policy with PPO on one task, without
# knowing $R$.
