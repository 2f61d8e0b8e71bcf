"""Fast path: packed steps regrouped into chunks of a few dozen steps, each of one task.

``BatchEpisodes.packed()`` gives (K, N, ...) with N the most steps of *any* task: in a
meta-batch where one task's episodes run to max_steps and the others end in a few steps,
most rows are padding (zero weight). Measured over a default meta-training, N is ~3.7x
the mean steps per task. The per-task matrix products of the fast path (one parameter
set per task, ``torch.bmm``) do the arithmetic of the padding too, and at these sizes the
line search, the outer gradient and the inner step are bound by that arithmetic.

:class:`Chunks` cuts each task's steps into chunks of ``length`` steps and keeps only
chunks that hold a step that ran: (K, N, ...) -> (G, length, ...), G ~ sum_k n_k / length
+ K / 2. Each chunk runs with its task's parameters (:meth:`Chunks.params`, an index
select of (K, ...) tensors), and per-chunk sums go back to per-task sums by
:meth:`Chunks.sum_tasks`. The padding left is under one chunk per task. Same maths as
the (K, N) layout; only the order of float additions differs.

Shapes: K tasks, N packed steps, G chunks of L = ``length`` steps; with ``repeats`` R
(the line search's candidates, task-minor as ``outer._repeat_candidates``) (R * K, ...)
tensors map to (R * G, ...) ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CHUNK = 32  # steps per chunk: padding under 32 rows per task, G ~ (steps + 16 K) / 32 chunks


class Chunks:
    """The chunk layout of packed steps whose weights are ``weights`` (K, N) (> 0 where a
    step ran; running steps come first in each task, as :meth:`BatchEpisodes.pack` puts them)."""

    def __init__(self, weights: torch.Tensor, length: int = CHUNK):
        K, N = weights.shape
        per_task = -(-N // length)  # chunks per task in the padded layout
        counts = (weights > 0).sum(-1, keepdim=True)  # steps that ran, per task
        used = torch.arange(per_task) * length < counts.clamp(min=1)  # (K, per_task); every task keeps one
        self.index = torch.nonzero(used.reshape(-1)).squeeze(-1)  # (G,) into the (K * per_task) chunks
        self.task = torch.div(self.index, per_task, rounding_mode="floor")  # (G,) the chunk's task
        self.num_tasks, self.length, self.per_task, self.pad = K, length, per_task, per_task * length - N

    @property
    def num_chunks(self) -> int:
        return int(self.index.numel())

    def steps(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N, *rest) -> (G, L, *rest): the chunks that hold steps that ran."""
        if self.pad:
            x = torch.cat([x, x.new_zeros(x.shape[0], self.pad, *x.shape[2:])], dim=1)
        return x.reshape(self.num_tasks * self.per_task, self.length, *x.shape[2:]).index_select(0, self.index)

    def _task_index(self, repeats: int) -> torch.Tensor:
        if repeats == 1:
            return self.task
        return (self.task + self.num_tasks * torch.arange(repeats).unsqueeze(1)).reshape(-1)

    def params(self, p: torch.Tensor, repeats: int = 1) -> torch.Tensor:
        """Per-task (R * K, ...) -> per chunk (R * G, ...): each chunk gets its task's tensor."""
        return p.index_select(0, self._task_index(repeats))

    def sum_tasks(self, y: torch.Tensor, repeats: int = 1) -> torch.Tensor:
        """Per chunk (R * G, ...) -> per task (R * K, ...): the sum over each task's chunks."""
        out = y.new_zeros(repeats * self.num_tasks, *y.shape[1:])
        return out.index_add_(0, self._task_index(repeats), y)


@dataclass
class ChunkedSteps:
    """Packed steps in the chunk layout: observations (G, L, obs_dim), actions (G, L, A),
    ``weights`` (G, L) (the packed steps' weights), ``coef`` (G, L) (the inner loss's
    -weight * advantage, or None) and ``advantages`` (G, L) (or None)."""

    chunks: Chunks
    observations: torch.Tensor
    actions: torch.Tensor
    weights: torch.Tensor
    advantages: torch.Tensor | None
    coef: torch.Tensor | None = None

    @classmethod
    def of(cls, steps, inner_weights: torch.Tensor | None = None, length: int = CHUNK) -> "ChunkedSteps":
        """From a :class:`~awake_tutorial.rl.episodes.PackedSteps` (K, N, ...); ``inner_weights``
        (K, N): the inner REINFORCE loss's step weights (then ``coef`` is set)."""
        chunks = Chunks(steps.weights, length)
        advantages = None if steps.advantages is None else chunks.steps(steps.advantages)
        coef = None if inner_weights is None else -chunks.steps(inner_weights * steps.advantages)
        return cls(chunks, chunks.steps(steps.observations), chunks.steps(steps.actions),
                   chunks.steps(steps.weights), advantages, coef)
