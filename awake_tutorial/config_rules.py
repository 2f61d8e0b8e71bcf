"""The rules that check one config value each (used by :mod:`awake_tutorial.config`).

Each rule has ``check(key, value)``, which returns the value normalised (e.g. a list as a
tuple, a numeric string as a number) or raises ValueError naming the key, the value and
what is allowed, and ``describe()``, the allowed values in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _number(key, value, kind):
    """``value`` as int/float; accepts numeric strings (YAML reads 1e-3 as a string)."""
    if isinstance(value, bool):
        raise ValueError(f"config key '{key}': got {value!r} (bool), expected {kind}.")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"config key '{key}': got {value!r} (str), expected {kind}.") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"config key '{key}': got {value!r} ({type(value).__name__}), expected {kind}.")
    return value


@dataclass(frozen=True)
class Real:
    """A float in [low, high] (open ends if low_open / high_open)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return "a number " + " and ".join(parts) if parts else "a number"

    def check(self, key, value):
        value = float(_number(key, value, self.describe()))
        ok = math.isfinite(value)
        if self.low is not None:
            ok &= value > self.low if self.low_open else value >= self.low
        if self.high is not None:
            ok &= value < self.high if self.high_open else value <= self.high
        if not ok:
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        return value


@dataclass(frozen=True)
class Int:
    """An integer >= low."""

    low: int = 0

    def describe(self) -> str:
        return f"an integer >= {self.low}"

    def check(self, key, value):
        number = _number(key, value, self.describe())
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        if int(number) < self.low:
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        return int(number)


@dataclass(frozen=True)
class Choice:
    options: tuple

    def describe(self) -> str:
        return f"one of {list(self.options)}"

    def check(self, key, value):
        if value not in self.options or isinstance(value, bool) != isinstance(self.options[0], bool):
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        return value


class IntList:
    """A non-empty list of integers >= 1 (layer widths); stored as a tuple."""

    def describe(self) -> str:
        return "a non-empty list of integers >= 1, e.g. [64, 64]"

    def check(self, key, value):
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        return tuple(Int(1).check(f"{key}[{i}]", v) for i, v in enumerate(value))


class ScaleRange:
    """[low, high] with 0 < low <= high (knob scale factors); stored as a tuple."""

    def describe(self) -> str:
        return "a list [low, high] of numbers with 0 < low <= high, e.g. [0.75, 1.25]"

    def check(self, key, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        low, high = (Real(0, low_open=True).check(f"{key}[{i}]", v) for i, v in enumerate(value))
        if low > high:
            raise ValueError(f"config key '{key}': got {value!r}, allowed: {self.describe()}.")
        return (low, high)


BOOL = Choice((True, False))
POSITIVE = Real(0, low_open=True)
FRACTION = Real(0, 1)


class Name:
    """One name: lowercase letters, digits and '-' (e.g. a registry's key); which names exist,
    the registry that reads the key checks."""

    def check(self, key, value):
        if not isinstance(value, str) or not value or not all(c.islower() or c.isdigit() or c == "-" for c in value):
            raise ValueError(f"config key '{key}': got {value!r}, allowed: a name of lowercase letters, "
                             "digits and '-'.")
        return value


class Names:
    """A list of names (strings), stored as a tuple; [] = all."""

    def check(self, key, value):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"config key '{key}': got {value!r}, allowed: a list of names, e.g. [kqd430031].")
        return tuple(value)
