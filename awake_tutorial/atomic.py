"""Files are written atomically: to a temp file beside the target, then renamed over it.

A reader (the dashboard polling a run folder, a second notebook, ``load_pretrained``) sees
either the old file or the new one, never a half-written one, and a crash or Ctrl-C in the
middle leaves the old file in place. This is the course's one place for that pattern.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temp path next to ``path`` (same suffix, so writers that add one do not);
    on success it replaces ``path``, on an error it is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path, data: Any) -> Path:
    """JSON with two-space indent and a final newline."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")
