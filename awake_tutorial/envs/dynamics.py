"""The physics of AWAKE steering, batched numpy functions (the starts: :mod:`.starts`).

Both environments call this code: the vector env on a batch of ``n`` sub-envs, the single
env on a batch of one. So they run the same arithmetic and give identical numbers.

Shapes and units used throughout:
    R        (n, 10, 10) orbit response matrices, m/rad (rows BPMs, columns correctors)
    kicks    (n, 10)     corrector kicks, rad
    actions  (n, 10)     corrector changes in units of 1e-4 rad, nominally in [-1, 1]
    obs      (n, 10)     BPM readings in normalized units: 1.0 = 10 mm
    steps    (n,)        steps taken in the current episode (int)
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from awake_tutorial.physics.tasks import N_BPMS, N_CORRECTORS

KICK_PER_ACTION = 1e-4  # rad of kick change per unit of action
OBS_PER_METRE = 100.0  # normalized units per metre of beam offset (1.0 = 10 mm)
REWARD_PER_RMS = -10.0  # reward = -10 * RMS of the readings
WORST_REWARD = -10.0  # reward of one step at RMS = 1: no in-bounds step is this bad
SUCCESS_RMS = 0.1  # the episode succeeds below 1 mm RMS
WALL = 1.0  # |reading| >= 10 mm: the beam scrapes the vacuum chamber
OBS_PER_MM = OBS_PER_METRE * 1e-3  # normalized units per mm (BPM noise is given in mm)


class Transition(NamedTuple):
    """Result of one step of a batch of ``n`` envs (all arrays have leading size n)."""

    kicks: np.ndarray  # (n, 10) float64, rad, after the action
    obs: np.ndarray  # (n, 10) float32 readings, clipped to [-1, 1]
    reward: np.ndarray  # (n,) float64
    terminated: np.ndarray  # (n,) bool: success or wall
    truncated: np.ndarray  # (n,) bool: time limit reached without terminating
    rms: np.ndarray  # (n,) float64 RMS of the unclipped readings the reward uses
    success: np.ndarray  # (n,) bool
    wall: np.ndarray  # (n,) bool
    steps: np.ndarray  # (n,) int64, steps taken including this one


def check_actions(actions, batch_shape: tuple[int, ...]) -> np.ndarray:
    """``actions`` as float64 of shape ``batch_shape + (10,)``, or a clear error."""
    expected = tuple(batch_shape) + (N_CORRECTORS,)
    try:
        array = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"actions must be numbers of shape {expected}, got {type(actions).__name__}: {error}"
        ) from None
    if array.shape != expected:
        raise ValueError(
            f"actions must have shape {expected} (one value per corrector), got {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            "actions contain NaN or inf; the policy produced invalid numbers "
            "(check its outputs, e.g. for a diverged training run). Nothing was changed."
        )
    return array


def rescale(actions: np.ndarray) -> np.ndarray:
    """Divide each action vector with max|a| > 1 by max|a|: the direction is kept."""
    magnitude = np.abs(actions)
    if magnitude.max(initial=0.0) <= 1.0:  # fast path: nothing to rescale
        return actions
    return actions / np.maximum(magnitude.max(axis=-1, keepdims=True), 1.0)


def orbit(R: np.ndarray, kicks: np.ndarray) -> np.ndarray:
    """Beam positions at the BPMs, m: ``R @ kicks``, R (n, 10, 10), kicks (n, 10) -> (n, 10).

    For m kick vectors per env at once pass them as columns, (n, 10, m) -> (n, 10, m).
    """
    if kicks.ndim == 2:
        return np.matmul(R, kicks[:, :, None])[:, :, 0]
    return np.matmul(R, kicks)


def observe(R: np.ndarray, kicks: np.ndarray) -> np.ndarray:
    """Unclipped readings ``100 * R @ kicks`` (normalized units), shapes as :func:`orbit`."""
    return OBS_PER_METRE * orbit(R, kicks)


def rms(obs: np.ndarray) -> np.ndarray:
    """Root mean square over the 10 BPMs (last axis)."""
    return np.sqrt(np.einsum("...i,...i->...", obs, obs) / N_BPMS)


def hit_wall(readings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the wall: from the first BPM with |reading| >= 1 on, the beam is lost.

    Those BPMs read +-1 (the sign of their reading). Returns (readings, wall mask (n,)).
    """
    outside = np.abs(readings) >= WALL
    if not outside.any():  # fast path: every beam inside the chamber
        return readings, np.zeros(readings.shape[:-1], dtype=bool)
    lost = np.logical_or.accumulate(outside, axis=-1)
    return np.where(lost, np.copysign(WALL, readings), readings), lost[..., -1]


def add_bpm_noise(readings: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    """BPM readings with measurement noise (normalized units, same shape) added.

    Only BPMs the beam reaches get noise: those past the wall read +-1 (no beam, no
    signal to be noisy). ``noise=None`` returns ``readings`` itself (no noise: numbers
    bit for bit as without this step).
    """
    if noise is None:
        return readings
    return np.where(np.abs(readings) < WALL, readings + noise, readings)


NOISE_STREAM = 0x6E6F6973  # spawn key of the BPM-noise stream ("nois")


def noise_generator(rng: np.random.Generator) -> np.random.Generator:
    """The BPM-noise generator of an env whose start generator is ``rng``.

    It is a child of ``rng``'s seed (fixed spawn key), not drawn from ``rng``: adding
    noise never changes the starts, and the same seed gives the same noise in the
    single env, the vector env and the sampler.
    """
    seed = rng.bit_generator.seed_seq
    return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, NOISE_STREAM)))


def draw_bpm_noise(generators: Sequence[np.random.Generator], bpm_noise: float) -> np.ndarray | None:
    """Gaussian BPM noise (m, 10), normalized units, std ``bpm_noise`` mm; None if it is 0.

    One draw of 10 numbers per generator (one per env), so each env's noise depends on
    its own generator only.
    """
    if not bpm_noise:
        return None
    return bpm_noise * OBS_PER_MM * np.stack([g.standard_normal(N_BPMS) for g in generators])


def next_kicks(kicks: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Kicks (n, 10) rad after ``actions`` (n, 10), rescaled to max|a| <= 1."""
    return kicks + KICK_PER_ACTION * rescale(actions)


def measure(R: np.ndarray, kicks: np.ndarray, noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What the BPMs read for ``kicks`` (n, 10) rad: (readings (n, 10) normalized, after the
    wall rule and any BPM noise; wall (n,) bool). Shared by :func:`step` and the env's
    in-process backend."""
    readings, wall = hit_wall(observe(R, kicks))
    return add_bpm_noise(readings, noise), wall


def outcome(
    kicks: np.ndarray,
    readings: np.ndarray,
    wall: np.ndarray,
    steps: np.ndarray,
    max_steps: int,
    strict_wall: bool,
) -> Transition:
    """Reward, flags and observation of a step that led to ``kicks`` and measured ``readings``.

    ``readings`` (n, 10) normalized, after the wall rule (and any BPM noise); ``wall`` (n,)
    says where the beam was lost. The in-process physics (:func:`step`) and a machine
    backend (readings from a control system) both end here, so both score alike.
    """
    rms_ = rms(readings)
    reward = REWARD_PER_RMS * rms_
    steps = steps + 1
    if strict_wall and wall.any():
        # Ending the episode at the wall must not beat staying in bounds: every step
        # left is charged the worst reward an in-bounds step could approach.
        reward = np.where(wall, reward + WORST_REWARD * (max_steps - steps), reward)
    success = (rms_ < SUCCESS_RMS) & ~wall  # (at the wall RMS >= 1/sqrt(10) > 0.1 anyway)
    terminated = success | wall
    truncated = (steps >= max_steps) & ~terminated
    obs = np.clip(readings, -WALL, WALL).astype(np.float32)  # noise may push a reading past 1
    return Transition(kicks, obs, reward, terminated, truncated, rms_, success, wall, steps)


def step(
    R: np.ndarray,
    kicks: np.ndarray,
    actions: np.ndarray,
    steps: np.ndarray,
    max_steps: int,
    strict_wall: bool,
    noise: np.ndarray | None = None,
) -> Transition:
    """One step of every env in the batch; ``actions`` already checked (finite, right shape).

    ``noise``: None, or BPM noise (n, 10) in normalized units (see :func:`add_bpm_noise`).
    """
    kicks = next_kicks(kicks, actions)
    readings, wall = measure(R, kicks, noise)
    return outcome(kicks, readings, wall, steps, max_steps, strict_wall)


def first_observation(R: np.ndarray, kicks: np.ndarray,
                      noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float32 readings, RMS) at the start of an episode (no wall: starts are in bounds)."""
    readings = add_bpm_noise(observe(R, kicks), noise)
    return np.clip(readings, -WALL, WALL).astype(np.float32), rms(readings)


__all__ = [
    "N_BPMS",
    "N_CORRECTORS",
    "KICK_PER_ACTION",
    "OBS_PER_METRE",
    "OBS_PER_MM",
    "SUCCESS_RMS",
    "WALL",
    "WORST_REWARD",
    "Transition",
    "check_actions",
    "rescale",
    "orbit",
    "observe",
    "rms",
    "hit_wall",
    "add_bpm_noise",
    "noise_generator",
    "draw_bpm_noise",
    "next_kicks",
    "measure",
    "outcome",
    "step",
    "first_observation",
]
