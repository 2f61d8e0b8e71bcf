"""GaussianMLPPolicy: shapes, explicit parameters, per-task parameters (files: test_policy_files)."""

import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from awake_tutorial.rl.fast.gradients import MeanJacobian
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params

# torch.func (used here as the reference) imports code that warns about torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture
def policy():
    return GaussianMLPPolicy(seed=0)


def test_architecture_and_initial_std(policy):
    shapes = {k: tuple(v.shape) for k, v in policy.state_dict().items()}
    assert shapes["layers.0.weight"] == (64, 10) and shapes["layers.2.weight"] == (10, 64)
    assert shapes["log_std"] == (10,)
    assert torch.allclose(policy.std(), torch.full((10,), 0.5))
    obs = torch.rand(7, 10) * 2 - 1
    pi = policy.distribution(obs)
    assert pi.mean.shape == (7, 10) and torch.allclose(pi.stddev, torch.full((7, 10), 0.5))


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = GaussianMLPPolicy(seed=5), GaussianMLPPolicy(seed=5)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(GaussianMLPPolicy(seed=6).layers[0].weight, a.layers[0].weight)


def test_explicit_params_match_functional_call_and_are_differentiable(policy):
    obs = torch.randn(5, 10)
    params = {k: v.detach() + 0.01 for k, v in policy.params().items()}
    assert torch.allclose(policy.mean(obs, params), functional_call(policy, params, (obs,)))
    assert not torch.allclose(policy.mean(obs, params), policy.mean(obs))
    # gradients flow through an update theta' = theta - lr * g to theta
    theta = policy.params()
    layers = [k for k in theta if k != "log_std"]
    g = torch.autograd.grad(policy.mean(obs).square().sum(), [theta[k] for k in layers], create_graph=True)
    adapted = {**theta, **{k: theta[k] - 0.1 * gk for k, gk in zip(layers, g)}}
    (second,) = torch.autograd.grad(policy.mean(obs, adapted).square().sum(), [theta["layers.0.weight"]])
    (first,) = torch.autograd.grad(policy.mean(obs, {k: v.detach() for k, v in adapted.items()} | {
        "layers.0.weight": theta["layers.0.weight"] - 0.1 * g[0].detach()}).square().sum(), [theta["layers.0.weight"]])
    assert torch.isfinite(second).all() and not torch.allclose(first, second)  # second-order terms count


def test_per_task_params_equal_separate_evaluation(policy):
    K = 3
    params = {k: v.detach().clone() for k, v in stack_params(policy.params(), K).items()}
    for k in range(K):  # make the tasks differ
        for p in params.values():
            p[k] += 0.05 * k
    obs = torch.randn(K, 4, 6, 10)  # (K, T, B, obs)
    pi = policy.distribution(obs, params)
    assert pi.mean.shape == (K, 4, 6, 10)
    for k in range(K):
        single = {n: p[k] for n, p in params.items()}
        assert torch.allclose(pi.mean[k], policy.mean(obs[k], single), atol=1e-6)
        assert torch.allclose(pi.stddev[k], policy.std(single).expand(4, 6, 10))


def test_as_numpy_policy(policy):
    obs = np.random.default_rng(0).uniform(-1, 1, (6, 10)).astype(np.float32)
    act = policy.as_numpy_policy()(obs)
    assert act.shape == (6, 10) and act.dtype == np.float32
    np.testing.assert_allclose(act, policy.mean(torch.from_numpy(obs)).detach().numpy())
    noisy = policy.as_numpy_policy(deterministic=False, seed=1)
    assert not np.allclose(noisy(obs), act)
    np.testing.assert_array_equal(policy.as_numpy_policy(deterministic=False, seed=1)(obs),
                                  policy.as_numpy_policy(deterministic=False, seed=1)(obs))


def test_with_params_copies(policy):
    params = {k: v.detach() * 2 for k, v in policy.params().items()}
    other = policy.with_params(params)
    assert torch.equal(other.log_std, params["log_std"]) and other is not policy
    assert math.isclose(policy.std()[0].item(), 0.5, rel_tol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        GaussianMLPPolicy(nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="init_std"):
        GaussianMLPPolicy(init_std=0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_mean_jacobian_matches_autograd(nonlinearity):
    policy = GaussianMLPPolicy(hidden_sizes=(8, 6), nonlinearity=nonlinearity, seed=0).double()
    K = 3
    g = torch.Generator().manual_seed(0)
    params = {k: v.detach() + 0.1 * torch.randn(K, *v.shape, generator=g, dtype=torch.float64)
              for k, v in policy.params().items()}
    obs = torch.randn(K, 5, 10, generator=g, dtype=torch.float64)
    names = [k for k in params if k != "log_std"]
    shared = {k: torch.zeros(params[k].shape[1:], dtype=torch.float64) for k in names}

    def means(delta):  # the tangent moves every task's parameters alike
        return policy.mean(obs, {**{k: params[k] + delta[k] for k in names}, "log_std": params["log_std"]})

    jacobian = MeanJacobian(policy, obs, params)
    assert torch.allclose(jacobian.output, means(shared))
    v = {k: torch.randn(t.shape, generator=g, dtype=torch.float64) for k, t in shared.items()}
    u = torch.randn(K, 5, 10, generator=g, dtype=torch.float64)
    _, jv = torch.func.jvp(means, (shared,), (v,))
    _, vjp_fn = torch.func.vjp(means, shared)
    assert torch.allclose(jacobian.jvp(v), jv, atol=1e-12)
    (expected,) = vjp_fn(u)
    got = jacobian.vjp(u)
    assert all(torch.allclose(got[k], expected[k], atol=1e-12) for k in names)
