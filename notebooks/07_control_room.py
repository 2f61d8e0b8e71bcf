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
# # 7. Steering a machine through its control system
#
# So far the policy steered a simulation it called directly. An accelerator is run
# through its **control system**: programs read devices (BPMs) and set devices (corrector
# kicks) *by name*, over the network. Many labs use **EPICS** (its protocol: Channel
# Access); CERN's own system works the same way. In this notebook a server stands in for
# the machine: the simulated AWAKE line, served over real Channel Access by
# [caproto](https://caproto.github.io/caproto/) (pure Python: no EPICS install, and any
# EPICS client could talk to it). The policy then talks to it as it would to the real line.
#
# ### Learning objectives
# After this notebook you can
# * start a served machine, list its process variables (PVs) and read its BPMs;
# * explain the safety rules of a control-room client (limits, save before the first
#   write, restore, dry run) and **implement** the setpoint check (graded exercise);
# * adapt the pretrained meta-policy **online**, episode by episode on the machine, and
#   count what it costs in machine steps;
# * follow a machine whose optics drift, and compare with a classical controller on the
#   same machine, in machine steps;
# * say what changes on a real machine.
#
# **Prerequisites:** notebooks 1 (the steering problem), 5 (adapting the meta-policy)
# and 6 (the comparison in machine steps).
#
# **Time:** about 45 min for a learner (reading 25, the exercise 15, the quiz 5); the code
# runs in well under a minute (quick mode: about 20 s). The exercise is graded as in
# notebook 1; the worked solution is in `solutions/07_control_room.ipynb`.

# %%
import logging

import matplotlib.pyplot as plt
import numpy as np

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.controllers import FewestStepsPolicy, NominalModelPolicy, measure_response
from awake_tutorial.envs import AwakeSteeringEnv, evaluate_on_env
from awake_tutorial.machine import ServedMachine
from awake_tutorial.paths import REPO_DIR
from awake_tutorial.physics.tasks import Task
from awake_tutorial.quick import budget, mode_banner
from awake_tutorial.rl.env_sampler import EnvSampler
from awake_tutorial.runs import training
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.ui.dashboard import AdaptationDashboard

print(mode_banner())
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

# %% [markdown]
# ## The machine, served
#
# `ServedMachine` runs `awake-tutorial serve-machine` in a background process on a free
# port of **loopback** (127.0.0.1: nothing leaves this computer). Here it serves
# evaluation task 3 with a slow **drift**: after every accepted setpoint each
# quadrupole's strength takes a random-walk step of 0.1 % (std), so the response matrix
# changes while we work, as on a real machine over a shift. The server never outlives
# this notebook: it stops in the last cell, at kernel exit, and when the kernel dies.
# It is the only process this notebook starts: the course's client talks to the server
# directly and starts no CA repeater (the small relay process that EPICS clients often
# start; caproto's command-line tools `caproto-get` and `caproto-put` do, and theirs keeps
# running after they exit: `pkill -f caproto.commandline.repeater` stops it).
#
# From a terminal the same machine is
# `EPICS_CA_SERVER_PORT=5064 awake-tutorial serve-machine --task-id 3 --drift 0.001`.

# %%
served = ServedMachine(task_id=3, drift=0.001, seed=0).start()
print(f"server up in {served.startup_time:.1f} s on port {served.port}")
print(served.output())

# %% [markdown]
# Each plane has four PVs: setpoints and readbacks of the 10 correctors (rad), their
# limit (rad), and the 10 BPM readings (m). `BEAM:STATUS` says whether the beam reaches
# the end of the line, `STEPS` counts the accepted setpoints. `EpicsMachine` is the
# client the environment uses: it reads and writes these PVs and nothing else.

# %%
machine = served.machine(save_file=REPO_DIR / "runs" / "07_corrector_backup.json")
print(machine)
print("BPMs (mm):", np.round(1e3 * machine.read_bpms(), 3))
print("correctors (mrad):", np.round(1e3 * machine.read_kicks(), 4))
print("beam lost:", machine.beam_lost(), "| machine steps so far:", machine.machine_steps())

# %% [markdown]
# ## From PVs to the environment
#
# The environment does what it always did, only through the machine: on `reset` it
# draws starting kicks from its own seeded generator (checked against its optics model,
# the evaluation task the server reports) and **writes** them; on `step` it computes the
# new setpoint and writes it, then **reads** the BPMs:
#
# $$ u_{t+1} = u_t + 10^{-4}\,\mathrm{rad}\cdot\frac{a_t}{\max(1, \max_i |a_{t,i}|)},
# \qquad |u_{t+1,i}| \le u_{\max}, \qquad
# s_{t+1} = 100\,\mathrm{m}^{-1}\cdot y_{t+1}^{\mathrm{BPM}} $$
#
# with the BPM readings $y$ in metres (so 1.0 = 10 mm, as before) and the same reward,
# success and wall rules. Without noise and drift the episodes are the in-process
# env's **bit for bit** (tested). The safety rules of the client, for every setpoint:
#
# 1. **limits**: a setpoint with any $|u_i| > u_{\max}$ (read from the limit PV) is
#    refused before it is sent, never clipped; the server refuses it too;
# 2. **save**: before its first write it saves the correctors to a file (atomically);
# 3. **restore**: it puts them back on beam loss, at the end of the session (also after
#    Ctrl-C or an error), and after a killed process at the next start, or with
#    `awake-tutorial restore FILE`;
# 4. **dry run**: `dry_run=True` logs the setpoints it would send and sends none.

# %%
config = load_config()
env = AwakeSteeringEnv(machine=machine, max_steps=config.max_steps)
obs, info = env.reset(seed=0)
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.bar(np.arange(1, 11), 10 * obs, color="tab:blue")
ax.set(xlabel="BPM", ylabel="reading (mm)", title=f"a start on the served machine: RMS {10 * info['rms']:.2f} mm")
ax.axhline(0, color="k", lw=0.5)
plt.show()

with served.machine(dry_run=True, save_file=REPO_DIR / "runs" / "07_dry_run.json") as dry:
    dry_env = AwakeSteeringEnv(machine=dry, max_steps=5)
    dry_env.reset(seed=1)
    dry_env.step(np.full(10, 0.5))
    print(f"dry run: {len(dry.sent)} setpoints logged, none sent; first (mrad):", np.round(1e3 * dry.sent[0], 4))
print("machine steps on the server (the dry run added none):", machine.machine_steps())

# %% [markdown]
# ### Exercise 1 (graded): the setpoint check
#
# Write `safe_setpoint(kicks, action, limit)`: the new kicks (10,) in rad after `action`
# (1 action unit = $10^{-4}$ rad; an action with $\max|a| > 1$ is scaled down as a whole),
# and a `ValueError` if any new kick is beyond $\pm$`limit`. Never clip: a clipped setpoint
# is not what the policy asked for, and nobody would know. The checker tries setpoints
# near both limits, with one corrector or all of them, and just beyond.

# %% tags=["exercise-stub"]
def safe_setpoint(kicks, action, limit):
    raise NotImplementedError("the same update as the environment's step (the equation above), then the "
                              "first safety rule: which kicks must you compare with the limit, and on which side?")


# %%
safe_setpoint = exercises.graded(exercises.check_safe_setpoint, safe_setpoint)

# %% [markdown]
# ## Adapting online: episodes on the machine
#
# `EnvSampler` runs the episodes of an adaptation batch **one after another** on the
# machine (one beam), with the same random streams as the in-process sampler, and plugs
# into the same public loop: `training.adapt(..., sampler=EnvSampler(env, 16))`. Every
# step is a setpoint written and the BPMs read over Channel Access. The dashboard shows
# the batches; its status line counts the machine steps spent.

# %%
meta_policy = load_pretrained("meta")
num_batches = budget(3, 2)
sampler = EnvSampler(env, config.fast_batch_size)
dashboard = AdaptationDashboard([env.task.id], num_batches).display()


def on_batch(records):
    stop = dashboard(records)
    dashboard.label.value += f" | {sampler.steps} machine steps, {sampler.seconds:.1f} s on the machine"
    return stop


result = training.adapt(meta_policy, [env.task], num_batches, config, seed=0, sampler=sampler, callback=on_batch)
adapted = result.policies[0]
for r in result.records:
    print(f"batch {r['batch'] + 1}: {r['mean_length']:.2f} steps per episode, success {r['success_rate']:.0%}")
print(f"{sampler.episodes} episodes, {sampler.steps} machine steps in {sampler.seconds:.1f} s")

# %% [markdown]
# ## Following a drifting machine
#
# The machine keeps running and its optics keep drifting. We operate with the adapted
# policy in chunks of episodes, watch the steps per episode and how far the quadrupole
# scales have moved, then re-adapt with one more batch, starting from the policy we have.
# Scoring as in notebook 6: the policy acts with its **mean action** (what an operator
# runs; adaptation itself samples), and a failed episode counts 100 steps.

# %%
def mean_action(policy):
    act = policy.as_numpy_policy()  # deterministic: the mean of the Gaussian
    return lambda obs: act(obs[None])[0]


start_scales = np.array(list(env.task.quad_scales.values()))
history = []  # (machine steps, mean steps per episode, max drift of the scales, label)
chunks, episodes = budget(4, 2), budget(25, 10)
for chunk in range(chunks):
    run = evaluate_on_env(env, mean_action(adapted), episodes, seed=1000 + 100 * chunk)
    drift = np.abs(machine.quad_scales() - start_scales).max()
    history.append((machine.machine_steps(), run["score"], drift, "adapted"))
    print(f"chunk {chunk + 1}: {run['score']:.2f} steps, success {np.mean(run['successes']):.0%}, "
          f"largest quad drift {100 * drift:.1f} %")
readapt = training.adapt(adapted, [env.task], 1, config, seed=1, sampler=sampler)
run = evaluate_on_env(env, mean_action(readapt.policies[0]), episodes, seed=9000)
history.append((machine.machine_steps(), run["score"], np.abs(machine.quad_scales() - start_scales).max(),
                "re-adapted"))
print(f"re-adapted (one more batch): {run['score']:.2f} steps, success {np.mean(run['successes']):.0%}")

fig, ax = plt.subplots(figsize=(7, 3))
steps, lengths, drifts, labels = zip(*history)
ax.plot(steps, lengths, "o-", label="steps per episode")
ax.plot(steps[-1], lengths[-1], "s", color="tab:red", label="after re-adapting")
ax2 = ax.twinx()
ax2.plot(steps, 100 * np.array(drifts), "x--", color="tab:gray", label="largest quad drift (%)")
ax.set(xlabel="machine steps (setpoints accepted by the server)", ylabel="steps per episode (failure: 100)")
ax2.set(ylabel="largest quad drift (%)")
ax.legend(loc="upper left", fontsize=8)
ax2.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# Read the chunks against the drift. The meta-policy was trained on quadrupole settings
# within $\pm 25\,\%$ of nominal and acts on what the BPMs say, not on a model, so a few %
# of drift usually barely shows. A chunk that is bad from the start is not drift: it is
# the adapted mean action's own weakness on this task (notebook 6). Re-adapting costs one
# batch of episodes; do it when the steps per episode creep up.

# %% [markdown]
# ## The classical controller on the same machine, in machine steps
#
# Classical orbit correction first **measures** the response matrix: a small probe on
# each corrector, 11 machine steps (notebook 6), then corrects with it. The *nominal
# model* skips the measurement and trusts the optics model. Both run here on the same
# drifting machine, episode after episode, like the meta-policy.

# %%
measurement = measure_response(env, seed=5)
measured = FewestStepsPolicy(Task.from_response(measurement.response, measurement.response, env.task.id))
rows = [("meta-policy, not adapted", 0, evaluate_on_env(env, mean_action(meta_policy), episodes, seed=5000)),
        (f"meta-policy, {num_batches} + 1 batches", sampler.steps,
         evaluate_on_env(env, mean_action(readapt.policies[0]), episodes, seed=5000)),
        ("measure then correct", measurement.steps, evaluate_on_env(env, measured.act, episodes, seed=5000)),
        ("nominal model", 0, evaluate_on_env(env, NominalModelPolicy(env.task).act, episodes, seed=5000))]
print(f"{'method':<30}{'machine steps spent':>20}{'steps per episode':>19}{'success':>9}")
for name, spent, run in rows:
    print(f"{name:<30}{spent:>20}{run['score']:>19.2f}{np.mean(run['successes']):>9.0%}")
print(f"(drift so far: {100 * np.abs(machine.quad_scales() - start_scales).max():.1f} % largest; "
      f"{episodes} episodes each, same starts)")

# %% [markdown]
# Read the table with its costs. Measuring spends 11 machine steps once; adapting spends
# the steps of its batches (the column on the left). On a steady, noise-free machine,
# measure-then-correct reaches the physical limit (notebook 6: about 1.6 steps per
# episode), and on a slowly drifting one it may still win: then that is the answer. Its
# weakness is the probes: they are tiny ($4\times10^{-6}$ rad), so anything that moves the
# orbit during the 11 probe steps (drift, BPM noise: `docs/figures/noise.png`) becomes a
# large error in the measured columns, and the matrix goes stale as the optics move on.
# The nominal model (the fewest-steps planner on the design optics' matrix) is off by the
# task's quadrupole errors from the start. The
# meta-policy needs no matrix: it maps readings to actions and adapts from episodes, at
# the price of those episodes. In quick mode (10 episodes per row) the numbers are only
# indicative.
#
# ## What would change on a real machine
#
# * **PV names.** A real line has one PV per device (e.g. a corrector's current in A,
#   a BPM's position in mm) and its own naming; only `awake_tutorial/machine/pvs.py` and
#   the unit conversions (A to rad through the magnet calibration) change.
# * **Limits** come from the power supplies and the machine protection system, not from
#   a number we chose; the client reads them and refuses anything beyond, as here.
# * **Operator approval.** Nothing writes to a real machine without the operator in
#   charge agreeing: start with `dry_run=True` and show the logged setpoints, agree on a
#   beam-time slot, a maximum number of steps and the restore file, and keep a person at
#   the console who can stop it.
# * **Network.** The control network is not loopback: `EPICS_CA_ADDR_LIST` points to the
#   gateway the controls group gives you, with read-only access until approved.
# * **Episodes cost beam time**, and a beam loss is a real event (interlocks, radiation
#   alarms): the strict wall penalty and restore-on-loss matter more than here.

# %% [markdown]
# ## Self-check quiz
#
# Click an answer: each option says why it is right or wrong. (The quiz cells' code is
# collapsed; in a viewer without widgets, e.g. a plain `.ipynb` on the web, the options
# and their explanations are that code.)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"1. Why does the client refuse a setpoint beyond the limit instead of clipping it?", {
    r"A clipped setpoint is not what the policy asked for, and the change of direction would go unnoticed":
        r"Right: refusing makes the problem visible, and nothing unexpected reaches the machine.",
    r"Clipping is slower":
        r"No: both are one comparison; the point is what reaches the machine.",
    r"The server would clip it anyway":
        r"No: the server refuses it too; nobody clips silently.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"2. When is the corrector save file written, and when is it deleted?", {
    r"Before the session's first write; deleted after a clean restore at the end":
        r"Right: a file left behind means a session was killed; the next start, or <code>awake-tutorial restore FILE</code>, puts the correctors back.",
    r"After every setpoint":
        r"No: it holds the correctors as the session <i>found</i> them, written once before the first write.",
    r"Only on beam loss":
        r"No: on beam loss the client restores <i>from</i> it; it is written before the first write.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"3. Why can measure-then-correct suffer on a drifting or noisy machine, while the meta-policy needs no matrix?", {
    r"Its probes are tiny, so drift or noise during the 11 probe steps becomes a large error, and the matrix goes stale":
        r"Right: the meta-policy maps readings to actions and adapts from episodes (at the price of those episodes).",
    r"Because the probes are too large for the machine":
        r"No: they are tiny ($4\times10^{-6}$ rad); that is exactly why noise matters.",
    r"It does not suffer: a matrix is always exact":
        r"No: see the noise table of notebook 6: at 0.1 mm of BPM noise it already fails a third of the episodes.",
}, answer=0)

# %% jupyter={"source_hidden": true}
exercises.quiz(r"4. What does <code>dry_run=True</code> send to the machine?", {
    r"Nothing: it logs the setpoints it would send (and still reads the BPMs)":
        r"Right: the way to show an operator what would happen, before any write.",
    r"The setpoints, but slowly":
        r"No: it writes nothing at all.",
    r"Only the first setpoint":
        r"No: not even that; every setpoint is only logged.",
}, answer=0)

# %% [markdown]
# ## Clean up
#
# Closing the client restores the correctors it saved (and deletes the save file);
# stopping the server ends its process. Both also happen at kernel exit.

# %%
saved = machine.saved  # the correctors as this session found them
machine.close()
with served.machine(dry_run=True, save_file=REPO_DIR / "runs" / "07_dry_run.json") as check:  # reads only
    print("correctors restored exactly:", np.array_equal(check.read_kicks(), saved))
served.stop()
print("server running:", served.running)
