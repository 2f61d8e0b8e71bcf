"""meta_train / adapt: the UI contract, run folders, seeding, resume, learning."""

import json

import numpy as np
import pytest
import torch

from awake_tutorial.config import load_config
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.runs.policy_files import load_policy
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.runs.folders import run_finished
from awake_tutorial.runs.training import TASK_CHUNK, MetaBatchTasks, adapt, meta_train, new_policy

EVAL = load_evaluation_tasks()
META_KEYS = {"batch", "num_batches", "return_before", "return_after", "length_before", "length_after",
             "success_before", "success_after", "per_task", "kl", "step_accepted", "ls_steps",
             "reject_reason", "wall_time", "timings"}
PER_TASK_KEYS = {"return_before", "return_after", "length_before", "length_after", "success_before",
                 "success_after"}
ADAPT_KEYS = {"kind", "batch", "num_batches", "task_id", "mean_return", "mean_length", "success_rate",
              "wall_time"}


def eval_task_source(n, seed):
    """Fast stand-in for sample_tasks: n evaluation tasks drawn with the seed."""
    rng = np.random.default_rng(seed)
    return [EVAL[i] for i in rng.integers(0, len(EVAL), size=n)]


def tiny_config(**overrides):
    # one process (a worker costs ~1.5 s to start); the tests of seeding and resuming, and tests/test_shards.py,
    # run the course's default, meta-batches split over two processes
    settings = dict(meta_batch_size=2, fast_batch_size=4, num_steps=1, max_steps=20, num_batches=4,
                    cg_iters=10, ls_max_steps=10, meta_batch_shards=1)
    return load_config(**{**settings, **overrides})


def without_times(records):
    return [{k: v for k, v in r.items() if k not in ("wall_time", "timings")} for r in records]


def same_weights(a, b):
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_records_and_run_folder(tmp_path):
    config = tiny_config()
    seen = []
    result = meta_train(config, run_dir=tmp_path / "run", callback=seen.append, task_source=eval_task_source)
    assert len(result.records) == 4 and seen == result.records
    for i, record in enumerate(result.records):
        assert META_KEYS <= set(record) and record["batch"] == i and record["num_batches"] == 4
        assert len(record["per_task"]) == 2 and PER_TASK_KEYS <= set(record["per_task"][0])
        assert isinstance(record["step_accepted"], bool) and isinstance(record["ls_steps"], int)
        assert record["reject_reason"] is None or isinstance(record["reject_reason"], str)
        assert {"sampling", "inner", "outer"} <= set(record["timings"])
        assert record["return_before"] == pytest.approx(np.mean([t["return_before"] for t in record["per_task"]]))
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} == {"config.yaml", "progress.jsonl", "policy.pt", "meta.json"}
    assert load_config(run / "config.yaml") == config
    lines = (run / "progress.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == json.loads(json.dumps(result.records))
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "finished" and meta["next_batch"] == 4 and meta["kind"] == "meta_train"
    assert same_weights(load_policy(run / "policy.pt", config=config), result.policy)
    assert result.records[-1]["wall_time"] >= result.records[0]["wall_time"] > 0


def test_same_seed_same_log_and_weights_other_seed_differs():
    runs = [meta_train(tiny_config(seed=s, meta_batch_shards=2), task_source=eval_task_source) for s in (3, 3, 4)]
    assert without_times(runs[0].records) == without_times(runs[1].records)
    assert same_weights(runs[0].policy, runs[1].policy)
    assert without_times(runs[0].records) != without_times(runs[2].records)


@pytest.mark.parametrize("how", ["callback", "num_batches"])
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, how):
    config = tiny_config(meta_batch_shards=2)
    full = meta_train(config, run_dir=tmp_path / "full", task_source=eval_task_source)
    part = tmp_path / "part"
    if how == "callback":  # stopped from the UI after two batches
        first = meta_train(config, run_dir=part, task_source=eval_task_source,
                           callback=lambda r: r["batch"] == 1)
        assert json.loads((part / "meta.json").read_text())["status"] == "stopped"
    else:  # a shorter run, extended later
        first = meta_train(tiny_config(num_batches=2, meta_batch_shards=2), run_dir=part, task_source=eval_task_source)
    assert len(first.records) == 2
    resumed = meta_train(config, run_dir=part, resume=True, task_source=eval_task_source)
    if how == "num_batches":  # the first two records say the run was planned with 2 batches
        assert [r["num_batches"] for r in resumed.records] == [2, 2, 4, 4]
        for r in resumed.records + full.records:
            r["num_batches"] = 4
    assert without_times(resumed.records) == without_times(full.records)
    assert same_weights(resumed.policy, full.policy)
    assert len((part / "progress.jsonl").read_text().splitlines()) == 4
    assert resumed.records[2]["wall_time"] >= resumed.records[1]["wall_time"]


@pytest.mark.parametrize("error, status", [(RuntimeError("optics failed"), "failed"), (KeyboardInterrupt(), "stopped")])
def test_a_run_that_raises_says_so_and_resumes_from_its_last_batch(tmp_path, error, status):
    """meta.json tells a watching dashboard the run has ended; resuming finishes it exactly."""
    config = tiny_config()

    def raise_error(*args):
        raise error

    with pytest.raises(type(error)):  # before any batch: nothing to keep
        meta_train(config, run_dir=tmp_path / "early", task_source=raise_error)
    meta = json.loads((tmp_path / "early" / "meta.json").read_text())
    assert (meta["status"], meta["next_batch"]) == (status, 0)
    with pytest.raises(type(error)):  # after batch 1 was saved (the callback sees a saved batch)
        meta_train(config, run_dir=tmp_path / "part", task_source=eval_task_source,
                   callback=lambda record: record["batch"] == 1 and raise_error())
    meta = json.loads((tmp_path / "part" / "meta.json").read_text())
    assert (meta["status"], meta["next_batch"]) == (status, 2)
    assert run_finished(tmp_path / "part", [])  # a dashboard watching the folder stops waiting
    resumed = meta_train(config, run_dir=tmp_path / "part", resume=True, task_source=eval_task_source)
    full = meta_train(config, task_source=eval_task_source)
    assert without_times(resumed.records) == without_times(full.records)
    assert same_weights(resumed.policy, full.policy)


def test_resume_drops_a_half_written_batch(tmp_path):
    config = tiny_config(num_batches=2)
    meta_train(config, run_dir=tmp_path, task_source=eval_task_source)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["next_batch"] = 1  # as if the process died after appending batch 1's record
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    resumed = meta_train(config, run_dir=tmp_path, resume=True, task_source=eval_task_source)
    assert [r["batch"] for r in resumed.records] == [0, 1]


def test_run_folder_is_never_silently_overwritten(tmp_path):
    config = tiny_config(num_batches=1)
    meta_train(config, run_dir=tmp_path, task_source=eval_task_source)
    with pytest.raises(FileExistsError, match="resume=True.*overwrite=True"):
        meta_train(config, run_dir=tmp_path, task_source=eval_task_source)
    with pytest.raises(ValueError, match="fast_lr"):
        meta_train(tiny_config(num_batches=2, fast_lr=0.5), run_dir=tmp_path, resume=True,
                   task_source=eval_task_source)
    with pytest.raises(ValueError, match="contradict"):
        meta_train(config, run_dir=tmp_path, resume=True, overwrite=True)
    with pytest.raises(FileNotFoundError, match="no run to resume"):
        meta_train(config, run_dir=tmp_path / "empty", resume=True)
    fresh = meta_train(config, run_dir=tmp_path, overwrite=True, task_source=eval_task_source)
    assert len(fresh.records) == 1 and len((tmp_path / "progress.jsonl").read_text().splitlines()) == 1
    with pytest.raises(TypeError, match="load_config"):
        meta_train({"num_batches": 1})


def test_task_stream_depends_only_on_seed_and_batch():
    calls = []

    def source(n, seed):
        calls.append((n, seed))
        return eval_task_source(n, seed)

    stream = MetaBatchTasks(source, meta_batch_size=3, seed=7)
    first = [t.id for b in range(3) for t in stream.tasks(b)]
    assert len(calls) == 1 and calls[0][0] == 3 * TASK_CHUNK  # one batched call per chunk
    again = MetaBatchTasks(eval_task_source, meta_batch_size=3, seed=7)
    assert [t.id for t in again.tasks(2)] == first[6:9]
    assert len(stream.tasks(TASK_CHUNK)) == 3 and len(calls) == 2


def test_short_meta_training_improves_the_post_adaptation_return():
    # adapted_std 0: the outer loss then scores the sampling policy, which the records below measure
    config = tiny_config(meta_batch_size=4, fast_batch_size=8, max_steps=30, num_batches=8, max_kl=0.01,
                         adapted_std=0.0)
    trained = meta_train(config, task_source=eval_task_source).policy

    def post_adaptation_return(policy):
        records = adapt(policy, EVAL[:3], 2, config, seed=123).records
        return np.mean([r["mean_return"] for r in records if r["batch"] == 1])

    before, after = post_adaptation_return(new_policy(config, config.seed)), post_adaptation_return(trained)
    assert after > before + 20  # measured: about -75 -> -41


def test_adapt_contract(tmp_path):
    config = tiny_config()
    batches = []
    result = adapt(None, EVAL[:2], 3, config, seed=1, callback=batches.append, run_dir=tmp_path)
    assert len(result.records) == 6 and len(batches) == 3 and all(len(b) == 2 for b in batches)
    for record in result.records:
        assert set(record) == ADAPT_KEYS and record["kind"] == "adapt" and record["num_batches"] == 3
    assert [r["task_id"] for r in batches[0]] == [0, 1]
    assert len(result.policies) == 2 and all(isinstance(p, GaussianMLPPolicy) for p in result.policies)
    assert not same_weights(result.policies[0], result.policies[1])
    assert (tmp_path / "policy_task1.pt").exists() and len((tmp_path / "progress.jsonl").read_text().splitlines()) == 6
    # seeded, and a task gets the same episodes alone as in a group (up to float rounding:
    # batched matrix products of other sizes may round differently)
    again = adapt(None, EVAL[1:2], 3, config, seed=1)
    alone = [r["mean_return"] for r in again.records]
    assert alone == pytest.approx([r["mean_return"] for r in result.records if r["task_id"] == 1], rel=1e-5)
    stopped = adapt(None, EVAL[:2], 5, config, callback=lambda records: True)
    assert len(stopped.records) == 2
    with pytest.raises(FileExistsError):
        adapt(None, EVAL[:2], 1, config, run_dir=tmp_path)


def test_adaptation_from_a_random_policy_improves_on_every_task():
    config = load_config(fast_lr=0.05, max_steps=50)
    records = adapt(None, EVAL, 4, config, seed=0).records
    for task in EVAL:
        returns = [r["mean_return"] for r in records if r["task_id"] == task.id]
        assert returns[-1] > returns[0], (task.id, returns)


def test_default_task_source_is_sample_tasks():
    result = meta_train(tiny_config(num_batches=1))
    assert len(result.records) == 1 and len(result.records[0]["per_task"]) == 2
