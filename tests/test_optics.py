"""Optics of the TT43 line against the MAD-X Twiss table (figures in tests/data)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from awake_tutorial.physics import optics
from awake_tutorial.physics.lattice_model import default_lattice, load_lattice

LATTICE = default_lattice()

REFERENCE = json.loads((Path(__file__).parent / "data" / "tt43_twiss_reference.json").read_text())["elements"]
# Elements upstream of the first horizontal bend: only self-consistent geometry and the
# vertical dogleg matter there, and our optics must match MAD-X to 0.5 %.
UPSTREAM = ["BPM.430028", "MCAWA.430029", "BPM.430039", "MCAWA.430040", "BPM.430103",
            "MCAWA.430104", "BPM.430129", "MCAWA.430130", "BPM.430203", "MCAWA.430204"]


def reference_response(plane: str) -> np.ndarray:
    def column(names, key):
        return np.array([REFERENCE[n][key] for n in names])

    return optics.response_from_twiss(
        column(LATTICE.bpms, f"bet{plane}"), column(LATTICE.bpms, f"mu{plane}"),
        column(LATTICE.correctors, f"bet{plane}"), column(LATTICE.correctors, f"mu{plane}"),
        LATTICE.downstream_mask(),
    )


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def nominal():
    scales = LATTICE.nominal_scales()
    return optics.twiss(LATTICE, scales), optics.response_matrices(LATTICE, scales)


def test_lattice_has_the_reference_layout():
    assert len(LATTICE.names_of("bpm")) == 11 and len(LATTICE.names_of("corrector")) == 11
    assert LATTICE.bpms == LATTICE.names_of("bpm")[1:] and LATTICE.correctors == LATTICE.names_of("corrector")[:-1]
    driven = [e.name for e in LATTICE.elements if e.knob == "kqd430109"]
    assert driven == ["MQAWD.430109", "MQAWD.430128"]
    assert len(LATTICE.knob_names) == 10
    # element exits agree with the MAD-X S column (drifts filled correctly)
    exits = np.cumsum([e.length for e in LATTICE.elements])
    names = [e.name for e in LATTICE.elements]
    for name in LATTICE.names_of("bpm") + LATTICE.names_of("corrector"):
        assert exits[names.index(name)] == pytest.approx(REFERENCE[name]["s"], abs=1e-6)


def test_nominal_response_matches_madx(nominal):
    _, (response_h, response_v) = nominal
    # Measured: 0.05 % (H) and 1.01 % (V). The vertical residual comes from how MAD-X
    # linearises its bends around the field-error orbit (second-order edge terms);
    # see README "Optics model".
    assert relative_error(response_h[0], reference_response("x")) < 0.001
    assert relative_error(response_v[0], reference_response("y")) < 0.011


def test_twiss_matches_madx_upstream_of_the_achromat(nominal):
    optics_table, _ = nominal
    index = {n: i for i, n in enumerate(optics_table["names"])}
    for name in UPSTREAM:
        i = index[name]
        for p in "xy":
            assert optics_table[f"beta_{p}"][0, i] == pytest.approx(REFERENCE[name][f"bet{p}"], rel=0.005)
            assert optics_table[f"mu_{p}"][0, i] == pytest.approx(REFERENCE[name][f"mu{p}"], rel=0.005, abs=1e-5)


def test_horizontal_twiss_matches_madx_everywhere(nominal):
    optics_table, _ = nominal
    index = {n: i for i, n in enumerate(optics_table["names"])}
    for name in LATTICE.bpms + LATTICE.correctors:  # the 20 elements of the response matrix
        i = index[name]
        assert optics_table["beta_x"][0, i] == pytest.approx(REFERENCE[name]["betx"], rel=0.005)
        # the phase includes MAD-X's jump of ~0.49 turns across the tilted bend
        assert optics_table["mu_x"][0, i] == pytest.approx(REFERENCE[name]["mux"], abs=5e-4)


def test_field_error_is_what_moves_the_optics():
    plain_h, plain_v = optics.response_matrices(LATTICE, LATTICE.nominal_scales(), field_error=False)
    # the plain translation misses the reference by several per cent (NOTES: 2.9 % / 11 %)
    assert relative_error(plain_h[0], reference_response("x")) > 0.02
    assert relative_error(plain_v[0], reference_response("y")) > 0.05


def test_response_formula_equals_transfer_map_kick_response():
    """For a pair on the same side of the tilted bend the formula is exact:
    dx_bpm/dtheta_cor = (M_bpm M_cor^-1)[0, 1] = 2 R (the 0.5 calibration factor)."""
    scales = np.random.default_rng(3).uniform(0.75, 1.25, size=(2, 10))
    maps = optics.cumulative_maps(LATTICE, scales)
    names = [e.name for e in LATTICE.elements]
    response_h, response_v = optics.response_matrices(LATTICE, scales)
    upstream_bpms = [b for b in LATTICE.bpms if names.index(b) < names.index("MBAWH.412343")]
    for b, bpm in enumerate(upstream_bpms):
        for c, cor in enumerate(LATTICE.correctors):
            if names.index(cor) >= names.index(bpm):
                continue
            kick_map = maps[:, names.index(bpm)] @ torch.linalg.inv(maps[:, names.index(cor)])
            np.testing.assert_allclose(2 * response_h[:, b, c], kick_map[:, 0, 1].numpy(), rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(2 * response_v[:, b, c], kick_map[:, 2, 3].numpy(), rtol=1e-9, atol=1e-9)


def test_batched_equals_one_at_a_time():
    scales = np.random.default_rng(0).uniform(0.75, 1.25, size=(4, 10))
    batch_h, batch_v = optics.response_matrices(LATTICE, scales)
    for i in range(4):
        single_h, single_v = optics.response_matrices(LATTICE, scales[i : i + 1])
        np.testing.assert_allclose(batch_h[i], single_h[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch_v[i], single_v[0], rtol=1e-12, atol=1e-12)


def test_quad_settings_change_the_response_and_zero_upstream():
    scales = LATTICE.nominal_scales(2)
    scales[1, LATTICE.knob_names.index("kqf412346")] = 1.2
    response_h, _ = optics.response_matrices(LATTICE, scales)
    assert not np.allclose(response_h[0], response_h[1])
    # a BPM never sees a corrector downstream of it
    assert np.all(response_h[:, ~LATTICE.downstream_mask()] == 0)


def test_bad_scales_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"shape \(B, 10\)"):
        optics.response_matrices(LATTICE, np.ones((3, 9)))


def test_beamline_gives_positions_and_betas_for_the_picture():
    line = optics.beamline(LATTICE)
    table = optics.twiss(LATTICE, LATTICE.nominal_scales())
    n = len(LATTICE.elements)
    assert line["s"].shape == line["beta_x"].shape == line["beta_y"].shape == (n + 1,)
    assert line["s"][0] == 0 and np.all(np.diff(line["s"]) >= 0)
    assert line["beta_x"][0] == LATTICE.initial_twiss["beta_x"]
    np.testing.assert_array_equal(line["beta_y"][1:], table["beta_y"][0])
    assert len(line["centres"]["bpm"]) == len(LATTICE.names_of("bpm"))
    assert np.all((line["centres"]["quadrupole"] > 0) & (line["centres"]["quadrupole"] < line["s"][-1]))
    changed = optics.beamline(LATTICE, np.full(len(LATTICE.knob_names), 0.8))
    assert not np.allclose(changed["beta_x"], line["beta_x"])


def test_the_lattice_is_an_object_passed_in():
    """The shipped model is read once; a lattice read from the same file gives the same optics."""
    assert default_lattice() is LATTICE
    with pytest.raises(TypeError):
        LATTICE.knobs["kqd430031"] = 0.0  # shared: read-only
    other = load_lattice()
    assert other is not LATTICE and other.elements == LATTICE.elements
    scales = np.random.default_rng(5).uniform(0.75, 1.25, size=(2, 10))
    for a, b in zip(optics.response_matrices(other, scales), optics.response_matrices(LATTICE, scales)):
        np.testing.assert_array_equal(a, b)
