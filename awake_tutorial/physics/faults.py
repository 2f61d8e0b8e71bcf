"""Machine faults of a task, as changes of its response matrices (rows BPMs, columns correctors).

A **dead BPM** reads 0: its row of R is 0. A **miscalibrated corrector** kicks
``1 +- calibration_error`` times what it is told: its column of R is scaled. Acting on R,
a fault reaches every method, env and sampler with no change of theirs. Drawn per task by
:meth:`awake_tutorial.physics.tasks.TaskDistribution.sample` from the config's
``dead_bpms``, ``miscalibrated_correctors`` and ``calibration_error``.
"""

from __future__ import annotations

import numpy as np

FAULT_STREAM = 1  # faults draw from default_rng([seed, FAULT_STREAM]): the knob scales stay the seed's


def draw_faults(n: int, seed: int, dead_bpms: int, miscalibrated_correctors: int,
                calibration_error: float, n_bpms: int = 10, n_correctors: int = 10) -> list[dict]:
    """Per task: {"dead_bpms": [BPM indices], "correctors": {corrector index: gain}}, seeded."""
    rng = np.random.default_rng([seed, FAULT_STREAM])
    out = []
    for _ in range(int(n)):
        dead = sorted(int(i) for i in rng.choice(n_bpms, size=dead_bpms, replace=False))
        which = rng.choice(n_correctors, size=miscalibrated_correctors, replace=False)
        signs = rng.choice([-1.0, 1.0], size=len(which))
        out.append({"dead_bpms": dead,
                    "correctors": {int(j): float(1.0 + s * calibration_error) for j, s in zip(which, signs)}})
    return out


def apply_faults(response: np.ndarray, faults: dict) -> np.ndarray:
    """``response`` (10, 10) m/rad with the dead BPMs' rows set to 0 and the correctors'
    columns scaled by their gains (a new array)."""
    bpm_gain = np.ones(response.shape[0])
    bpm_gain[faults["dead_bpms"]] = 0.0
    corrector_gain = np.ones(response.shape[1])
    for j, gain in faults["correctors"].items():
        corrector_gain[int(j)] = gain
    return bpm_gain[:, None] * response * corrector_gain[None, :]
