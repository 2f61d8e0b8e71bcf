"""Where the course's shipped files live (``data/`` beside the package in a clone)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = REPO_DIR / "data"


def data_file(name: str) -> Path:
    """Path of a shipped data file, with a clear error if it is missing."""
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(
            f"data file {path} is missing. The course expects a clone of the repository "
            "(pip install -e .); run `git status data/` or re-clone to restore it."
        )
    return path
