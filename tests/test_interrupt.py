"""Nothing is lost: a training interrupted by Ctrl-C or killed resumes from its last
complete checkpoint and ends exactly where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from awake_tutorial.runs.policy_files import load_policy
from awake_tutorial.runs.training import meta_train
from test_training import eval_task_source, same_weights, tiny_config, without_times


def interrupt_at(batch):
    def callback(record):
        if record["batch"] == batch:
            raise KeyboardInterrupt
    return callback


def test_ctrl_c_leaves_a_loadable_checkpoint_and_resume_matches(tmp_path):
    config = tiny_config(meta_batch_shards=2)  # the course's default: a worker process, ended by the interrupt
    full = meta_train(config, run_dir=tmp_path / "full", task_source=eval_task_source)
    run = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        meta_train(config, run_dir=run, task_source=eval_task_source, callback=interrupt_at(1))
    meta = json.loads((run / "meta.json").read_text())
    assert meta["next_batch"] == 2  # both batches that ran are complete on disk
    load_policy(run / "policy.pt", config=config)  # the checkpoint is a loadable state_dict
    resumed = meta_train(config, run_dir=run, resume=True, task_source=eval_task_source)
    assert without_times(resumed.records) == without_times(full.records)
    assert same_weights(resumed.policy, full.policy)
    assert not list(run.glob("*.tmp*"))  # atomic writes (awake_tutorial.atomic) leave no temp files behind


@pytest.mark.slow
def test_killed_cli_run_resumes_to_the_end(tmp_path):
    run = tmp_path / "run"
    settings = ["--set", "meta_batch_size=2", "--set", "fast_batch_size=4", "--set", "max_steps=20",
                "--set", "cg_iters=10"]
    command = [sys.executable, "-m", "awake_tutorial.ui.cli", "meta-train", "--num-batches", "400",
               "--run-dir", str(run), *settings]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    def saved_batches() -> int:  # meta.json is written last for a batch (atomically): what resume reads
        meta = run / "meta.json"
        return json.loads(meta.read_text())["next_batch"] if meta.exists() else 0

    while saved_batches() < 3:  # (waiting on progress.jsonl raced: its line is written before meta.json)
        assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)  # no clean-up at all
    process.wait()
    next_batch = json.loads((run / "meta.json").read_text())["next_batch"]
    assert 3 <= next_batch < 400
    torch.load(run / "policy.pt", weights_only=True)
    resumed = subprocess.run([*command[:5], str(next_batch + 2), *command[6:], "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert [r["batch"] for r in records] == list(range(next_batch + 2))
