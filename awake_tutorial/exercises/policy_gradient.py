"""Exercises of notebook 03: the REINFORCE loss and generalized advantage estimation.

Both take padded (T, B) tensors, as :mod:`awake_tutorial.rl.episodes` stores a batch of one
task: T time steps, B episodes, ``mask`` 1.0 while an episode runs and 0.0 after.
The checkers fill the padding with nonsense on purpose: a result that depends on it
has forgotten the mask.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from awake_tutorial.rl.episodes import BatchEpisodes, discounted_cumsum, generalized_advantages, weighted_mean
from awake_tutorial.exercises._feedback import as_array, call, checker, close, shape_problem


def padded_batch(seed: int = 0, T: int = 12, B: int = 5) -> dict[str, torch.Tensor]:
    """Random (T, B) rewards, values, log-probs, advantages and a mask of unequal lengths."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([T, 3, 7, 1, T - 2][:B])
    mask = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).double()
    noise = lambda: torch.randn(T, B, generator=generator, dtype=torch.float64)  # noqa: E731
    garbage = 100.0 * (1 - mask)  # padding: a result that depends on it ignores the mask
    return {"rewards": -torch.rand(T, B, generator=generator, dtype=torch.float64) * mask + garbage,
            "values": noise() * mask + garbage, "log_probs": noise() * mask + garbage,
            "advantages": noise() * mask + garbage, "mask": mask}


def _weights(mask: torch.Tensor) -> torch.Tensor:
    zeros = torch.zeros_like(mask)
    return BatchEpisodes(zeros, zeros, zeros, mask, zeros.bool()).weights


def reinforce_loss_reference(log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """-(1/B) sum_b sum_{t < T_b} log pi(a_t|s_t) A_t: ``reinforce.inner_loss`` with the default
    ``inner_weighting: sum`` (every step weighs alike, mean over the B episodes)."""
    return -(log_probs * advantages * mask).sum() / mask.shape[-1]


def _wrong_losses(log_probs, advantages, mask) -> dict[str, float]:
    """The plausible wrong answers, by the message that names each."""
    product = log_probs * advantages * mask
    B = mask.shape[-1]
    return {
        "wrong sign: gradient *descent* on the loss must make good actions (A > 0) more likely, so "
        "the loss is MINUS the mean of log pi * A.": (product.sum() / B).item(),
        "you averaged each episode over its own steps first (1/T_b): that is the reference course's "
        "`inner_weighting: mean`, where every episode weighs alike. The default sums an episode's steps, "
        "so every step weighs alike, and averages over the B episodes only.":
            -weighted_mean(product, _weights(mask)).item(),
        "you averaged over all N steps of the batch (1/N): same direction as the default, but its scale "
        "changes with the episode lengths, and so would the step size. Average over the B episodes.":
            -(product.sum() / mask.sum()).item(),
        "you summed over the episodes too: the loss is an average over the B episodes of each "
        "episode's sum.": -product.sum().item(),
        "your loss counts the padding after each episode's end: only the steps that ran (mask 1) count.":
            -(log_probs * advantages).sum().item() / B,
    }


@checker("REINFORCE loss (notebook 03)", fallback=reinforce_loss_reference,
         fallback_name="REINFORCE loss (exercises.policy_gradient.reinforce_loss_reference)")
def check_reinforce_loss(fn: Callable) -> str | None:
    """``fn(log_probs, advantages, mask) -> scalar loss``, all inputs (T, B) tensors."""
    for seed in range(3):
        batch = padded_batch(seed)
        log_probs = batch["log_probs"].clone().requires_grad_()
        loss = call(fn, log_probs, batch["advantages"].clone(), batch["mask"].clone())
        if not torch.is_tensor(loss) or loss.numel() != 1:
            return "return the loss as a one-number torch tensor (not a Python float, not one per episode)."
        if not loss.requires_grad:
            return ("your loss carries no gradient: compute it with torch operations on log_probs "
                    "(converting to a Python number or to numpy cuts autograd's graph).")
        mine = loss.item()
        args = batch["log_probs"], batch["advantages"], batch["mask"]
        reference = reinforce_loss_reference(*args).item()
        if np.isclose(mine, reference, rtol=1e-6):
            continue
        for message, wrong in _wrong_losses(*args).items():
            if np.isclose(mine, wrong, rtol=1e-6):
                return message
        if abs(mine) > 50:
            return "your loss is huge: it depends on the padding after each episode's end (values ~100 there)."
        return f"loss {mine:.6g}, expected {reference:.6g}."
    return None


def gae_reference(rewards, values, mask, gamma: float, lam: float) -> torch.Tensor:
    """GAE(gamma, lambda) of the package (``episodes.generalized_advantages``)."""
    return generalized_advantages(rewards * mask, values, mask, gamma, lam)


def _gae_fallback(rewards, values, mask, gamma, lam):
    return gae_reference(rewards, values, mask, gamma, lam)


@checker("generalized advantage estimation (notebook 03)", fallback=_gae_fallback,
         fallback_name="GAE (rl.episodes.generalized_advantages)")
def check_gae(fn: Callable) -> str | None:
    """``fn(rewards, values, mask, gamma, lam) -> advantages (T, B)``; only the steps that
    ran (mask 1) are compared, V = 0 after an episode's last step."""
    for seed, (gamma, lam) in enumerate([(0.9, 0.8), (1.0, 0.99), (0.99, 0.5)]):
        batch = padded_batch(seed)
        args = [batch[k].clone() for k in ("rewards", "values", "mask")]
        mine = as_array(call(fn, *args, gamma, lam), "your advantages")
        problem = shape_problem(mine, tuple(batch["mask"].shape), "the advantages")
        if problem:
            return problem
        ran = batch["mask"].numpy() > 0
        rewards, values, mask = (batch[k] for k in ("rewards", "values", "mask"))
        expected = gae_reference(rewards, values, mask, gamma, lam).numpy()
        if close(mine[ran], expected[ran]):
            continue
        if close(mine[ran], -expected[ran]):
            return "wrong sign: delta_t = r_t + gamma V(s_t+1) - V(s_t) (reward plus next value minus this value)."
        for no_baseline in (discounted_cumsum(rewards * mask, gamma * lam), discounted_cumsum(rewards * mask, gamma)):
            if close(mine[ran], (no_baseline * mask).numpy()[ran]):
                return ("baseline missing: you returned discounted sums of rewards. GAE sums the TD errors "
                        "delta_t = r_t + gamma V(s_t+1) - V(s_t), which subtract the value V.")
        for other, what in ((1.0, "lambda = 1"), (0.0, "lambda = 0")):
            if close(mine[ran], gae_reference(rewards, values, mask, gamma, other).numpy()[ran]):
                return f"your result equals GAE with {what}: weight delta_u by (gamma * lambda)^(u - t)."
        full = batch["mask"].numpy().all(axis=0)  # episodes that run to the last row: no padding
        if close(mine[:, full], expected[:, full]):
            return ("right for episodes without padding, wrong for shorter ones: you bootstrapped past "
                    "the end of an episode. After its last step V = 0 and nothing more is summed (the "
                    "rewards and values stored there are padding).")
        worst = np.abs(mine[ran] - expected[ran]).max()
        return (f"advantages differ from GAE(gamma={gamma}, lambda={lam}) by up to {worst:.3g}; "
                "check the recursion of the advantages and where each episode ends.")
    return None
