"""Meta-SGD: learned inner step sizes; outer gradient, Fisher, TRPO step, files and adapt."""

import dataclasses
import math

import pytest
import torch
from test_maml import binding_inner_max_kl, build, check_fast_outer, episodes  # a learner from the reference settings; tiny float64 episode batches

from awake_tutorial.config import REFERENCE_CONFIG_FILE, load_config
from awake_tutorial.rl.metalearners import LEARNERS, MetaSGDTRPO
from awake_tutorial.rl.metalearners.meta_sgd import STEP_SIZES
from awake_tutorial.rl.fast.gradients import reinforce_gradient
from awake_tutorial.rl.metalearners.trpo import flatten, hessian_vector_product, unflatten
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.runs.policy_files import load_policy, save_policy
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.runs.training import adapt, meta_train

ALPHAS = [0.3, 0.1, 0.2, 0.05, 0.4]  # one per tensor: layers.0.weight/bias, layers.1.weight/bias, log_std


def tiny(first_order=True, num_steps=1, **kwargs):
    policy = GaussianMLPPolicy(obs_dim=3, action_dim=2, hidden_sizes=(5,), seed=0).double()
    policy.set_step_sizes(torch.tensor(ALPHAS, dtype=torch.float64).log())
    learner = build(MetaSGDTRPO, policy, fast_lr=0.3, num_steps=num_steps, first_order=first_order, **kwargs)
    return policy, learner, [episodes(seed=1 + i) for i in range(num_steps)], episodes(seed=3)


def directional_fd(learner, train, valid, theta, old_pi, direction, eps=1e-6):
    """Central difference of the exact (second-order) meta-objective along ``direction``."""
    flat = flatten(theta).detach()

    def meta_loss(x):
        return learner.surrogate_loss(train, valid, unflatten(x, theta), old_pi=old_pi, first_order=False)[0]

    return (meta_loss(flat + eps * direction) - meta_loss(flat - eps * direction)) / (2 * eps)


def test_step_size_gradient_matches_finite_differences():
    # one inner step: theta' = theta - alpha * g(theta) with g independent of alpha, so the
    # first-order gradient w.r.t. log alpha is exact
    policy, learner, train, valid = tiny(first_order=True)
    theta = learner.meta_parameters()
    loss, _, old_pi, _ = learner.surrogate_loss(train, valid, theta)
    grad = flatten(torch.autograd.grad(loss, list(theta.values())))
    n = flatten(theta).numel()
    for i in range(n - len(ALPHAS), n):  # the log step sizes come last
        direction = torch.zeros(n, dtype=torch.float64)
        direction[i] = 1.0
        fd = directional_fd(learner, train, valid, theta, old_pi, direction)
        assert grad[i].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-9)


def test_second_order_meta_gradient_matches_finite_differences():
    policy, learner, train, valid = tiny(first_order=False, num_steps=2)
    theta = learner.meta_parameters()
    loss, _, old_pi, _ = learner.surrogate_loss(train, valid, theta)
    grad = flatten(torch.autograd.grad(loss, list(theta.values())))
    direction = torch.randn(grad.numel(), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fd = directional_fd(learner, train, valid, theta, old_pi, direction)
    assert torch.isclose(grad @ direction, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("adapted_std, zero_shot_weight", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.5), (0.1, 0.5)])
def test_analytic_fisher_with_step_sizes_equals_the_double_backward_hessian(adapted_std, zero_shot_weight):
    policy, learner, train, valid = tiny(fisher_product="analytic", cg_damping=0.0, adapted_std=adapted_std,
                                         zero_shot_weight=zero_shot_weight)
    theta = learner.meta_parameters()
    _, kl, _, adapted = learner.surrogate_loss(train, valid, theta)
    exact = hessian_vector_product(kl, theta)
    analytic = learner.analytic_fisher(theta, adapted, valid, train)
    eye = torch.eye(flatten(theta).numel(), dtype=torch.float64)
    F_exact = torch.stack([exact(e) for e in eye])
    F_analytic = torch.stack([analytic(e) for e in eye])
    assert F_exact[-len(ALPHAS):].abs().max() > 1e-3  # the step-size block is really there
    assert torch.allclose(F_analytic, F_exact, rtol=1e-7, atol=1e-12)


def test_reused_adaptation_has_the_same_loss_and_gradient():
    policy, learner, train, valid = tiny()
    theta = learner.meta_parameters()
    adapted = {k: v.detach() for k, v in learner.inner_loop(train, theta).items()}
    loss_a = learner.surrogate_loss(train, valid, theta)[0]
    loss_b = learner.surrogate_loss(train, valid, theta, adapted=adapted)[0]
    grad_a = torch.autograd.grad(loss_a, list(theta.values()))
    grad_b = torch.autograd.grad(loss_b, list(theta.values()))
    assert torch.allclose(loss_a, loss_b) and all(torch.allclose(a, b) for a, b in zip(grad_a, grad_b))


@pytest.mark.parametrize("fisher_product", ["analytic", "double_backward"])
def test_trpo_step_moves_weights_and_step_sizes_within_the_trust_region(fisher_product):
    policy, learner, train, valid = tiny(fisher_product=fisher_product, max_kl=1e-2)
    log = learner.step(train, valid)
    assert log["step_accepted"] and 0 < log["kl"] <= 1e-2
    assert not torch.allclose(policy.log_step_sizes.exp(), torch.tensor(ALPHAS, dtype=torch.float64))
    assert not policy.log_step_sizes.requires_grad  # stored as a plain tensor


def test_inner_step_uses_one_step_size_per_tensor():
    policy, learner, train, _ = tiny()
    theta = learner.meta_parameters()
    adapted = learner.inner_loop(train, theta)
    grads = reinforce_gradient(policy, train[0], {n: p.unsqueeze(0).expand(2, *p.shape) for n, p in policy.params().items()})
    for (name, p), alpha in zip(policy.params().items(), ALPHAS):
        assert torch.allclose(adapted[name], p - alpha * grads[name])
    assert STEP_SIZES in theta and theta[STEP_SIZES].requires_grad


def test_step_sizes_are_saved_loaded_and_used_by_adapt(tmp_path):
    config = load_config(fast_batch_size=4, max_steps=20, fast_lr=0.01)
    policy = GaussianMLPPolicy(seed=0).set_step_sizes(math.log(0.05))
    loaded = load_policy(save_policy(policy, tmp_path / "p.pt"))
    assert torch.equal(loaded.log_step_sizes, policy.log_step_sizes)
    assert torch.load(tmp_path / "p.pt", weights_only=True)["state_dict"]["log_step_sizes"].shape == (7,)
    tasks = load_evaluation_tasks()[:2]
    learned = adapt(loaded, tasks, 1, config, seed=0).policies[0]
    fixed = adapt(load_policy(save_policy(GaussianMLPPolicy(seed=0), tmp_path / "old.pt")), tasks, 1,
                  config.__class__(**{**config.to_dict(), "fast_lr": 0.05}), seed=0).policies[0]
    assert all(torch.allclose(learned.params()[n], fixed.params()[n], atol=1e-6) for n in fixed.params())
    assert torch.equal(learned.log_step_sizes, policy.log_step_sizes)  # adapted policies keep them
    # an old file without step sizes adapts with the config's fast_lr
    assert load_policy(tmp_path / "old.pt").step_sizes(0.01) == 0.01


def test_adaptation_uses_the_policy_s_step_sizes_whichever_learner_the_config_names(tmp_path):
    """adapt() runs the inner loop alone: no learner kind is guessed from the policy, and the
    config's learner (what meta-training would use) does not change how a policy adapts."""
    config = load_config(fast_batch_size=4, max_steps=20)
    tasks = load_evaluation_tasks()[:2]
    runs = [adapt(GaussianMLPPolicy(seed=0).set_step_sizes(math.log(0.05)), tasks, 2,
                  dataclasses.replace(config, learner=name), seed=0) for name in LEARNERS]
    for result in runs[1:]:
        assert result.records == [dict(r, wall_time=o["wall_time"]) for r, o in zip(runs[0].records, result.records)]
        assert all(torch.equal(x, y) for a, b in zip(runs[0].policies, result.policies)
                   for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    plain = GaussianMLPPolicy(seed=0)  # a MAML policy: the Meta-SGD config does not give it step sizes
    adapt(plain, tasks[:1], 1, config, seed=0)
    assert plain.log_step_sizes is None


def test_an_unknown_learner_fails_before_the_run_folder_is_written(tmp_path):
    with pytest.raises(ValueError, match="allowed: one of"):
        meta_train(load_config(learner="reptile", num_batches=1), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_meta_sgd_training_learns_step_sizes_and_reference_config_still_trains():
    tasks = load_evaluation_tasks()
    small = dict(num_batches=2, meta_batch_size=2, fast_batch_size=4, max_steps=15, cg_iters=10, ls_max_steps=10)
    source = lambda n, seed: [tasks[i % len(tasks)] for i in range(seed % 5, seed % 5 + n)]  # noqa: E731
    learned = meta_train(load_config(learner="meta-sgd-trpo", max_kl=1e-2, **small), task_source=source).policy
    assert learned.log_step_sizes is not None
    assert not torch.allclose(learned.log_step_sizes, torch.full((7,), math.log(0.01)))
    reference = load_config(REFERENCE_CONFIG_FILE)
    assert (reference.num_steps, reference.meta_batch_size, reference.learner) == (4, 8, "maml-trpo")
    result = meta_train(load_config(REFERENCE_CONFIG_FILE, **small), task_source=source)
    assert result.policy.log_step_sizes is None and len(result.records) == 2


def test_adapted_std_scores_the_adapted_policy_near_its_mean_and_keeps_the_exploration_std():
    policy, learner, train, valid = tiny(adapted_std=0.1, max_kl=1e-2)
    theta = learner.meta_parameters()
    _, _, old_pi, adapted = learner.surrogate_loss(train, valid, theta)
    assert torch.allclose(old_pi[0].scale, torch.full_like(old_pi[0].scale, 0.1))
    assert not adapted["log_std"].requires_grad  # the outer loss does not depend on the log-std
    log_std = policy.log_std.detach().clone()
    log = learner.step(train, valid)
    assert log["step_accepted"] and 0 < log["kl"] <= 1e-2
    assert torch.equal(policy.log_std.detach(), log_std)  # exploration std: a setting (init_std)


def test_zero_shot_weight_adds_the_unadapted_policys_loss():
    policy, learner, train, valid = tiny(zero_shot_weight=0.5)
    theta = learner.meta_parameters()
    loss, kl, old_pi, _ = learner.surrogate_loss(train, valid, theta)
    plain = build(MetaSGDTRPO, policy, fast_lr=0.3, num_steps=1).surrogate_loss(train, valid, theta)[0]
    steps = train[0].packed()
    zero_shot = -steps.mean(steps.advantages).mean()  # ratio 1 at the old policy
    assert len(old_pi) == 2 and kl.item() == 0.0
    assert loss.item() == pytest.approx(plain.item() + 0.5 * zero_shot.item(), rel=1e-10)


@pytest.mark.parametrize("adapted_std, zero_shot_weight", [(0.0, 0.0), (0.1, 0.5)])
def test_the_fast_outer_step_with_step_sizes_equals_the_textbook(adapted_std, zero_shot_weight):
    _, learner, train, valid = tiny(adapted_std=adapted_std, zero_shot_weight=zero_shot_weight)
    check_fast_outer(learner, train, valid)


@pytest.mark.parametrize("adapted_std, zero_shot_weight", [(0.0, 0.0), (0.1, 0.5)])
def test_the_fast_outer_step_with_step_sizes_and_inner_trust_region_equals_the_textbook(adapted_std, zero_shot_weight):
    """inner_max_kl > 0, two inner steps: each candidate's steps bounded as the textbook's adapt bounds them."""
    settings = {"adapted_std": adapted_std, "zero_shot_weight": zero_shot_weight, "num_steps": 2}
    _, unbounded, train, _ = tiny(**settings)
    _, learner, train, valid = tiny(inner_max_kl=binding_inner_max_kl(unbounded, train), **settings)
    check_fast_outer(learner, train, valid)
