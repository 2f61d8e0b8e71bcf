"""How a checker talks to the learner: one line PASS, or one line saying what is wrong.

A checker is a function ``check(fn, ...) -> bool`` whose body returns ``None`` when the
learner's ``fn`` is right and a message (str) when it is not. :func:`checker` turns that
into printed feedback and a bool. Each checker names the package's own implementation
(``check.fallback``): :func:`graded` grades the learner's function and hands back either
it (PASS) or that fallback, with a visible note, so a learner notebook reads
``my_x = graded(check_x, my_x)`` and runs to the end whether or not the exercise is done.
A solutions notebook reads ``assert check_x(my_x)``: stopped with the message when wrong.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np


class NotDone(Exception):
    """The learner's function still raises NotImplementedError."""


def call(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, turning the stub's NotImplementedError into :class:`NotDone`."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as error:
        raise NotDone(str(error)) from None


def checker(title: str, fallback: Callable | None = None, fallback_name: str = ""):
    """Decorator: body(fn, ...) -> None (right) or a message (wrong) becomes print + bool.

    ``fallback`` is the package's implementation with the learner's signature (what
    :func:`graded` hands back when the learner's function does not pass), ``fallback_name``
    how the note names it.
    """

    def wrap(body):
        @functools.wraps(body)
        def check(fn, *args, **kwargs) -> bool:
            if not callable(fn):
                return verdict(title, f"pass your function itself, not {type(fn).__name__}.")
            try:
                problem = body(fn, *args, **kwargs)
            except NotDone as hint:
                print(f"NOT DONE YET  {title}: your function still raises NotImplementedError. "
                      f"Hint: {hint}")
                return False
            except Exception as error:  # the learner's code failed: say where, not a traceback
                return verdict(title, f"your function raised {type(error).__name__}: {error}")
            return verdict(title, problem)

        check.fallback = fallback
        check.fallback_name = fallback_name or getattr(fallback, "__name__", "")
        return check

    return wrap


def graded(check: Callable[..., bool], fn: Callable, *args, **kwargs) -> Callable:
    """Grade the learner's ``fn`` with ``check(fn, *args, **kwargs)`` and return what the
    notebook's later cells should use: ``fn`` itself if it passes, else the package's
    implementation (``check.fallback``), saying so. Never raises: a learner notebook runs
    to the end with the exercise undone or wrong."""
    if check(fn, *args, **kwargs):
        return fn
    fallback = getattr(check, "fallback", None)
    if fallback is None:
        raise TypeError(f"{getattr(check, '__name__', check)!r} is not a checker with a fallback.")
    print(f"      -> the cells below use the package's {check.fallback_name} instead of yours; "
          "re-run your cell, then this one, to grade yours again.")
    return fallback


def verdict(title: str, problem: str | None) -> bool:
    """Print the outcome; True if ``problem`` is None."""
    if problem is None:
        print(f"PASS  {title}")
        return True
    print(f"NOT YET  {title}: {problem}")
    return False


def as_array(x, name: str = "your result") -> np.ndarray:
    """``x`` (numpy, torch or list) as a float64 array; a clear error for anything else."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from None


def close(a, b, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    """Same shape and allclose (float32 learners' code passes: rtol 1e-5)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def shape_problem(result: np.ndarray, expected: tuple, what: str) -> str | None:
    """A message if ``result`` has the wrong shape or non-finite entries, else None."""
    if result.shape != expected:
        return f"{what} should have shape {expected}, yours has shape {result.shape}."
    if not np.all(np.isfinite(result)):
        return f"{what} contains NaN or inf."
    return None
