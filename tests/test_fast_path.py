"""The fast path (awake_tutorial/rl/fast) equals the textbook path it replaces.

The gradient pieces are checked one by one next to their textbook versions
(test_reinforce: hand REINFORCE gradient = autograd; test_maml, test_meta_sgd: analytic
Fisher = double-backward Hessian of the KL). Here: the rollout samplers, the one MLP
definition, the config switch, and a whole meta-batch on both paths.
"""

import dataclasses

import numpy as np
import pytest
import torch

from awake_tutorial.config import Config, load_config
from awake_tutorial.rl.fast.gradients import MeanJacobian, reinforce_gradient
from awake_tutorial.rl.fast.rollout import RolloutPolicy
from awake_tutorial.rl.engine import TEXTBOOK
from awake_tutorial.rl.metalearners import MAMLTRPO, policy_gradient
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.rl.samplers import TorchRolloutPolicy
from awake_tutorial.runs.training import make_learner, meta_train, new_policy, new_sampler


def per_task_params(policy, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: p.detach() + 0.1 * torch.randn(p.shape, generator=g) for n, p in stack_params(policy.params(), K).items()}


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_the_numpy_sampler_equals_the_torch_sampler(nonlinearity):
    policy = GaussianMLPPolicy(nonlinearity=nonlinearity, seed=3)
    params = per_task_params(policy, 3)
    obs = np.random.default_rng(0).uniform(-1, 1, (3, 7, 10)).astype(np.float32)
    noise = np.random.default_rng(1).standard_normal((3, 7, 10)).astype(np.float32)
    textbook = TorchRolloutPolicy(policy, params)(obs, noise)
    fast = RolloutPolicy(policy, params)(obs, noise)
    assert fast.dtype == textbook.dtype == np.float32 and fast.shape == (3, 7, 10)
    np.testing.assert_allclose(fast, textbook, rtol=1e-5, atol=1e-5)
    pi = policy.distribution(torch.from_numpy(obs), params)  # both are samples of pi
    np.testing.assert_allclose(textbook, (pi.mean + pi.stddev * torch.from_numpy(noise)).numpy(), rtol=1e-6, atol=1e-6)


def test_the_jacobian_runs_the_policy_s_own_network():
    """One MLP definition: the fast path's Jacobian products reuse ``policy.forward_layers``."""
    policy = GaussianMLPPolicy(hidden_sizes=(8, 6), seed=2)
    params = per_task_params(policy, 2)
    obs = torch.randn(2, 5, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(MeanJacobian(policy, obs, params).output, policy.mean(obs, params).detach())


def test_the_config_switch_selects_every_piece():
    policy = GaussianMLPPolicy(seed=0)
    fast, textbook = (make_learner(policy, Config(meta_sgd=False, fast_path=f)) for f in (True, False))
    assert (fast.fisher_product, fast.gradient) == ("analytic", reinforce_gradient)
    assert (textbook.fisher_product, textbook.gradient) == ("double_backward", policy_gradient)
    assert new_sampler(Config()).fast_path and not new_sampler(Config(fast_path=False)).fast_path
    with pytest.raises(ValueError, match="fast_path"):
        Config(fast_path=False, fisher_product="analytic")
    with pytest.raises(ValueError, match="fast path"):
        MAMLTRPO(policy, Config(fisher_product="analytic"), TEXTBOOK)


def test_one_meta_batch_is_the_same_on_both_paths():
    """Same seed, same episodes, same TRPO step (the full Fisher on both: no subsampling)."""
    config = load_config(num_batches=1, meta_batch_size=4, fast_batch_size=8, seed=3, fisher_max_samples=0)
    fast, textbook = meta_train(config), meta_train(dataclasses.replace(config, fast_path=False))
    a, b = fast.records[0], textbook.records[0]
    assert a["return_before"] == pytest.approx(b["return_before"], rel=1e-6)  # the first rollout
    assert a["ls_steps"] == b["ls_steps"] and a["step_accepted"] and b["step_accepted"]
    assert a["kl"] == pytest.approx(b["kl"], rel=1e-2) and a["loss_after"] == pytest.approx(b["loss_after"], rel=1e-2)
    start = new_policy(config, config.seed).state_dict()
    for name, value in fast.policy.state_dict().items():
        step = (value - start[name]).abs().max()
        assert (value - textbook.policy.state_dict()[name]).abs().max() <= 1e-2 * step + 1e-7, name
