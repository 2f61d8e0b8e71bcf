"""Read a run folder's progress log (``progress.jsonl``: one JSON record per line).

The log may still be growing: another process (``awake-tutorial meta-train`` in a
terminal) appends a line per batch. Readers therefore take only *complete* lines
(ending in a newline) and remember the byte offset where they stopped, so a line
being written right now is picked up whole on the next read. The dashboard's
:func:`~awake_tutorial.ui.dashboard.watch` and the CLI's ``plot`` command both use this.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Mapping, Sequence

PROGRESS_FILE = "progress.jsonl"
META_FILE = "meta.json"
END_STATUSES = ("finished", "stopped", "completed", "failed")


def read_new_records(path, offset: int = 0) -> tuple[list[dict], int]:
    """Records of the complete lines of ``path`` from byte ``offset`` on.

    Returns ``(records, next_offset)``; pass ``next_offset`` to the next call. An
    incomplete last line (no newline yet) is not consumed. A complete line that is not
    valid JSON is skipped with a warning naming the file and byte offset.
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


def check_run_dir(run_dir) -> Path:
    """``run_dir`` as a Path; ValueError if it is not a run folder (no progress log)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir} does not exist; pass the --run-dir of a "
                         "meta-train or adapt run.")
    if not (run_dir / PROGRESS_FILE).exists():
        raise ValueError(f"{run_dir} is not a run folder: it has no {PROGRESS_FILE}; pass the "
                         "--run-dir of a meta-train or adapt run.")
    return run_dir


def read_progress(run_dir) -> list[dict]:
    """All complete records of a run folder's progress log (an empty log gives [])."""
    run_dir = check_run_dir(run_dir)
    return read_new_records(run_dir / PROGRESS_FILE)[0]


def read_meta(run_dir) -> dict:
    """The run's ``meta.json`` ({} if missing or being rewritten right now)."""
    try:
        return json.loads((Path(run_dir) / META_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def run_finished(run_dir, records: list[dict]) -> bool:
    """True when the run has ended: ``meta.json`` says so ("finished" true, or a
    "status" in :data:`END_STATUSES`), or the records reached the last batch (for an
    adaptation log: the last batch of every task)."""
    meta = read_meta(run_dir)
    if meta.get("finished") or meta.get("status") in END_STATUSES:
        return True
    if not records:
        return False
    last = records[-1]
    if "num_batches" not in last or "batch" not in last:
        return False
    final = [r for r in records if r.get("batch") == last["num_batches"] - 1]
    if last.get("kind") == "adapt":
        task_ids = {r.get("task_id") for r in records}
        return {r.get("task_id") for r in final} == task_ids
    return bool(final)


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
