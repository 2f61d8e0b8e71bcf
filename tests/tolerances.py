"""Tolerances for numbers compared with a shipped file or a stored figure.

What is reproducible bit for bit: the same computation with the same seed on the same
machine. What is reproducible to a tolerance: the same computation on another CPU, where
float64 results of the optics differ in the last bits (vectorised math functions, BLAS and
torch kernels pick other code paths). A test that compares against ``data/`` or a stored
number therefore uses a tolerance from this module, with its reason; a test that compares
two results computed in the same test run may stay exact.
"""

import numpy as np

# Regenerated response matrices against the shipped ones: relative to the largest entry of
# each matrix. The optics agree with MAD-X to ~1e-3, and last-bit differences between CPUs
# are ~1e-16 per operation (a few hundred chained 4x4 maps: < 1e-13); 1e-12 still catches
# any change of the computation (a changed seed, knob, element or formula moves entries by
# far more than 1e-9).
OPTICS_RTOL = 1e-12


def assert_same_matrix(new: np.ndarray, old: np.ndarray, rtol: float = OPTICS_RTOL, what: str = "") -> None:
    """``new`` equals ``old`` to ``rtol`` times the largest |entry| of ``old``, same shape."""
    new, old = np.asarray(new), np.asarray(old)
    assert new.shape == old.shape, f"{what}: shape {new.shape} != {old.shape}"
    scale = float(np.max(np.abs(old))) or 1.0
    np.testing.assert_allclose(new, old, rtol=0, atol=rtol * scale, err_msg=what)


def assert_same_tasks(new, old, rtol: float = OPTICS_RTOL) -> None:
    """Same ids and knob scales (exact: they come from a seeded generator, not from
    vectorised math), and the same response matrices to ``rtol``."""
    assert [t.id for t in new] == [t.id for t in old]
    for a, b in zip(new, old):
        assert a.quad_scales == b.quad_scales, f"task {b.id}: knob scales differ"
        for plane in ("horizontal", "vertical"):
            assert_same_matrix(a.response(plane), b.response(plane), rtol, f"task {b.id} {plane}")
