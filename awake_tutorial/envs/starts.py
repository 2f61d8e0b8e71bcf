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

    An env draws candidate kicks U(-5e-4, 5e-4) rad from its own generator in blocks of
    ``BLOCK`` and takes the valid ones (every |reading| <= 0.95 and RMS > 0.2) in draw
    order, one per reset; when a block's valid ones are used up, the next block follows.
    A block is drawn lazily, in pieces (16, 16, 32, 64 then 128 candidates), only as far
    as the next valid start: an env of the meta-learning sampler needs two starts, which
    the first piece or two hold (~23 % of candidates are valid), so it never draws the other
    ~200. The starts are the same as drawing whole blocks: a generator gives the same
    numbers whether asked for them at once or in pieces. Scoring the pieces of all
    resetting envs with a few array operations keeps resets cheap in the vector env, while
    each generator sees exactly the calls it would see in a single env: single and vector
    envs give the same episodes.

    Some tasks (small response matrices) almost never give RMS > 0.2. Like the reference
    course, which gave up after 1000 draws, a reset whose block holds no valid start draws
    the rest of ``MAX_CANDIDATES`` at once, and without a valid start there either takes the
    best of them (in bounds, largest RMS).
    """

    BLOCK = 256  # candidates per block (and most valid ones kept)
    MAX_CANDIDATES = 1024  # drawn by one reset at most, then the fallback
    FIRST_PIECE = 16  # a block is drawn in pieces 16, 16, 32, 64, 128: each doubles what was drawn

    def __init__(self, num_envs: int):
        # valid kicks of the block, in order; not zeroed (5 MB for a meta-batch's 256 envs, ~1 ms): a slot is
        # written before it is read, or the read is replaced by the fallback start (tested with NaN garbage)
        self._valid = np.empty((num_envs, self.BLOCK, N_CORRECTORS))
        self._count = np.zeros(num_envs, dtype=np.int64)  # valid kicks found in the current block
        self._taken = np.zeros(num_envs, dtype=np.int64)  # of which used already
        self._drawn = np.full(num_envs, self.BLOCK, dtype=np.int64)  # candidates of the block drawn (BLOCK: done)
        self._best_score = np.full(num_envs, -np.inf)  # the block's best candidate so far (for the fallback)
        self._best = np.zeros((num_envs, N_CORRECTORS))

    def forget(self, envs) -> None:
        """Drop the candidates of ``envs``: call it when their generator or task changes."""
        self._count[envs] = 0
        self._taken[envs] = 0
        self._drawn[envs] = self.BLOCK

    def sample(self, envs, rngs: Sequence[np.random.Generator], R: np.ndarray) -> np.ndarray:
        """Initial kicks (m, 10) rad for the envs with indices ``envs`` (m,).

        ``rngs`` and ``R`` (num_envs, 10, 10) are those of all envs, indexed by ``envs``.
        """
        envs = np.asarray(envs)
        empty = envs[self._taken[envs] >= self._count[envs]]
        fallback = self._search(empty, rngs, R) if empty.size else {}
        kicks = self._valid[envs, np.minimum(self._taken[envs], self.BLOCK - 1)]
        self._taken[envs] += 1
        for env, start in fallback.items():
            kicks[envs == env] = start
        return kicks

    def _draw(self, envs: np.ndarray, size: int, rngs, R: np.ndarray):
        """The next ``size`` candidates (p, size, 10) rad of each of ``envs`` (p,), and their
        scores and validity (p, size)."""
        candidates = np.stack([rngs[e].uniform(-INITIAL_KICK, INITIAL_KICK, (size, N_CORRECTORS)) for e in envs])
        score = start_score(observe(R[envs], np.swapaxes(candidates, -1, -2)))
        return candidates, score, score > RESET_MIN_RMS  # valid: in bounds and RMS > 0.2

    def _keep(self, envs: np.ndarray, candidates: np.ndarray, score: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Append the valid candidates to each env's list (in draw order, at most BLOCK) and
        track the best one; returns how many were valid (p,)."""
        found = valid.sum(axis=1)
        first = np.argsort(~valid, axis=1, kind="stable")  # valid first, in draw order
        rows, cols = np.nonzero(np.arange(valid.shape[1]) < np.minimum(found, self.BLOCK - self._count[envs])[:, None])
        self._valid[envs[rows], self._count[envs[rows]] + cols] = candidates[rows, first[rows, cols]]
        self._count[envs] = np.minimum(self._count[envs] + found, self.BLOCK)
        top = np.argmax(score, axis=1)  # fallback bookkeeping: strictly better only, so the first best wins
        top_score = score[np.arange(envs.size), top]
        better = top_score > self._best_score[envs]
        self._best_score[envs[better]] = top_score[better]
        self._best[envs[better]] = candidates[better, top[better]]
        return found

    def _search(self, envs: np.ndarray, rngs, R: np.ndarray) -> dict[int, np.ndarray]:
        """Draw on until each of ``envs`` has a valid start not yet taken; returns {env:
        fallback kicks} for those whose MAX_CANDIDATES draws hold none."""
        fallback = {}
        pending = envs
        while pending.size:
            done = self._drawn[pending] >= self.BLOCK  # a new block for these
            fresh = pending[done]
            self._count[fresh], self._taken[fresh], self._drawn[fresh] = 0, 0, 0
            self._best_score[fresh] = -np.inf
            still, position = [], self._drawn[pending].copy()
            for drawn in np.unique(position):  # envs as far into their block draw alike
                group = pending[position == drawn]
                size = max(int(drawn), self.FIRST_PIECE)
                found = self._keep(group, *self._draw(group, size, rngs, R))
                self._drawn[group] += size
                searching = group[(found == 0) & (self._drawn[group] >= self.BLOCK)]
                hopeless = searching[self._count[searching] == 0]  # a whole block without a valid start
                if hopeless.size:
                    fallback.update(self._rest(hopeless, rngs, R))
                still.append(group[(found == 0) & (self._drawn[group] < self.BLOCK)])
                still.append(searching[self._count[searching] > 0])  # block used up: the next block
            pending = np.concatenate(still)
        return fallback

    def _rest(self, envs: np.ndarray, rngs, R: np.ndarray) -> dict[int, np.ndarray]:
        """The rest of MAX_CANDIDATES at once for ``envs`` whose block held no valid start;
        returns {env: fallback kicks} for those without a valid start there either."""
        self._keep(envs, *self._draw(envs, self.MAX_CANDIDATES - self.BLOCK, rngs, R))
        pending = envs[self._count[envs] == 0]
        if np.any(self._best_score[pending] <= -WALL):  # every candidate put the beam on the wall
            raise RuntimeError(
                f"no start with the beam inside the chamber in {self.MAX_CANDIDATES} draws of "
                f"kicks U(-{INITIAL_KICK}, {INITIAL_KICK}) rad: the response matrix is far too "
                "large (entries of a few to ~50 m/rad expected); check its units (m/rad)."
            )
        return {int(e): self._best[e].copy() for e in pending}
