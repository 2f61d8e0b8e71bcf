"""Linear optics of the AWAKE TT43 electron line with Cheetah, batched over quad settings.

Data flow: knob scale factors (B, 10) -> Cheetah elements whose strengths carry a
batch dimension -> cumulative first-order transfer maps at every element exit ->
Twiss beta and phase at BPMs and correctors -> orbit response matrices (B, 10, 10).

The bends of the MAD-X model carry a 1.13 % dipole field error (field length
0.1775 m, magnet 0.1755 m). MAD-X linearises the optics around the orbit that this
error produces, and the beam crosses the pole faces a few mrad off design, which
changes the edge focusing. Cheetah has no field-error parameter, so we reproduce it
in two passes:
1. track the orbit through the plain lattice, adding at each bend the kick of its
   field error (in the bend's own, tilted frame);
2. rebuild each bend with its real field (angle = k0 * L) and pole-face angles seen
   by that orbit (e1 + x'_in, e2 - x'_out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import yaml
import cheetah

LATTICE_FILE = Path(__file__).with_name("lattice") / "tt43.yaml"
CALIBRATION = 0.5  # the reference course's calibration factor of its response matrices
DTYPE = torch.float64


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


@dataclass(frozen=True)
class Lattice:
    elements: tuple[ElementSpec, ...]
    knobs: dict  # knob name -> nominal K1 (1/m^2)
    energy_ev: float
    initial_twiss: dict

    def names_of(self, kind: str) -> list[str]:
        return [e.name for e in self.elements if e.type == kind]


@lru_cache(maxsize=4)
def load_lattice(path: Path = LATTICE_FILE) -> Lattice:
    """Read the lattice file and fill the gaps between elements with drifts."""
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
    return Lattice(tuple(elements), dict(data["knobs"]), float(beam["energy_ev"]), dict(beam["initial_twiss"]))


LATTICE = load_lattice()
KNOBS: tuple[str, ...] = tuple(LATTICE.knobs)
ALL_BPMS = LATTICE.names_of("bpm")  # 11 BPMs up to the plasma merge point
ALL_CORRECTORS = LATTICE.names_of("corrector")  # 11 correctors
BPMS = ALL_BPMS[1:]  # the reference course drops the first BPM ...
CORRECTORS = ALL_CORRECTORS[:-1]  # ... and the last corrector: 10 x 10
_SPECIES = cheetah.Species("electron")


def _t(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=DTYPE)


def _element_map(spec: ElementSpec, k1: torch.Tensor | None = None, edges=None) -> torch.Tensor:
    """First-order 7x7 map of one element; (B, 7, 7) where its strength is batched.

    ``edges`` = (e1, e2) pole-face angles seen by the orbit, each (B,); None builds
    the plain bend (design field, design faces).
    """
    kw = dict(dtype=DTYPE, sanitize_name=False, name=spec.name)
    length = _t(spec.length)
    if spec.type == "quadrupole":
        element = cheetah.Quadrupole(length=length, k1=k1, **kw)
    elif spec.type in ("bend_h", "bend_v"):
        if edges is None:  # self-consistent bend: field = angle / length
            angle, e1, e2 = _t(spec.angle), _t(spec.angle / 2), _t(spec.angle / 2)
        else:
            angle = _t(spec.angle * spec.length / spec.field_length)  # real field k0 * L
            e1, e2 = edges
        element = cheetah.Dipole(
            length=length, angle=angle, dipole_e1=e1, dipole_e2=e2, tilt=_t(spec.tilt),
            gap=_t(2 * spec.hgap), fringe_integral=_t(spec.fint), fringe_integral_exit=_t(spec.fint), **kw,
        )
    elif spec.type == "corrector":
        element = cheetah.HorizontalCorrector(length=length, **kw)  # no kick: a drift
    elif spec.length > 0:  # drifts, instruments with a length
        element = cheetah.Drift(length=length, **kw)
    else:  # BPMs and markers
        return torch.eye(7, dtype=DTYPE)
    return element.first_order_transfer_map(_t(LATTICE.energy_ev), _SPECIES)


def _field_error_kick(spec: ElementSpec) -> torch.Tensor:
    """Orbit change (x, x') at a bend's exit from its field error, in the bend's frame."""
    h = spec.angle / spec.length
    dh = spec.angle / spec.field_length - h
    return _t([-dh * (1 - math.cos(h * spec.length)) / h**2, -dh * math.sin(h * spec.length) / h])


def _rotation(tilt: float) -> torch.Tensor:
    """4x4 rotation from the lab frame into a magnet frame tilted by ``tilt`` (rad)."""
    c, s = math.cos(tilt), math.sin(tilt)
    return _t([[c, 0, s, 0], [0, c, 0, s], [-s, 0, c, 0], [0, -s, 0, c]])


def _quad_strengths(scales: torch.Tensor) -> dict[str, torch.Tensor]:
    nominal = _t([LATTICE.knobs[k] for k in KNOBS])
    return {k: v for k, v in zip(KNOBS, (scales * nominal).unbind(-1))}


def _plain_maps(k1_of: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """4x4 maps of every element of the plain lattice (design bends), (B, 4, 4) or (4, 4)."""
    maps = []
    for spec in LATTICE.elements:
        if spec.type not in ("drift", "bpm", "corrector", "instrument", "quadrupole", "bend_h", "bend_v"):
            raise ValueError(f"unknown element type {spec.type!r} of {spec.name}")
        maps.append(_element_map(spec, k1_of.get(spec.knob) if spec.knob else None)[..., :4, :4])
    return maps


def _bend_edges(plain: list[torch.Tensor], batch: int) -> dict[str, tuple]:
    """Pass 1: the orbit of the field errors through the plain lattice -> face angles."""
    orbit = torch.zeros(batch, 4, dtype=DTYPE)
    edges = {}
    for spec, element_map in zip(LATTICE.elements, plain):
        orbit_in = orbit
        orbit = (element_map @ orbit.unsqueeze(-1)).squeeze(-1)
        if spec.type.startswith("bend"):
            rotation = _rotation(spec.tilt)
            orbit = orbit + rotation.T[:, :2] @ _field_error_kick(spec)
            xp_in = (orbit_in @ rotation.T)[:, 1]
            xp_out = (orbit @ rotation.T)[:, 1]
            edges[spec.name] = (spec.angle / 2 + xp_in, spec.angle / 2 - xp_out)
    return edges


def cumulative_maps(scales, field_error: bool = True) -> torch.Tensor:
    """Transfer maps from the start to every element exit, shape (B, n_elements, 4, 4).

    ``scales``: knob scale factors, shape (B, 10) in the order of ``KNOBS``.
    """
    scales = torch.as_tensor(np.asarray(scales, dtype=np.float64))
    if scales.ndim != 2 or scales.shape[1] != len(KNOBS):
        raise ValueError(f"scales must have shape (B, {len(KNOBS)}), got {tuple(scales.shape)}")
    batch = scales.shape[0]
    plain = _plain_maps(_quad_strengths(scales))
    edges = _bend_edges(plain, batch) if field_error else {}
    total = torch.eye(4, dtype=DTYPE).expand(batch, 4, 4)
    maps = []
    for spec, element_map in zip(LATTICE.elements, plain):
        if spec.name in edges:  # pass 2: only the bends change, with their real field and faces
            element_map = _element_map(spec, edges=edges[spec.name])[..., :4, :4]
        total = element_map @ total
        maps.append(total)
    return torch.stack(maps, dim=1)


def twiss(scales, field_error: bool = True) -> dict[str, np.ndarray]:
    """Beta (m) and phase advance (units of 2 pi) at every element exit, each (B, n).

    Planes are uncoupled at the start; after the tilted bend the diagonal 2x2 blocks
    are normalised by sqrt(det), which gives MAD-X's mode (Edwards-Teng) values.
    """
    maps = cumulative_maps(scales, field_error)
    out = {"names": [e.name for e in LATTICE.elements]}
    for plane, sl in (("x", slice(0, 2)), ("y", slice(2, 4))):
        block = maps[..., sl, sl]
        block = block / torch.linalg.det(block).clamp_min(1e-12).sqrt()[..., None, None]
        beta0, alpha0 = LATTICE.initial_twiss[f"beta_{plane}"], LATTICE.initial_twiss[f"alpha_{plane}"]
        m11, m12 = block[..., 0, 0], block[..., 0, 1]
        cos_part = beta0 * m11 - alpha0 * m12
        out[f"beta_{plane}"] = ((cos_part**2 + m12**2) / beta0).numpy()
        phase = torch.atan2(m12, cos_part).numpy()
        out[f"mu_{plane}"] = np.unwrap(phase, axis=-1) / (2 * np.pi)
    return out


def beamline(scales=None) -> dict:
    """What a picture of the line needs, for one quad setting (default: nominal optics).

    Returns ``s`` (n + 1,) m: the start and every element exit; ``beta_x``, ``beta_y``
    (n + 1,) m at those positions; ``centres`` {element type: (k,) m}: the centre of
    every element of that type (bpm, corrector, quadrupole, bend_h, bend_v, ...).
    """
    table = twiss(nominal_scales() if scales is None else np.atleast_2d(scales))
    lengths = np.array([e.length for e in LATTICE.elements])
    s_exit = np.cumsum(lengths)
    centres: dict[str, list[float]] = {}
    for s_mid, element in zip(s_exit - lengths / 2, LATTICE.elements):
        centres.setdefault(element.type, []).append(float(s_mid))
    return {"s": np.r_[0.0, s_exit],
            **{f"beta_{p}": np.r_[LATTICE.initial_twiss[f"beta_{p}"], table[f"beta_{p}"][0]] for p in "xy"},
            "centres": {kind: np.array(values) for kind, values in centres.items()}}


def response_from_twiss(beta_bpm, mu_bpm, beta_cor, mu_cor, bpm_after_cor) -> np.ndarray:
    """R_ij = 0.5 sqrt(beta_i beta_j) sin(2 pi (mu_i - mu_j)) if BPM i is downstream of
    corrector j, else 0 (m/rad). Arrays (..., n_bpm) / (..., n_cor); mask (n_bpm, n_cor)."""
    beta_bpm, mu_bpm = np.asarray(beta_bpm)[..., :, None], np.asarray(mu_bpm)[..., :, None]
    beta_cor, mu_cor = np.asarray(beta_cor)[..., None, :], np.asarray(mu_cor)[..., None, :]
    response = CALIBRATION * np.sqrt(beta_bpm * beta_cor) * np.sin(2 * np.pi * (mu_bpm - mu_cor))
    return np.where(bpm_after_cor, response, 0.0)


def _downstream_mask() -> np.ndarray:
    order = {e.name: i for i, e in enumerate(LATTICE.elements)}
    return np.array([[order[b] > order[c] for c in CORRECTORS] for b in BPMS])


def response_matrices(scales, field_error: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical orbit response matrices, each (B, 10, 10) in m/rad."""
    optics = twiss(scales, field_error)
    index = {n: i for i, n in enumerate(optics["names"])}
    bpm, cor = [index[n] for n in BPMS], [index[n] for n in CORRECTORS]
    mask = _downstream_mask()
    return tuple(
        response_from_twiss(
            optics[f"beta_{p}"][:, bpm], optics[f"mu_{p}"][:, bpm],
            optics[f"beta_{p}"][:, cor], optics[f"mu_{p}"][:, cor], mask,
        )
        for p in ("x", "y")
    )


def nominal_scales(batch: int = 1) -> np.ndarray:
    return np.ones((batch, len(KNOBS)))
