"""The lattice as an object: the elements, knobs and beam of a line, read from a YAML file.

:func:`load_lattice` reads a lattice file into a :class:`Lattice`; :func:`default_lattice`
is the shipped TT43 model (``lattice/tt43.yaml``), read once and shared. The optics
(:mod:`awake_tutorial.physics.optics`) are functions of a lattice passed in explicitly.

This module needs only yaml and numpy, so code that just needs the knob or BPM names
(tasks, their files) does not pay for importing Cheetah and torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import yaml

LATTICE_FILE = Path(__file__).with_name("lattice") / "tt43.yaml"


@dataclass(frozen=True)
class ElementSpec:
    """One element of the line, as read from the lattice file (lengths in m, angles in rad)."""

    name: str
    type: str  # drift, bpm, corrector, quadrupole, bend_h, bend_v, instrument
    length: float
    knob: str | None = None
    angle: float = 0.0
    tilt: float = 0.0
    field_length: float = 0.0
    hgap: float = 0.0
    fint: float = 0.0


@dataclass(frozen=True, eq=False)
class Lattice:
    """A beam line: its elements in order (gaps filled with drifts), knobs and beam.

    Attributes:
        elements: every element from the start to the end of the line.
        knobs: knob name -> nominal K1 (1/m^2), in file order (read-only).
        energy_ev: total beam energy, eV.
        initial_twiss: beta (m) and alpha at the start, keys ``beta_x``, ``alpha_x``, ...
    """

    elements: tuple[ElementSpec, ...]
    knobs: Mapping[str, float]
    energy_ev: float
    initial_twiss: Mapping[str, float]

    def names_of(self, kind: str) -> list[str]:
        """Names of the elements of one type (e.g. "bpm"), in beam order."""
        return [e.name for e in self.elements if e.type == kind]

    @property
    def knob_names(self) -> tuple[str, ...]:
        """The knobs in file order: the order of a row of quad scale factors."""
        return tuple(self.knobs)

    @property
    def bpms(self) -> list[str]:
        """The 10 BPMs of the response matrix: the reference course drops the first BPM ..."""
        return self.names_of("bpm")[1:]

    @property
    def correctors(self) -> list[str]:
        """... and the last corrector: 10 x 10."""
        return self.names_of("corrector")[:-1]

    def downstream_mask(self) -> np.ndarray:
        """(n_bpm, n_cor) bool: BPM i sits downstream of corrector j (a kick can reach it)."""
        order = {e.name: i for i, e in enumerate(self.elements)}
        return np.array([[order[b] > order[c] for c in self.correctors] for b in self.bpms])

    def nominal_scales(self, batch: int = 1) -> np.ndarray:
        """Knob scale factors of the nominal optics, shape (batch, n_knobs): all ones."""
        return np.ones((batch, len(self.knobs)))


def load_lattice(path: Path = LATTICE_FILE) -> Lattice:
    """Read a lattice file and fill the gaps between elements with drifts."""
    data = yaml.safe_load(Path(path).read_text())
    defaults = data.get("defaults", {})
    elements, position = [], 0.0
    for raw in data["elements"]:
        spec = {**defaults.get(raw["type"], {}), **raw}
        s_centre = spec.pop("s")
        length = float(spec.pop("length", 0.0))
        start = s_centre - length / 2
        gap = start - position
        if gap < -1e-9:
            raise ValueError(f"element {spec['name']} overlaps the one before it by {-gap:.3g} m")
        if gap > 1e-12:
            elements.append(ElementSpec(name=f"drift_{len(elements)}", type="drift", length=gap))
        elements.append(ElementSpec(length=length, **spec))
        position = start + length
    end = float(data["end_of_line"])
    if end - position > 1e-12:
        elements.append(ElementSpec(name=f"drift_{len(elements)}", type="drift", length=end - position))
    beam = data["beam"]
    return Lattice(tuple(elements), MappingProxyType(dict(data["knobs"])), float(beam["energy_ev"]),
                   MappingProxyType(dict(beam["initial_twiss"])))


@lru_cache(maxsize=1)
def default_lattice() -> Lattice:
    """The shipped TT43 model (``lattice/tt43.yaml``), read on first use and then shared."""
    return load_lattice(LATTICE_FILE)
