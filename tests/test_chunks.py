"""The fast path's chunk layout (rl/fast/chunks.py): every step that ran is in exactly one
chunk of its own task, padding is under one chunk per task, per-chunk sums add up to the
per-task sums of the (K, N) layout."""

import torch

from awake_tutorial.rl.fast.chunks import Chunks, ChunkedSteps
from awake_tutorial.rl.episodes import PackedSteps


def packed(counts, N, seed=0):
    """PackedSteps of len(counts) tasks padded to N, task k with counts[k] steps that ran (first)."""
    g = torch.Generator().manual_seed(seed)
    K = len(counts)
    ran = torch.arange(N) < torch.tensor(counts).unsqueeze(1)
    weights = ran * torch.rand(K, N, generator=g)
    return PackedSteps(torch.randn(K, N, 10, generator=g) * ran.unsqueeze(-1),
                       torch.randn(K, N, 10, generator=g), torch.randn(K, N, generator=g) * ran, weights)


def test_every_step_that_ran_is_in_one_chunk_of_its_task_and_sums_agree():
    counts, N, L = [100, 3, 33, 64, 1], 100, 32
    steps = packed(counts, N)
    chunked = ChunkedSteps.of(steps, inner_weights=steps.weights * 2, length=L)
    chunks = chunked.chunks
    assert chunks.num_chunks == sum(-(-c // L) for c in counts)  # no chunk of padding only
    assert chunked.observations.shape == (chunks.num_chunks, L, 10)
    assert torch.equal(chunks.task, torch.tensor([0, 0, 0, 0, 1, 2, 2, 3, 3, 4]))
    per_task = chunks.sum_tasks((chunked.weights * chunked.advantages).sum(1))
    assert torch.allclose(per_task, (steps.weights * steps.advantages).sum(1), rtol=1e-6, atol=1e-6)
    assert torch.allclose(chunks.sum_tasks(chunked.coef.sum(1)), -(2 * steps.weights * steps.advantages).sum(1),
                          rtol=1e-6, atol=1e-6)
    assert torch.isclose(chunked.weights.sum(), steps.weights.sum())


def test_params_and_sums_with_repeats_follow_candidates_task_minor():
    steps = packed([5, 40], 40)
    chunks = Chunks(steps.weights, length=16)  # task 0: 1 chunk, task 1: 3
    per_task = torch.arange(2 * 2).float().view(4, 1)  # 2 candidates x 2 tasks, task-minor
    assert chunks.params(per_task, repeats=2).view(-1).tolist() == [0, 1, 1, 1, 2, 3, 3, 3]
    assert chunks.sum_tasks(torch.ones(8, 1), repeats=2).view(-1).tolist() == [1, 3, 1, 3]
