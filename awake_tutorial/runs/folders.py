"""Run folders: what a training run leaves on disk, how it is resumed, how it is read.

A run folder is what one ``meta_train`` or ``adapt`` run leaves behind:

    run_dir/
      config.yaml          the settings of the run
      meta.json            kind of run, next batch to run, status (see STATUSES), versions
      progress.jsonl       one JSON record per meta-batch (or per task and adaptation batch)
      policy.pt            meta_train: the latest policy, a state_dict
      policy_task{id}.pt   adapt: the adapted policy of each task

The rules, in one place:

* **Taken.** A folder holding any of these files is taken: a new run there needs
  ``overwrite=True`` (start over) or ``resume=True`` (continue it). Python and the CLI
  (``--overwrite``, ``--resume``) apply the same rule, :func:`check_not_taken`.
* **Order.** meta.json ("running") is written before the first record; per batch the
  order is: append the record, write the policy, then meta.json. A crash in between
  leaves meta.json pointing at the last complete batch; resuming drops any record
  written after it. So a folder with a progress log but no meta.json was not written
  by this package (or was damaged): it cannot be resumed, but its records can be read.
* **Status.** "running" while batches are written; then "finished", "stopped" (the
  callback or Ctrl-C stopped it) or "failed" (it raised): both resume from the last
  complete batch. A killed process writes nothing: its folder stays "running".
* **Atomic.** Every file but the append-only log is written atomically
  (:mod:`awake_tutorial.atomic`): a reader sees the old file or the new one.
* **Growing log.** Another process may be appending to progress.jsonl right now
  (``awake-tutorial meta-train`` in a terminal while a notebook watches). Readers take
  only complete lines and remember the byte offset where they stopped
  (:func:`read_new_records`), so a line being written is picked up whole next time.

Policy files (policy.pt, policy_task{id}.pt) are written and read by
:mod:`awake_tutorial.runs.policy_files`; this module only names them and imports no torch,
so the dashboard and ``awake-tutorial plot`` start fast.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Mapping, Sequence

import awake_tutorial
from awake_tutorial.atomic import write_json_atomic, write_text_atomic
from awake_tutorial.config import Config, load_config, save_config

CONFIG_FILE = "config.yaml"
META_FILE = "meta.json"
PROGRESS_FILE = "progress.jsonl"
POLICY_FILE = "policy.pt"
ADAPTED_POLICY_FILES = "policy_task*.pt"  # glob of adapted_policy_file()
RUN_FILES = (CONFIG_FILE, META_FILE, PROGRESS_FILE, POLICY_FILE)
KINDS = ("meta_train", "adapt")
STATUSES = ("running", "stopped", "finished", "failed")  # every status write_meta writes
END_STATUSES = ("stopped", "finished", "failed")  # the run will write nothing more (failed: it raised)
# settings that may change when a run is resumed (they do not change its numbers)
RESUMABLE_CHANGES = ("num_batches", "num_threads")


def adapted_policy_file(run_dir, task_id: int) -> Path:
    """Where ``adapt`` writes the adapted policy of task ``task_id``."""
    return Path(run_dir) / f"policy_task{int(task_id)}.pt"


def run_files(run_dir) -> list[Path]:
    """The files of a run that exist in ``run_dir`` (adapted policies included)."""
    run_dir = Path(run_dir)
    return [run_dir / n for n in RUN_FILES if (run_dir / n).exists()] + sorted(run_dir.glob(ADAPTED_POLICY_FILES))


# --- the progress log ------------------------------------------------------------------


def read_new_records(path, offset: int = 0) -> tuple[list[dict], int]:
    """Records of the complete lines of the log ``path`` from byte ``offset`` on.

    Returns ``(records, next_offset)``; pass ``next_offset`` to the next call. An
    incomplete last line (no newline yet) is not consumed; a missing file gives no
    record. A complete line that is not valid JSON is skipped with a warning naming the
    file and byte offset.
    """
    path = Path(path)
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # 0 when there is no complete line yet
    records = []
    position = offset
    for line in data[:end].splitlines(keepends=True):
        text = line.strip()
        if text:
            try:
                records.append(json.loads(text))
            except json.JSONDecodeError:
                warnings.warn(f"{path}: skipping a corrupt line at byte {position}.", stacklevel=2)
        position += len(line)
    return records, offset + end


def read_records(run_dir, limit: int | None = None) -> list[dict]:
    """The complete records of a run folder's progress log (the first ``limit``; [] if none yet)."""
    return read_new_records(Path(run_dir) / PROGRESS_FILE)[0][:limit]


def append_records(run_dir, records: Sequence[Mapping]) -> None:
    """Append records to the progress log, one line each, flushed to disk."""
    with open(Path(run_dir) / PROGRESS_FILE, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def check_run_dir(run_dir) -> Path:
    """``run_dir`` as a Path; ValueError if it is not a run folder (no progress log) to read."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir} does not exist; pass the --run-dir of a "
                         "meta-train or adapt run.")
    if not (run_dir / PROGRESS_FILE).exists():
        raise ValueError(f"{run_dir} is not a run folder: it has no {PROGRESS_FILE}; pass the "
                         "--run-dir of a meta-train or adapt run.")
    return run_dir


def record_kind(records: Sequence[Mapping]) -> str:
    """"meta", "adapt" or "ppo": which kind of progress log ``records`` come from."""
    if not records:
        raise ValueError("no records: the progress log holds no complete record yet "
                         "(wait for the first batch to finish).")
    first = records[0]
    if first.get("kind") in ("adapt", "ppo"):
        return first["kind"]
    if "return_after" in first:
        return "meta"
    raise ValueError(f"unrecognized progress record with keys {sorted(first)}.")


# --- meta.json -------------------------------------------------------------------------


def write_meta(run_dir, kind: str, next_batch: int, num_batches: int | None, status: str) -> None:
    """meta.json: what resuming needs (kind, next batch), the status, versions for the record."""
    if kind not in KINDS or status not in STATUSES:
        raise ValueError(f"kind must be one of {KINDS} and status one of {STATUSES}, got {kind!r}, {status!r}.")
    write_json_atomic(Path(run_dir) / META_FILE, {
        "kind": kind, "next_batch": int(next_batch), "num_batches": num_batches, "status": status,
        "awake_tutorial_version": awake_tutorial.__version__, "torch_version": version("torch"),
    })


def read_meta(run_dir) -> dict | None:
    """The run's meta.json, or None if there is none (no run was started in ``run_dir``).

    A meta.json that is not JSON is damage (it is only ever replaced atomically): ValueError.
    """
    path = Path(run_dir) / META_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is damaged ({error}); start the run over with overwrite=True "
                         "(--overwrite).") from None


def run_finished(run_dir, records: Sequence[Mapping]) -> bool:
    """True when the run has ended: meta.json's status is in :data:`END_STATUSES`, or the
    records reached the last batch (for an adaptation log: the last batch of every task)."""
    meta = read_meta(run_dir) or {}
    if meta.get("status") in END_STATUSES:
        return True
    if not records:
        return False
    last = records[-1]
    if "num_batches" not in last or "batch" not in last:
        return False
    final = [r for r in records if r.get("batch") == last["num_batches"] - 1]
    if last.get("kind") == "adapt":
        return {r.get("task_id") for r in final} == {r.get("task_id") for r in records}
    return bool(final)


# --- starting, resuming, overwriting a run --------------------------------------------


@dataclass
class RunState:
    """Where a run starts: first batch, records so far, policy file to load (or None)."""

    start_batch: int = 0
    records: list = field(default_factory=list)
    policy_file: Path | None = None


def check_not_taken(run_dir, kind: str, resume: bool = False, overwrite: bool = False) -> None:
    """The one "taken" rule: FileExistsError if ``run_dir`` holds any run file and
    neither ``resume`` nor ``overwrite`` is set (only meta_train runs can be resumed)."""
    if resume or overwrite or not run_files(run_dir):
        return
    more = "resume=True (--resume) to continue it, " if kind == "meta_train" else ""
    raise FileExistsError(f"{run_dir} already holds a run ({len(read_records(run_dir))} records); pass "
                          f"{more}overwrite=True (--overwrite) to start over, or choose another run folder.")


def _check_same_settings(saved: Config, config: Config, run_dir: Path) -> None:
    saved_dict, new_dict = saved.to_dict(), config.to_dict()
    changed = [key for key in new_dict if key not in RESUMABLE_CHANGES and saved_dict[key] != new_dict[key]]
    if changed:
        details = ", ".join(f"{key}: run {saved_dict[key]!r} vs given {new_dict[key]!r}" for key in changed)
        raise ValueError(f"cannot resume {run_dir} with different settings ({details}); only "
                         f"{list(RESUMABLE_CHANGES)} may change. Use the run's config.yaml "
                         "(awake_tutorial.config.load_config(run_dir / 'config.yaml')).")


def _resume(run_dir: Path, config: Config, kind: str) -> RunState:
    meta = read_meta(run_dir)
    if meta is None:
        raise FileNotFoundError(f"{run_dir / META_FILE} not found: {run_dir} holds no run to resume "
                                "(start a new run with resume=False).")
    if meta.get("kind") != kind:
        raise ValueError(f"{run_dir} holds a {meta.get('kind')!r} run, not {kind!r}; it cannot be resumed as one.")
    _check_same_settings(load_config(run_dir / CONFIG_FILE), config, run_dir)
    start = int(meta["next_batch"])
    records = read_records(run_dir, start)
    if len(records) < start:
        raise ValueError(f"{run_dir / PROGRESS_FILE} has {len(records)} records but {META_FILE} says "
                         f"{start} batches ran; the folder is damaged, start over with overwrite=True.")
    # drop the records of a batch that did not finish
    write_text_atomic(run_dir / PROGRESS_FILE, "".join(json.dumps(r) + "\n" for r in records))
    save_config(config, run_dir / CONFIG_FILE)  # atomic
    return RunState(start, records, run_dir / POLICY_FILE)


def prepare_run_dir(run_dir, config: Config, kind: str, resume: bool = False,
                    overwrite: bool = False) -> RunState:
    """Make ``run_dir`` ready for a run of ``kind`` ("meta_train" or "adapt"): a new run
    (refused if the folder is taken, see :func:`check_not_taken`), ``resume`` (same
    settings but :data:`RESUMABLE_CHANGES`) or ``overwrite`` (the old run's files are deleted)."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other; pick one.")
    if resume:
        return _resume(run_dir, config, kind)
    check_not_taken(run_dir, kind, resume, overwrite)
    for path in run_files(run_dir):  # overwrite=True (else there is none)
        path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)  # atomic
    write_meta(run_dir, kind, next_batch=0, num_batches=None, status="running")
    return RunState()
