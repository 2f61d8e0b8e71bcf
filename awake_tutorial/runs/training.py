"""Meta-training (the config's learner, e.g. MAML-TRPO) and adaptation loops, with callbacks and run folders.

``meta_train(config)`` learns a meta-policy; ``adapt(policy, tasks, num_batches, config)``
runs the inner loop alone (e.g. from the meta-policy, or from a random one) on given tasks.

Seeding: every random number follows from ``config.seed`` (or ``adapt``'s ``seed``);
the global torch and numpy generators are never used. With

    seed_for(seed, purpose, *indices) = an integer drawn by numpy's SeedSequence([seed, purpose, *indices])

  * the initial policy:  GaussianMLPPolicy(seed=seed_for(seed, INIT))
  * the tasks: meta-batches come in chunks of TASK_CHUNK; chunk c is
    task_source(TASK_CHUNK * meta_batch_size, seed_for(seed, TASKS, c)), sliced in order
    (one batched optics call per chunk instead of one per meta-batch)
  * the episodes of meta-batch b, task k: seed_for(seed, ROLLOUT, b, k) seeds the task's
    random streams (``sampler.streams``: env starts and action noise); every sampling round
    of the meta-batch (one per inner step, then the validation batch) continues them
  * adapt(): batch b of the task with id i: seed_for(seed, ADAPT, b, i)
  * scoring a sampling policy (``compare``): seed_for(seed, EVALUATE, task id, batches)

So everything random in meta-batch b is a function of (seed, b): resuming at batch b
needs only the policy weights and b (both in the run folder), and a resumed run
continues exactly as an uninterrupted one. Same seed -> same records and weights (on
the same machine and thread count; floating-point sums may differ elsewhere).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from awake_tutorial.runs import folders
from awake_tutorial.runs.shards import Parts, episode_summary
from awake_tutorial.config import Config
from awake_tutorial.envs import AwakeSteeringVectorEnv
from awake_tutorial.rl.engine import select
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners import InnerLoop, MetaLearner, Stopwatch, learner_class
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.runs.policy_files import load_policy, save_policy
from awake_tutorial.runs.stability import stable_step
from awake_tutorial.rl.samplers import MultiTaskSampler
from awake_tutorial.physics.tasks import Task, TaskDistribution

INIT, TASKS, ROLLOUT, ADAPT, EVALUATE = 0, 1, 2, 3, 4  # purposes of random numbers
TASK_CHUNK = 64  # meta-batches whose tasks are drawn in one call

TaskSource = Callable[[int, int], Sequence[Task]]  # (number of tasks, seed) -> tasks


def seed_for(seed: int, purpose: int, *indices: int) -> int:
    """A 63-bit seed for one purpose and position, independent of all others."""
    state = np.random.SeedSequence([int(seed), int(purpose), *map(int, indices)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclass
class MetaTrainResult:
    policy: GaussianMLPPolicy
    run_dir: object
    records: list


@dataclass
class AdaptResult:
    records: list  # every record of every batch
    policies: list  # one adapted GaussianMLPPolicy per task
    snapshots: dict = field(default_factory=dict)  # batches -> policies after that many (see adapt)


@contextlib.contextmanager
def torch_threads(num_threads: int):
    """Use ``num_threads`` torch threads inside the block (0: leave as is)."""
    old = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def new_policy(config: Config, seed: int) -> GaussianMLPPolicy:
    """A randomly initialised policy of the config's learner (its ``new_policy``: the configured
    architecture; with Meta-SGD every inner step size starts at ``fast_lr``; RL²: the GRU of ``rl2``)."""
    return learner_class(config.learner).new_policy(config, seed_for(seed, INIT))


def new_sampler(config: Config, bpm_noise: float = 0.0) -> MultiTaskSampler:
    """The config's sampler: ``fast_batch_size`` episodes per task in the config's vector envs."""
    return MultiTaskSampler(config.fast_batch_size, AwakeSteeringVectorEnv.factory(
        config.max_steps, config.plane, config.wall_penalty, bpm_noise), fast_path=config.fast_path)


def build_part(config: Config):
    """(learner, sampler) of one part of a meta-batch in another process (runs/shards.py): a fresh
    policy (the meta-parameters come with every meta-batch), the config's learner and training sampler."""
    return make_learner(new_policy(config, config.seed), config), new_sampler(config, config.train_bpm_noise)


def make_learner(policy: GaussianMLPPolicy, config: Config) -> MetaLearner:
    """The config's ``learner`` (the registry, ``rl/metalearners/registry.py``) with the configured
    settings. It owns the inner loop (num_steps, step sizes, the gradient) and the meta-batch."""
    return learner_class(config.learner)(policy, config, select(config.fast_path))


class MetaBatchTasks:
    """The tasks of meta-batch b, drawn chunk by chunk (see the seeding notes above). Not to be
    confused with the sampler's ``TaskStreams`` (rl/samplers.py): each task's random numbers."""

    def __init__(self, task_source: TaskSource, meta_batch_size: int, seed: int):
        self.task_source, self.meta_batch_size, self.seed = task_source, meta_batch_size, seed
        self._chunk_index, self._chunk = None, None

    def tasks(self, batch: int) -> list[Task]:
        chunk, position = divmod(batch, TASK_CHUNK)
        if chunk != self._chunk_index:
            self._chunk = list(self.task_source(TASK_CHUNK * self.meta_batch_size, seed_for(self.seed, TASKS, chunk)))
            self._chunk_index = chunk
        return self._chunk[position * self.meta_batch_size:(position + 1) * self.meta_batch_size]


def meta_batch(learner: MetaLearner, sampler: MultiTaskSampler, tasks: Sequence[Task], config: Config,
               batch: int, parts: Parts | None = None) -> dict:
    """Meta-batch ``batch`` on ``tasks`` (``learner.meta_batch``, rl/metalearners/base.py), seeded as
    the notes above say; with ``parts`` (``meta_batch_shards`` > 1) split over processes (runs/shards.py).
    Returns its record."""
    stopwatch = Stopwatch()
    seeds = [seed_for(config.seed, ROLLOUT, batch, k) for k in range(len(tasks))]
    if parts is None:
        done = learner.meta_batch(sampler.streams(tasks, seeds), len(tasks), stopwatch)
        summaries = {"before": episode_summary(done.train_episodes[0]), "after": episode_summary(done.valid_episodes)}
        log = done.log
    else:
        summaries, log = parts.meta_batch(tasks, seeds, stopwatch)
    return _record(batch, config, summaries, log, stopwatch.seconds)


def _record(batch: int, config: Config, summaries: dict, log: dict, timings: dict) -> dict:
    """What a meta-batch logs: episode summaries before and after adaptation (``summaries``: per task,
    see ``shards.episode_summary``; here also their mean over tasks), the TRPO step's log, the seconds per part."""
    num_tasks = len(summaries["before"]["return"])
    per_task = [{f"{key}_{when}": values[k] for when, summary in summaries.items() for key, values in summary.items()}
                for k in range(num_tasks)]
    record = {"batch": batch, "num_batches": config.num_batches}
    for when, summary in summaries.items():
        for key, values in summary.items():
            record[f"{key}_{when}"] = float(np.mean(values))
    timings = {**timings, "outer_cg": log["cg_time"], "outer_line_search": log["line_search_time"]}
    record.update(per_task=per_task, kl=log["kl"], step_accepted=log["step_accepted"], ls_steps=log["ls_steps"],
                  reject_reason=log["reject_reason"], ls_rejections=log["ls_rejections"],
                  loss_before=log["loss_before"], loss_after=log["loss_after"],
                  cg_iters_used=log["cg_iters_used"], cg_residual=log["cg_residual"], timings=timings)
    return record


def meta_train(config: Config, run_dir=None, callback: Callable[[dict], bool | None] | None = None,
               resume: bool = False, overwrite: bool = False,
               task_source: TaskSource | None = None) -> MetaTrainResult:
    """Meta-train a policy with the config's ``learner`` (rl/metalearners/registry.py) for
    ``config.num_batches`` meta-batches.

    Args:
        config: validated settings (``awake_tutorial.config.load_config``).
        run_dir: folder for config, progress log and checkpoints (None: nothing is written).
        callback: called with each meta-batch's record; returning True stops cleanly.
        resume: continue the run in ``run_dir``; overwrite: start over in ``run_dir``.
        task_source: (n, seed) -> n tasks; default the config's ``task_distribution`` with its knob
            scales drawn from ``train_scale_range`` (the evaluation and held-out sets keep theirs).
    Returns:
        MetaTrainResult(policy, run_dir, records) with every record of the run.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be an awake_tutorial.config.Config, got {type(config).__name__}; "
                        "use load_config().")
    # an unknown learner, or one that cannot be split over processes, fails here, before the run folder is touched
    if config.meta_batch_shards > 1 and not hasattr(learner_class(config.learner), "outer_problem"):
        raise ValueError(f"meta_batch_shards={config.meta_batch_shards}: the learner {config.learner!r} has no outer "
                         "problem to split over processes (RL² adapts in its hidden state); set meta_batch_shards: 1.")
    state = folders.RunState() if run_dir is None else folders.prepare_run_dir(run_dir, config, "meta_train",
                                                                         resume, overwrite)
    policy = new_policy(config, config.seed)
    if state.policy_file is not None and state.start_batch > 0:
        policy.load_state_dict(load_policy(state.policy_file, config=config).state_dict())
    learner = make_learner(policy, config)
    sampler = new_sampler(config, config.train_bpm_noise)  # the training episodes' BPM noise (mm)
    if task_source is None:  # the training tasks: the config's distribution over train_scale_range
        task_source = TaskDistribution.from_config(config).with_scale_range(*config.train_scale_range).sample
    task_batches = MetaBatchTasks(task_source, config.meta_batch_size, config.seed)
    records = list(state.records)
    elapsed_before = records[-1]["wall_time"] if records else 0.0
    split = config.meta_batch_shards > 1  # the tasks in parts, each in a process (runs/shards.py)
    with torch_threads(config.num_threads), (Parts(learner, sampler, config, build_part) if split
                                             else contextlib.nullcontext()) as parts:
        start, saved = time.perf_counter(), state.start_batch  # saved: batches whose policy is in the folder
        try:
            for batch in range(state.start_batch, config.num_batches):
                task_start = time.perf_counter()
                tasks = task_batches.tasks(batch)
                task_time = time.perf_counter() - task_start
                record = meta_batch(learner, sampler, tasks, config, batch, parts)
                record["timings"]["tasks"] = task_time
                record["wall_time"] = elapsed_before + time.perf_counter() - start
                records.append(record)
                finished = batch + 1 == config.num_batches
                if run_dir is not None:  # saved before the callback sees it: a UI may read the folder
                    folders.append_records(run_dir, [record])
                    save_policy(policy, Path(run_dir) / folders.POLICY_FILE)
                    folders.write_meta(run_dir, "meta_train", batch + 1, config.num_batches,
                                       "finished" if finished else "running")
                    saved = batch + 1
                if callback is not None and callback(record):
                    if run_dir is not None and not finished:
                        folders.write_meta(run_dir, "meta_train", batch + 1, config.num_batches, "stopped")
                    break
        except BaseException as error:  # meta.json says so, and a dashboard watching the folder stops waiting
            if run_dir is not None and saved < config.num_batches:  # resumable from batch `saved`
                folders.write_meta(run_dir, "meta_train", saved, config.num_batches,
                                   "stopped" if isinstance(error, KeyboardInterrupt) else "failed")
            raise
    return MetaTrainResult(policy, run_dir, records)


def adapt(policy: GaussianMLPPolicy | None, tasks: Sequence[Task], num_batches: int, config: Config,
          seed: int = 0, callback: Callable[[list], bool | None] | None = None, run_dir=None,
          overwrite: bool = False, snapshots: Sequence[int] = (), sampler=None) -> AdaptResult:
    """Adapt ``policy`` (None: a random one) to each task: per batch, sample
    ``config.fast_batch_size`` episodes per task and take one REINFORCE step, with the
    policy's learned step sizes if it has them (Meta-SGD), else ``config.fast_lr``.

    Records (one per task and batch) describe the episodes sampled *before* that batch's
    step: batch 0 shows the unadapted policy. ``callback`` gets each batch's records;
    returning True stops. With ``run_dir`` the records, the config and the adapted
    policies (``policy_task{id}.pt``) are written there. ``snapshots``: batch counts after
    which the adapted policies are also kept, in ``result.snapshots[count]`` (one run
    gives the policies after 1, 2, 4, ... batches, as separate runs with the same seed would).
    """
    if int(num_batches) < 0:
        raise ValueError(f"num_batches must be >= 0, got {num_batches}.")
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty; pass at least one Task.")
    policy = new_policy(config, seed) if policy is None else policy
    if not hasattr(policy, "step_sizes"):
        raise ValueError(f"adapt() takes inner gradient steps; a {type(policy).__name__} adapts in its hidden "
                         "state (RL²): evaluate it on the tasks directly (envs.evaluate(policy.actor(), tasks)).")
    if run_dir is not None:
        folders.prepare_run_dir(run_dir, config, "adapt", overwrite=overwrite)
    # sampler: where the episodes come from; default the in-process simulation (another
    # sampler, e.g. awake_tutorial.rl.env_sampler.EnvSampler, runs them on a served machine)
    sampler = sampler or new_sampler(config)
    # the inner loop alone, with the step sizes the policy carries (learned by Meta-SGD) or the config's
    # fast_lr: adaptation needs no meta-learner, whichever trained the policy
    inner = InnerLoop(policy, config, select(config.fast_path))
    params, records, kept = inner.initial_params(len(tasks)), [], {}
    with torch_threads(config.num_threads):
        start = time.perf_counter()
        for batch in range(int(num_batches)):
            seeds = [seed_for(seed, ADAPT, batch, task.id) for task in tasks]
            episodes = inner.add_advantages(sampler.sample(policy, tasks, seeds, params))
            adapted = inner.adapt_step(episodes, params)
            # the safeguard: a step may not create an overshooting mode (runs/stability.py)
            params = stable_step(policy, episodes, params, adapted) if config.stable_adaptation else adapted
            summary = episode_summary(episodes)
            batch_records = [{"kind": "adapt", "batch": batch, "num_batches": int(num_batches), "task_id": task.id,
                              "mean_return": summary["return"][k], "mean_length": summary["length"][k],
                              "success_rate": summary["success"][k], "wall_time": time.perf_counter() - start}
                             for k, task in enumerate(tasks)]
            records.extend(batch_records)
            if batch + 1 in snapshots:
                kept[batch + 1] = [policy.with_params({n: p[k] for n, p in params.items()}) for k in range(len(tasks))]
            if run_dir is not None:
                folders.append_records(run_dir, batch_records)
            if callback is not None and callback(batch_records):
                break
    policies = [policy.with_params({n: p[k] for n, p in params.items()}) for k in range(len(tasks))]
    if run_dir is not None:
        for task, adapted in zip(tasks, policies):
            save_policy(adapted, folders.adapted_policy_file(run_dir, task.id))
        folders.write_meta(run_dir, "adapt", len(records) // len(tasks), int(num_batches), "finished")
    return AdaptResult(records, policies, kept)
