"""Quick mode: ``AWAKE_TUTORIAL_QUICK=1`` shrinks every budget (CI, a first look).

Notebooks and the CLI ask :func:`budget` for their sizes, so one switch decides how
long the whole course takes: full budgets for a learner, minutes in quick mode.
"""

from __future__ import annotations

import os

ENV_VAR = "AWAKE_TUTORIAL_QUICK"


def is_quick() -> bool:
    """True when the environment variable is set to 1/true/yes."""
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


def budget(full, quick):
    """``quick`` in quick mode, else ``full``."""
    return quick if is_quick() else full


def mode_banner() -> str:
    """One line that tells the learner which mode a notebook runs in."""
    if is_quick():
        return f"QUICK mode ({ENV_VAR}=1): small budgets, results are only indicative."
    return f"FULL mode: the budgets of the course (set {ENV_VAR}=1 for a quick run)."
