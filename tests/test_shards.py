"""Meta-batches split over processes (runs/shards.py): the same numbers wherever the parts run,
the one-process numbers to rounding, and no process left behind."""

import numpy as np
import psutil
import pytest
import torch

from awake_tutorial.config import load_config
from awake_tutorial.rl.policies import flatten
from awake_tutorial.runs import shards
from awake_tutorial.runs.training import (MetaBatchTasks, build_part, make_learner, meta_batch, meta_train,
                                          new_policy, new_sampler, torch_threads)
from test_training import eval_task_source, without_times


def small_config(**overrides):
    settings = dict(meta_batch_size=4, fast_batch_size=4, max_steps=20, num_batches=3, cg_iters=10, ls_max_steps=10)
    return load_config(**{**settings, **overrides})


def run_batches(config, processes=True):
    """meta_train's loop for config.num_batches meta-batches, the parts in worker processes or not."""
    policy = new_policy(config, config.seed)
    learner, sampler = make_learner(policy, config), new_sampler(config, config.train_bpm_noise)
    tasks = MetaBatchTasks(eval_task_source, config.meta_batch_size, config.seed)
    with torch_threads(config.num_threads):  # as meta_train does (the workers take this process's threads)
        return _run(config, learner, sampler, tasks, processes)


def _run(config, learner, sampler, tasks, processes):
    if config.meta_batch_shards == 1:
        records = [meta_batch(learner, sampler, tasks.tasks(b), config, b) for b in range(config.num_batches)]
    else:
        with shards.Parts(learner, sampler, config, build_part, processes=processes) as parts:
            records = [meta_batch(learner, sampler, tasks.tasks(b), config, b, parts) for b in range(config.num_batches)]
    return without_times(records), flatten(learner.meta_parameters()).detach().clone()


def test_parts_in_worker_processes_give_the_bits_of_parts_in_this_process():
    config = small_config(meta_batch_shards=2)
    in_processes, in_processes_weights = run_batches(config, processes=True)
    here, here_weights = run_batches(config, processes=False)
    assert in_processes == here
    assert torch.equal(in_processes_weights, here_weights)
    assert any(r["step_accepted"] for r in here)


def test_meta_train_with_parts_is_meta_train_in_one_process_to_rounding():
    """Same tasks, same per-task streams: the episodes before adaptation are the same, bit for bit; the
    sums over parts round differently (~1e-7), which the TRPO step carries to its result."""
    one, one_weights = run_batches(small_config(meta_batch_shards=1, num_batches=1))
    two, two_weights = run_batches(small_config(meta_batch_shards=2, num_batches=1), processes=False)
    assert [t["return_before"] for t in one[0]["per_task"]] == [t["return_before"] for t in two[0]["per_task"]]
    assert two[0]["loss_before"] == pytest.approx(one[0]["loss_before"], rel=1e-5, abs=1e-7)
    start = flatten(make_learner(new_policy(small_config(), 0), small_config()).meta_parameters()).detach()
    step_one, step_two = one_weights - start, two_weights - start
    assert one[0]["step_accepted"] and two[0]["step_accepted"]
    assert torch.linalg.vector_norm(step_two - step_one) < 1e-3 * torch.linalg.vector_norm(step_one)


def test_part_sizes_split_the_tasks_in_order():
    assert shards.part_sizes(16, 2) == [8, 8]
    assert shards.part_sizes(5, 2) == [3, 2]
    assert shards.part_sizes(3, 3) == [1, 1, 1]


def children():
    return psutil.Process().children(recursive=True)


def test_meta_train_ends_its_worker_processes_also_after_an_interrupt():
    before = {p.pid for p in children()}
    config = small_config(meta_batch_shards=3, meta_batch_size=3, num_batches=2)
    result = meta_train(config, task_source=eval_task_source)
    assert len(result.records) == 2 and {p.pid for p in children()} == before

    def interrupt(record):
        assert len([p for p in children() if p.pid not in before]) == 2  # the workers of parts 1 and 2
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        meta_train(config, task_source=eval_task_source, callback=interrupt)
    assert {p.pid for p in children()} == before


def test_a_worker_that_dies_stops_training_with_a_clear_error():
    before = {p.pid for p in children()}

    def kill_worker(record):
        for p in children():
            if p.pid not in before:
                p.kill()
                p.wait()

    with pytest.raises(RuntimeError, match="ended .*set meta_batch_shards: 1"):
        meta_train(small_config(meta_batch_shards=2, num_batches=3), task_source=eval_task_source,
                   callback=kill_worker)
    assert {p.pid for p in children()} == before


def test_settings_that_cannot_be_split_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="meta_batch_shards.*> 'meta_batch_size'"):
        load_config(meta_batch_size=2, meta_batch_shards=3)
    with pytest.raises(ValueError, match="rl2-trpo.*set meta_batch_shards: 1"):
        meta_train(load_config(learner="rl2-trpo", meta_batch_shards=2))


def test_the_textbook_path_splits_too():
    config = small_config(meta_batch_shards=2, fast_path=False, num_batches=1)
    in_processes, weights = run_batches(config, processes=True)
    here, here_weights = run_batches(config, processes=False)
    assert in_processes == here and torch.equal(weights, here_weights)
    assert np.isfinite(here[0]["loss_after"])


def test_on_one_core_the_parts_run_here_with_the_same_numbers(monkeypatch):
    before = {p.pid for p in children()}
    config = small_config(meta_batch_shards=2, num_batches=2)
    in_processes = meta_train(config, task_source=eval_task_source)
    monkeypatch.setattr(shards, "usable_cores", lambda: 1)

    def no_worker(record):
        assert {p.pid for p in children()} == before

    here = meta_train(config, task_source=eval_task_source, callback=no_worker)
    assert without_times(here.records) == without_times(in_processes.records)
