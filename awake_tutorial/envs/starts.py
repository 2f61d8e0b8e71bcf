"""Random starts of an episode: initial kicks that put the beam off centre, in bounds.

:class:`StartSampler` serves the starts of a batch of envs (the single env is a batch of
one), :func:`start_score` scores candidate starts. Shapes and units as in
:mod:`awake_tutorial.envs.dynamics`: kicks (n, 10) rad, readings in units of 10 mm.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from awake_tutorial.envs.dynamics import N_CORRECTORS, WALL, observe, rms

INITIAL_KICK = 5e-4  # initial kicks are drawn from U(-5e-4, 5e-4) rad ...
RESET_MAX_ABS = 0.95  # ... until every |reading| <= 0.95 ...
RESET_MIN_RMS = 0.2  # ... and the RMS > 0.2 (a start that needs correcting)


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
