"""The one atomic-write helper: a reader never sees a half-written file."""

import json

import pytest

from awake_tutorial.atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic


def test_writes_replace_the_file_and_leave_no_temp_file(tmp_path):
    path = tmp_path / "a.json"
    write_text_atomic(path, "old")
    write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1} and path.read_text().endswith("}\n")
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temp(tmp_path):
    path = tmp_path / "policy.pt"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            assert tmp.suffix == ".pt" and tmp.parent == tmp_path  # same folder: the rename is atomic
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["policy.pt"]
