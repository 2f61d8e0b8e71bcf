"""Meta-SGD with one learned step size per parameter element (Li et al. 2017's original):
the inner step, the first-order meta-gradient, the analytic Fisher and the fast outer step."""

import math

import pytest
import torch
from test_maml import binding_inner_max_kl, build, check_fast_outer, episodes
from test_meta_sgd import directional_fd

from awake_tutorial.config import load_config
from awake_tutorial.rl.fast.gradients import reinforce_gradient
from awake_tutorial.rl.metalearners import MetaSGDTRPO
from awake_tutorial.rl.metalearners.trpo import flatten, hessian_vector_product
from awake_tutorial.rl.policies import STEP_SIZES, GaussianMLPPolicy, gather_step_sizes, split_step_sizes
from awake_tutorial.runs.training import new_policy


def tiny(num_steps=1, **kwargs):
    """A 3-5-2 policy whose 34 step sizes differ element by element (0.05 to 0.4)."""
    policy = GaussianMLPPolicy(obs_dim=3, action_dim=2, hidden_sizes=(5,), seed=0).double()
    count = sum(p.numel() for p in policy.parameters())
    alphas = 0.05 + 0.35 * torch.rand(count, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    policy.set_step_sizes(alphas.log())
    learner = build(MetaSGDTRPO, policy, fast_lr=0.3, num_steps=num_steps, first_order=True, **kwargs)
    return policy, learner, [episodes(seed=1 + i) for i in range(num_steps)], episodes(seed=3)


def test_layouts_per_tensor_and_per_element():
    policy = GaussianMLPPolicy(obs_dim=3, action_dim=2, hidden_sizes=(5,), seed=0)
    shapes = {n: p.shape for n, p in policy.params().items()}
    assert policy.set_step_sizes(math.log(0.1)).log_step_sizes.shape == (len(shapes),)
    assert policy.set_step_sizes(math.log(0.1), per_element=True).log_step_sizes.shape == (34,)
    sizes = policy.step_sizes(0.01)
    assert {n: s.shape for n, s in sizes.items()} == shapes and all(torch.allclose(s, torch.tensor(0.1)) for s in sizes.values())
    values = torch.arange(34.0)
    assert torch.equal(flatten(split_step_sizes(values, policy.params())), values)
    products = {n: torch.ones(s) for n, s in shapes.items()}
    assert torch.equal(gather_step_sizes(products, len(shapes)), torch.tensor([float(p.numel()) for p in products.values()]))
    assert torch.equal(gather_step_sizes(products, 34), torch.ones(34))
    config = load_config(step_sizes="per_element")
    assert new_policy(config, 0).log_step_sizes.numel() == sum(p.numel() for p in new_policy(config, 0).parameters())
    with pytest.raises(ValueError, match="step_sizes"):
        load_config(step_sizes="per_layer")


def test_inner_step_uses_one_step_size_per_element():
    policy, learner, train, _ = tiny()
    adapted = learner.adapt(train, learner.meta_parameters())
    grads = reinforce_gradient(policy, train[0], {n: p.unsqueeze(0).expand(2, *p.shape) for n, p in policy.params().items()})
    alphas = split_step_sizes(policy.log_step_sizes.exp(), policy.params())
    for name, p in policy.params().items():
        assert alphas[name].shape == p.shape
        assert torch.allclose(adapted[name], p - alphas[name] * grads[name])


def test_step_size_gradient_matches_finite_differences():
    policy, learner, train, valid = tiny()
    theta = learner.meta_parameters()
    loss, _, old_pi, _ = learner.surrogate_loss(train, valid, theta)
    grad = flatten(torch.autograd.grad(loss, list(theta.values())))
    n = grad.numel()
    for i in (n - 34, n - 17, n - 1):  # log step sizes come last: a weight's, a bias's, the log-std's
        direction = torch.zeros(n, dtype=torch.float64)
        direction[i] = 1.0
        fd = directional_fd(learner, train, valid, theta, old_pi, direction)
        assert grad[i].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("adapted_std, zero_shot_weight", [(0.0, 0.0), (0.1, 0.5)])
def test_analytic_fisher_equals_the_double_backward_hessian(adapted_std, zero_shot_weight):
    policy, learner, train, valid = tiny(fisher_product="analytic", cg_damping=0.0, adapted_std=adapted_std,
                                         zero_shot_weight=zero_shot_weight)
    theta = learner.meta_parameters()
    _, kl, _, adapted = learner.surrogate_loss(train, valid, theta)
    exact = hessian_vector_product(kl, theta)
    analytic = learner.analytic_fisher(theta, adapted, valid, train)
    eye = torch.eye(flatten(theta).numel(), dtype=torch.float64)
    F_exact = torch.stack([exact(e) for e in eye])
    F_analytic = torch.stack([analytic(e) for e in eye])
    assert F_exact[-theta[STEP_SIZES].numel():].abs().max() > 1e-3  # the step-size block is really there
    assert torch.allclose(F_analytic, F_exact, rtol=1e-7, atol=1e-12)


def test_the_fast_outer_step_equals_the_textbook():
    """Two inner steps, each inside a binding inner trust region."""
    settings = {"adapted_std": 0.1, "zero_shot_weight": 0.5, "num_steps": 2}
    _, unbounded, train, _ = tiny(**settings)
    _, learner, train, valid = tiny(inner_max_kl=binding_inner_max_kl(unbounded, train), **settings)
    check_fast_outer(learner, train, valid)


def test_trpo_step_moves_the_step_sizes_within_the_trust_region():
    policy, learner, train, valid = tiny(fisher_product="analytic", max_kl=1e-2)
    before = policy.log_step_sizes.clone()
    log = learner.step(train, valid)
    assert log["step_accepted"] and 0 < log["kl"] <= 1e-2
    assert policy.log_step_sizes.shape == before.shape and not torch.allclose(policy.log_step_sizes, before)
