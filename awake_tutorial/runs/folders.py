"""Run folders: what a training run leaves on disk, and how it is resumed.

    run_dir/
      config.yaml      the settings of the run
      progress.jsonl   one JSON record per meta-batch (or per adaptation batch)
      policy.pt        the latest policy, a state_dict (written atomically: temp + rename)
      meta.json        kind of run, next batch to run, status ("running", "stopped", "finished")

A folder holding a run is never silently overwritten: starting a run there needs
``overwrite=True`` (start over) or ``resume=True`` (continue where it stopped).
Per batch the order is: append the record, write the policy, then meta.json. A crash
in between leaves meta.json pointing at the last complete batch; resuming drops any
record written after it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

import awake_tutorial
from awake_tutorial.atomic import write_json_atomic, write_text_atomic  # noqa: F401 (write_json_atomic: public here too)
from awake_tutorial.config import Config, load_config, save_config

from awake_tutorial.runs.progress_log import META_FILE, PROGRESS_FILE, read_new_records

CONFIG_FILE = "config.yaml"
POLICY_FILE = "policy.pt"
RUN_FILES = (CONFIG_FILE, PROGRESS_FILE, POLICY_FILE, META_FILE)
# settings that may change when a run is resumed (they do not change its numbers)
RESUMABLE_CHANGES = ("num_batches", "num_threads")


@dataclass
class RunState:
    """Where a run starts: first batch, records so far, policy file to load (or None)."""

    start_batch: int = 0
    records: list = field(default_factory=list)
    policy_file: Path | None = None


def read_meta(run_dir) -> dict:
    """The run's meta.json, with a clear error if it is missing."""
    path = Path(run_dir) / META_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {run_dir} holds no run to resume "
                                "(start a new run with resume=False).")
    return json.loads(path.read_text())


def read_records(run_dir, limit: int | None = None) -> list[dict]:
    """The complete records of progress.jsonl (the first ``limit`` of them)."""
    return read_new_records(Path(run_dir) / PROGRESS_FILE)[0][:limit]


def _run_files(run_dir: Path) -> list[Path]:
    """Files a run writes that exist in ``run_dir`` (adapted policies included)."""
    return [run_dir / n for n in RUN_FILES if (run_dir / n).exists()] + sorted(run_dir.glob("policy_task*.pt"))


def _check_same_settings(saved: Config, config: Config, run_dir: Path) -> None:
    saved_dict, new_dict = saved.to_dict(), config.to_dict()
    changed = [key for key in new_dict if key not in RESUMABLE_CHANGES and saved_dict[key] != new_dict[key]]
    if changed:
        details = ", ".join(f"{key}: run {saved_dict[key]!r} vs given {new_dict[key]!r}" for key in changed)
        raise ValueError(f"cannot resume {run_dir} with different settings ({details}); only "
                         f"{list(RESUMABLE_CHANGES)} may change. Use the run's config.yaml "
                         "(awake_tutorial.config.load_config(run_dir / 'config.yaml')).")


def prepare_run_dir(run_dir, config: Config, kind: str, resume: bool = False,
                    overwrite: bool = False) -> RunState:
    """Make ``run_dir`` ready for a run of ``kind`` ("meta_train" or "adapt")."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other; pick one.")
    if resume:
        meta = read_meta(run_dir)
        if meta.get("kind") != kind:
            raise ValueError(f"{run_dir} holds a {meta.get('kind')!r} run, not {kind!r}; it cannot be resumed as one.")
        _check_same_settings(load_config(run_dir / CONFIG_FILE), config, run_dir)
        start = int(meta["next_batch"])
        records = read_records(run_dir, start)
        if len(records) < start:
            raise ValueError(f"{run_dir / PROGRESS_FILE} has {len(records)} records but meta.json says "
                             f"{start} batches ran; the folder is damaged, start over with overwrite=True.")
        _rewrite_records(run_dir, records)  # drop records of a batch that did not finish
        save_config(config, run_dir / CONFIG_FILE)
        return RunState(start, records, run_dir / POLICY_FILE)
    if run_dir.exists() and _run_files(run_dir):
        if not overwrite:
            done = len(read_records(run_dir))
            raise FileExistsError(f"{run_dir} already holds a run ({done} records). Pass resume=True to "
                                  "continue it, overwrite=True to start over, or choose another run_dir.")
        for path in _run_files(run_dir):
            path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)
    write_meta(run_dir, kind, next_batch=0, num_batches=None, status="running")
    return RunState()


def _rewrite_records(run_dir: Path, records: list[dict]) -> None:
    write_text_atomic(run_dir / PROGRESS_FILE, "".join(json.dumps(r) + "\n" for r in records))


def append_records(run_dir, records: list[dict]) -> None:
    """Append records to progress.jsonl, flushed to disk."""
    with open(Path(run_dir) / PROGRESS_FILE, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_meta(run_dir, kind: str, next_batch: int, num_batches: int | None, status: str) -> None:
    """meta.json: what resuming needs (the next batch) plus versions for the record."""
    write_json_atomic(Path(run_dir) / META_FILE, {
        "kind": kind, "next_batch": int(next_batch), "num_batches": num_batches, "status": status,
        "awake_tutorial_version": awake_tutorial.__version__, "torch_version": torch.__version__,
    })
