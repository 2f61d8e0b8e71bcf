"""The physics of AWAKE steering, batched: numpy functions plus :class:`StartSampler`.

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
INITIAL_KICK = 5e-4  # initial kicks are drawn from U(-5e-4, 5e-4) rad ...
RESET_MAX_ABS = 0.95  # ... until every |reading| <= 0.95 ...
RESET_MIN_RMS = 0.2  # ... and the RMS > 0.2 (a start that needs correcting)
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


def observe(R: np.ndarray, kicks: np.ndarray) -> np.ndarray:
    """Unclipped readings ``100 * R @ kicks``: R (n, 10, 10), kicks (n, 10) -> (n, 10).

    For m kick vectors per env at once pass them as columns, (n, 10, m) -> (n, 10, m).
    """
    if kicks.ndim == 2:
        return OBS_PER_METRE * np.matmul(R, kicks[:, :, None])[:, :, 0]
    return OBS_PER_METRE * np.matmul(R, kicks)


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
    readings, wall = hit_wall(observe(R, kicks))
    return outcome(kicks, add_bpm_noise(readings, noise), wall, steps, max_steps, strict_wall)


def first_observation(R: np.ndarray, kicks: np.ndarray,
                      noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float32 readings, RMS) at the start of an episode (no wall: starts are in bounds)."""
    readings = add_bpm_noise(observe(R, kicks), noise)
    return np.clip(readings, -WALL, WALL).astype(np.float32), rms(readings)


def start_score(readings: np.ndarray) -> np.ndarray:
    """Score of candidate starts: their RMS if every |reading| <= 0.95, else -max|reading|.

    A start is valid when its score > 0.2 (in bounds and RMS > 0.2); when no valid start
    turns up, the best score is the next best thing. readings (..., 10, m): m candidates
    as columns (reducing over the BPM axis is then fast).
    """
    largest = np.abs(readings).max(axis=-2)
    return np.where(largest <= RESET_MAX_ABS, rms(np.moveaxis(readings, -2, -1)), -largest)


class StartSampler:
    """Random initial kicks for ``num_envs`` envs, each from its own stream of candidates.

    An env draws candidate kicks U(-5e-4, 5e-4) rad from its own generator, ``BLOCK`` at
    a time, and keeps the valid ones (every |reading| <= 0.95 and RMS > 0.2) in draw
    order; each reset takes the next one and draws again when they are used up. Scoring
    whole blocks, and serving all resetting envs with a few array operations, keeps
    resets cheap in the vector env, while each generator sees exactly the calls it would
    see in a single env: single and vector envs give the same episodes.

    Some tasks (small response matrices) almost never give RMS > 0.2. Like the reference
    course, which gave up after 1000 draws, a reset that draws ``MAX_CANDIDATES`` without
    a valid start takes the best of them (in bounds, largest RMS).
    """

    BLOCK = 256  # candidates drawn per generator call (and most valid ones kept)
    MAX_CANDIDATES = 1024  # drawn by one reset at most, then the fallback

    def __init__(self, num_envs: int):
        self._valid = np.zeros((num_envs, self.BLOCK, N_CORRECTORS))  # valid kicks, in order
        self._count = np.zeros(num_envs, dtype=np.int64)  # valid kicks in the current block
        self._taken = np.zeros(num_envs, dtype=np.int64)  # of which used already

    def forget(self, envs) -> None:
        """Drop the candidates of ``envs``: call it when their generator or task changes."""
        self._count[envs] = 0
        self._taken[envs] = 0

    def sample(self, envs, rngs: Sequence[np.random.Generator], R: np.ndarray) -> np.ndarray:
        """Initial kicks (m, 10) rad for the envs with indices ``envs`` (m,).

        ``rngs`` and ``R`` (num_envs, 10, 10) are those of all envs, indexed by ``envs``.
        """
        envs = np.asarray(envs)
        empty = envs[self._taken[envs] >= self._count[envs]]
        fallback = self._refill(empty, rngs, R) if empty.size else {}
        kicks = self._valid[envs, np.minimum(self._taken[envs], self.BLOCK - 1)]
        self._taken[envs] += 1
        for env, start in fallback.items():
            kicks[envs == env] = start
        return kicks

    def _refill(self, envs: np.ndarray, rngs, R: np.ndarray) -> dict[int, np.ndarray]:
        """Draw new candidates for ``envs``; returns {env: fallback kicks} for hopeless ones."""
        best_score = np.full(envs.size, -np.inf)
        best = np.zeros((envs.size, N_CORRECTORS))
        pending = np.arange(envs.size)  # rows of `envs` without a valid start yet
        # one block; for the rare env without a valid start in it, the rest in one go
        for size in (self.BLOCK, self.MAX_CANDIDATES - self.BLOCK):
            env = envs[pending]
            candidates = np.stack(  # (p, size, 10) rad
                [rngs[e].uniform(-INITIAL_KICK, INITIAL_KICK, (size, N_CORRECTORS)) for e in env]
            )
            score = start_score(observe(R[env], np.swapaxes(candidates, -1, -2)))
            valid = score > RESET_MIN_RMS  # in bounds and RMS > 0.2
            first = np.argsort(~valid, axis=1, kind="stable")[:, : self.BLOCK]  # valid first
            self._valid[env] = np.take_along_axis(candidates, first[:, :, None], axis=1)
            self._count[env] = np.minimum(valid.sum(axis=1), self.BLOCK)
            self._taken[env] = 0
            top = np.argmax(score, axis=1)  # fallback bookkeeping
            better = score[np.arange(pending.size), top] > best_score[pending]
            best_score[pending[better]] = score[better, top[better]]
            best[pending[better]] = candidates[better, top[better]]
            pending = pending[self._count[env] == 0]
            if pending.size == 0:
                return {}
        if np.any(best_score[pending] <= -WALL):  # every candidate put the beam on the wall
            raise RuntimeError(
                f"no start with the beam inside the chamber in {self.MAX_CANDIDATES} draws of "
                f"kicks U(-{INITIAL_KICK}, {INITIAL_KICK}) rad: the response matrix is far too "
                "large (entries of a few to ~50 m/rad expected); check its units (m/rad)."
            )
        return {int(envs[j]): best[j] for j in pending}


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
    "observe",
    "rms",
    "hit_wall",
    "add_bpm_noise",
    "noise_generator",
    "draw_bpm_noise",
    "next_kicks",
    "outcome",
    "step",
    "first_observation",
    "start_score",
    "StartSampler",
]
