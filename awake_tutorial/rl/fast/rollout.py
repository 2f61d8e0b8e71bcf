"""Fast path: the policy's action sampler in numpy (see :mod:`awake_tutorial.rl.fast`).

Acting needs no gradients, and a rollout makes hundreds of calls on tiny arrays: numpy
costs ~1 us per operation there, torch ~5-10 us.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from awake_tutorial.rl.policies import NONLINEARITIES


class RolloutPolicy:
    """The policy's action sampler in numpy: per task k, a = MLP_k(s) + sigma_k * noise.

    Same maths as the textbook :class:`~awake_tutorial.rl.policies.TorchRolloutPolicy`
    (tested to agree to float rounding).
    """

    def __init__(self, policy, params: Mapping[str, torch.Tensor]):
        n = len(policy.layers)
        self.activation = NONLINEARITIES[policy.nonlinearity].numpy
        # per layer: W^T (K, in, out) and bias (K, 1, out), float32
        self.layers = [(params[f"layers.{i}.weight"].detach().transpose(1, 2).contiguous().numpy(),
                        params[f"layers.{i}.bias"].detach().unsqueeze(1).numpy()) for i in range(n)]
        self.std = params["log_std"].detach().exp().unsqueeze(1).numpy()  # (K, 1, A)

    def on_tasks(self, index: np.ndarray) -> "RolloutPolicy":
        """The sampler of tasks ``index`` (k,) alone: each task's arrays as they are, so its
        actions are bit for bit those of the whole batch (one matrix product per task either way)."""
        subset = object.__new__(RolloutPolicy)
        subset.activation = self.activation
        subset.layers = [(weight_t[index], bias[index]) for weight_t, bias in self.layers]
        subset.std = self.std[index]
        return subset

    def __call__(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """obs (K, B, obs_dim), noise (K, B, A) standard normal -> actions (K, B, A) float32."""
        x = obs
        for i, (weight_t, bias) in enumerate(self.layers):
            x = np.matmul(x, weight_t) + bias
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return (x + self.std * noise).astype(np.float32, copy=False)
