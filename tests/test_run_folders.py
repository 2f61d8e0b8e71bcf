"""Run folders (awake_tutorial.runs.folders): the layout, the one "taken" rule, meta.json's
contract and statuses, and the progress-log reader the dashboard and ``plot`` use."""

import json

import pytest

from awake_tutorial.config import load_config
from awake_tutorial.runs import folders
from awake_tutorial.runs.folders import (RUN_FILES, STATUSES, check_not_taken, check_run_dir, prepare_run_dir,
                                         read_meta, read_new_records, read_records, run_finished, write_meta)
from awake_tutorial.ui import cli
from test_dashboard import adapt_batch, meta_record

CONFIG = load_config(num_batches=2)


# --- the one "taken" rule ----------------------------------------------------------


@pytest.mark.parametrize("name", [*RUN_FILES, "policy_task3.pt"])
@pytest.mark.parametrize("kind, command", [("meta_train", "meta-train"), ("adapt", "adapt")])
def test_any_run_file_makes_a_folder_taken_with_one_message_from_python_and_cli(capsys, tmp_path, name,
                                                                               kind, command):
    (tmp_path / name).write_text("")
    with pytest.raises(FileExistsError) as python:
        prepare_run_dir(tmp_path, CONFIG, kind)
    assert str(python.value).startswith(f"{tmp_path} already holds a run") and "overwrite=True" in str(python.value)
    assert ("resume=True" in str(python.value)) == (kind == "meta_train")  # only meta_train resumes
    extra = ["--policy", "random"] if kind == "adapt" else []
    assert cli.main([command, *extra, "--run-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"awake-tutorial {command}: error: {python.value}\n"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # nothing was touched


def test_overwrite_deletes_the_run_files_only_and_other_files_do_not_take_a_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    check_not_taken(tmp_path, "meta_train")  # not a run file: the folder is free
    for name in (*RUN_FILES, "policy_task0.pt", "policy_task7.pt"):
        (tmp_path / name).write_text("old")
    check_not_taken(tmp_path, "adapt", overwrite=True)
    check_not_taken(tmp_path, "meta_train", resume=True)  # resuming checks the run instead
    assert prepare_run_dir(tmp_path, CONFIG, "adapt", overwrite=True) == folders.RunState()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "meta.json", "notes.txt"]
    assert load_config(tmp_path / "config.yaml") == CONFIG and read_records(tmp_path) == []


# --- meta.json -----------------------------------------------------------------------


def test_read_meta_none_before_a_run_then_what_write_meta_wrote(tmp_path):
    assert read_meta(tmp_path) is None and read_meta(tmp_path / "missing") is None
    prepare_run_dir(tmp_path, CONFIG, "meta_train")  # meta.json comes first: before any record
    meta = read_meta(tmp_path)
    assert (meta["kind"], meta["next_batch"], meta["status"]) == ("meta_train", 0, "running")
    assert {"awake_tutorial_version", "torch_version"} <= set(meta)
    (tmp_path / "meta.json").write_text('{"kind": "meta_')  # only damage does this: writes are atomic
    with pytest.raises(ValueError, match="meta.json is damaged.*overwrite=True"):
        read_meta(tmp_path)


def test_a_progress_log_without_meta_json_is_read_but_not_resumed(tmp_path):
    """Not a folder this package wrote (meta.json precedes the first record): its
    records can be read and plotted, but there is no run to resume."""
    records = [meta_record(b, n=3) for b in range(3)]
    (tmp_path / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_meta(tmp_path) is None and read_records(check_run_dir(tmp_path)) == records
    assert run_finished(tmp_path, records) and not run_finished(tmp_path, records[:2])
    with pytest.raises(FileNotFoundError, match="no run to resume"):
        prepare_run_dir(tmp_path, CONFIG, "meta_train", resume=True)


def test_only_the_statuses_that_are_written_exist(tmp_path):
    assert STATUSES == ("running", "stopped", "finished", "failed")
    assert folders.END_STATUSES == ("stopped", "finished", "failed")
    for status in ("completed", "done"):
        with pytest.raises(ValueError, match="status one of"):
            write_meta(tmp_path, "meta_train", 1, 2, status)
    with pytest.raises(ValueError, match="kind must be one of"):
        write_meta(tmp_path, "ppo", 1, 2, "running")
    assert not (tmp_path / "meta.json").exists()


# --- the progress log ------------------------------------------------------------------


def test_incomplete_last_line_is_left_for_the_next_read(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text(json.dumps({"batch": 0}) + "\n" + '{"batch": 1, "ret')
    records, offset = read_new_records(path)
    assert records == [{"batch": 0}]
    assert read_new_records(path, offset) == ([], offset)
    with open(path, "a") as f:
        f.write('urn": 2}\n')
    records, offset = read_new_records(path, offset)
    assert records == [{"batch": 1, "return": 2}] and offset == path.stat().st_size
    assert read_new_records(tmp_path / "missing.jsonl", 5) == ([], 5)


def test_corrupt_line_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "progress.jsonl").write_text('{"batch": 0}\nnot json\n{"batch": 1}\n')
    with pytest.warns(UserWarning, match="corrupt line at byte 13"):
        assert read_records(tmp_path) == [{"batch": 0}, {"batch": 1}]


def test_append_then_read_back_the_first_records(tmp_path):
    folders.append_records(tmp_path, [{"batch": 0}, {"batch": 1}])
    folders.append_records(tmp_path, [{"batch": 2}])
    assert read_records(tmp_path) == [{"batch": b} for b in range(3)]
    assert read_records(tmp_path, limit=2) == [{"batch": 0}, {"batch": 1}]


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        check_run_dir(tmp_path / "nope")
    with pytest.raises(ValueError, match="not a run folder: it has no progress.jsonl"):
        check_run_dir(tmp_path)


def test_run_finished_from_meta_or_from_the_last_batch(tmp_path):
    records = [meta_record(b, n=3) for b in range(3)]
    assert not run_finished(tmp_path, records[:2])
    assert run_finished(tmp_path, records)
    adapt = adapt_batch(0) + adapt_batch(1) + adapt_batch(2, task_ids=(0,))
    assert not run_finished(tmp_path, adapt)  # task 1 has not finished its last batch
    assert run_finished(tmp_path, adapt + adapt_batch(2, task_ids=(1,)))
    for status, ended in (("running", False), ("stopped", True), ("finished", True), ("failed", True)):
        write_meta(tmp_path, "meta_train", 1, 3, status)
        assert run_finished(tmp_path, records[:1]) == ended
