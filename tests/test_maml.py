"""MAML-TRPO outer loop on tiny float64 problems: meta-gradients, Fisher, the TRPO step."""

import pytest
import torch

import dataclasses
import inspect
from types import SimpleNamespace

from awake_tutorial.config import REFERENCE_CONFIG_FILE, Config, load_config
from awake_tutorial.rl.engine import FAST, TEXTBOOK, select
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners import LEARNERS, MAMLTRPO, MetaSGDTRPO
from awake_tutorial.rl.metalearners.inner_bound import step_scale
from awake_tutorial.rl.metalearners.maml_trpo import SETTINGS, surrogate_and_kl
from awake_tutorial.rl.metalearners.trpo import flatten, gradient, hessian_vector_product, kl_divergence, unflatten
from awake_tutorial.rl.policies import GaussianMLPPolicy


def episodes(K=2, T=4, B=3, seed=0, obs_dim=3, act_dim=2):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (K, B), generator=g)
    mask = (torch.arange(T).view(1, T, 1) < lengths.unsqueeze(1)).double()
    ep = BatchEpisodes(torch.randn(K, T, B, obs_dim, generator=g, dtype=torch.float64) * mask.unsqueeze(-1),
                       torch.randn(K, T, B, act_dim, generator=g, dtype=torch.float64) * mask.unsqueeze(-1),
                       -torch.rand(K, T, B, generator=g, dtype=torch.float64) * mask, mask,
                       torch.zeros(K, B, dtype=torch.bool))
    ep.advantages = torch.randn(K, T, B, generator=g, dtype=torch.float64) * mask
    return ep


def build(cls, policy, **settings):
    """A learner with the reference course's settings (MAML-TRPO) changed by ``settings``, full Fisher."""
    config = load_config(REFERENCE_CONFIG_FILE, fisher_max_samples=0, **settings)
    return cls(policy, config, select(config.fast_path))


def tiny(first_order, fisher_product="auto", **kwargs):
    policy = GaussianMLPPolicy(obs_dim=3, action_dim=2, hidden_sizes=(5,), seed=0).double()
    learner = build(MAMLTRPO, policy, fast_lr=0.3, num_steps=2, first_order=first_order,
                    fisher_product=fisher_product, **kwargs)
    train = [episodes(seed=1), episodes(seed=2)]  # two inner steps
    return policy, learner, train, episodes(seed=3)


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_matches_finite_differences(first_order):
    policy, learner, train, valid = tiny(first_order)
    theta = policy.params()
    loss, _, old_pi, _ = learner.surrogate_loss(train, valid, theta)
    grad = flatten(torch.autograd.grad(loss, list(theta.values())))
    flat = flatten(theta).detach()
    direction = torch.randn(flat.numel(), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    eps = 1e-6

    def meta_loss(x):  # the exact meta-objective: second-order adaptation, old policy fixed
        return learner.surrogate_loss(train, valid, unflatten(x, theta), old_pi=old_pi, first_order=False)[0]

    fd = (meta_loss(flat + eps * direction) - meta_loss(flat - eps * direction)) / (2 * eps)
    if first_order:  # FOMAML drops the second-order terms: close to, but not equal to, the truth
        assert not torch.isclose(grad @ direction, fd, rtol=1e-4)
    else:
        assert torch.isclose(grad @ direction, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("zero_shot_weight", [0.0, 0.5])
def test_analytic_fisher_equals_the_exact_kl_hessian(zero_shot_weight):
    policy, learner, train, valid = tiny(first_order=True, fisher_product="analytic", cg_damping=0.0,
                                         zero_shot_weight=zero_shot_weight)
    theta = policy.params()
    _, kl, _, adapted = learner.surrogate_loss(train, valid, theta)
    exact = hessian_vector_product(kl, theta)
    analytic = learner.analytic_fisher(theta, adapted, valid, train)
    n = flatten(theta).numel()
    eye = torch.eye(n, dtype=torch.float64)
    F_exact = torch.stack([exact(e) for e in eye])
    F_analytic = torch.stack([analytic(e) for e in eye])
    assert torch.allclose(F_analytic, F_exact, rtol=1e-8, atol=1e-12)
    assert torch.allclose(F_analytic, F_analytic.T, atol=1e-12)
    assert torch.linalg.eigvalsh(F_analytic).min() > -1e-10  # positive semi-definite


def test_kl_quadratic_model_matches_true_kl_for_small_steps():
    policy, learner, train, valid = tiny(first_order=True)
    theta = policy.params()
    _, kl, old_pi, adapted = learner.surrogate_loss(train, valid, theta)
    fvp = learner.analytic_fisher(theta, adapted, valid)
    v = torch.randn(flatten(theta).numel(), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    eps = 1e-4
    model = 0.5 * eps**2 * (v @ fvp(v))
    # the first-order view: every adapted policy moves by the same eps * v
    shifted = {n: adapted[n].detach() + eps * d for n, d in unflatten(v, theta).items()}
    steps = valid.packed()
    _, kl_shifted = surrogate_and_kl(policy.distribution(steps.observations, shifted), old_pi[0], steps)
    assert kl_shifted.item() == pytest.approx(model.item(), rel=1e-3)
    # re-adapting at theta + eps v also moves the inner step: the true KL is larger here,
    # which is why the line search checks the real KL
    _, kl_readapted = learner._evaluate(train, valid, unflatten(flatten(theta).detach() + eps * v, theta), old_pi)
    assert kl_readapted.item() > kl_shifted.item()


@pytest.mark.parametrize("fisher_product", ["analytic", "double_backward"])
def test_trpo_step_improves_within_the_trust_region(fisher_product):
    policy, learner, train, valid = tiny(first_order=True, fisher_product=fisher_product, max_kl=1e-3)
    before = flatten(policy.params()).detach().clone()
    log = learner.step(train, valid)
    assert log["step_accepted"] and log["reject_reason"] is None
    assert log["loss_after"] < log["loss_before"] and 0 < log["kl"] <= 1e-3
    assert not torch.equal(flatten(policy.params()).detach(), before)


def test_both_fisher_products_take_the_same_step():
    steps = []
    for fisher_product in ("analytic", "double_backward"):
        policy, learner, train, valid = tiny(first_order=True, fisher_product=fisher_product)
        learner.step(train, valid)
        steps.append(flatten(policy.params()).detach())
    assert torch.allclose(steps[0], steps[1], rtol=1e-6, atol=1e-7)  # CG may stop one iteration apart


def test_second_order_step_and_reused_adaptation():
    policy, learner, train, valid = tiny(first_order=False)
    assert learner.fisher_product == "double_backward"
    log = learner.step(train, valid)
    assert log["step_accepted"] and log["kl"] <= learner.max_kl
    # first order: passing the adapted params from sampling gives the same loss and gradient
    policy, learner, train, valid = tiny(first_order=True)
    theta = policy.params()
    adapted = {k: v.detach() for k, v in learner.inner_loop(train, theta).items()}
    loss_a, _, _, _ = learner.surrogate_loss(train, valid, theta)
    loss_b, _, _, _ = learner.surrogate_loss(train, valid, theta, adapted=adapted)
    grad_a = torch.autograd.grad(loss_a, list(theta.values()))
    grad_b = torch.autograd.grad(loss_b, list(theta.values()))
    assert torch.allclose(loss_a, loss_b) and all(torch.allclose(a, b) for a, b in zip(grad_a, grad_b))


def test_rejected_step_keeps_parameters_and_says_why():
    policy, learner, train, valid = tiny(first_order=True, ls_max_steps=1)
    valid.advantages = torch.zeros_like(valid.advantages)  # nothing to gain: no improvement possible
    before = flatten(policy.params()).detach().clone()
    log = learner.step(train, valid)
    assert not log["step_accepted"] and log["reject_reason"] in {"no improvement", "bad curvature"}
    assert torch.equal(flatten(policy.params()).detach(), before)


def test_bad_settings():
    policy = GaussianMLPPolicy(seed=0)
    with pytest.raises(ValueError, match="first_order"):
        Config(first_order=False, fisher_product="analytic")
    with pytest.raises(ValueError, match="fast path"):  # the analytic Fisher is the fast engine's
        MAMLTRPO(policy, Config(fisher_product="analytic"), TEXTBOOK)
    with pytest.raises(ValueError, match="fisher_product"):  # an unvalidated settings object
        MAMLTRPO(policy, SimpleNamespace(**{**Config().to_dict(), "fisher_product": "exact"}), FAST)


@pytest.mark.parametrize("cls", LEARNERS.values(), ids=list(LEARNERS))
def test_the_learner_has_no_defaults_of_its_own(cls):
    """One set of defaults, the config's: every registered learner reads every setting from the
    config it is given (no keyword defaults of its own)."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    assert all(p.default is inspect.Parameter.empty for p in parameters)
    config = Config()
    if not issubclass(cls, MAMLTRPO):  # RL²: its settings are the config's rl2 section
        assert cls(cls.new_policy(config, 0), config, select(config.fast_path)).settings is config.rl2
        return
    learner = cls(GaussianMLPPolicy(seed=0), config, select(config.fast_path))
    for name in SETTINGS:
        want = getattr(config, name)
        assert getattr(learner, name) == (want if name != "fisher_product" else "analytic"), name
    changed = dataclasses.replace(config, max_kl=0.5, cg_iters=3, fast_path=False)
    learner = cls(GaussianMLPPolicy(seed=0), changed, select(changed.fast_path))
    assert (learner.max_kl, learner.cg_iters, learner.fisher_product) == (0.5, 3, "double_backward")


def check_fast_outer(learner, train, valid):
    """The fast path's TRPO step by hand (rl/fast/outer.py) equals the textbook surrogate:
    loss and gradient at theta, and (loss, KL) at trial steps, with the inner loop re-run."""
    theta = learner.meta_parameters()
    adapted = {n: p.detach() for n, p in learner.inner_loop(train, theta).items()}
    loss, _, old_pi, _ = learner.surrogate_loss(train, valid, theta, adapted=adapted)
    grad = flatten(gradient(loss, theta.values()))
    outer = FAST.outer(learner.policy, theta, adapted, train, valid, fast_lr=learner.fast_lr,
                       inner_weighting=learner.inner_weighting, adapted_std=learner.adapted_std,
                       zero_shot_weight=learner.zero_shot_weight, inner_max_kl=learner.inner_max_kl)
    assert outer.loss == pytest.approx(loss.item(), rel=1e-12, abs=1e-15)
    assert torch.allclose(outer.gradient, grad, rtol=1e-10, atol=1e-12)
    old = flatten(theta).detach()
    candidates = torch.stack([old - s * 0.3 * grad / grad.norm() for s in (1.0, 0.5, 0.0)])
    losses, kls = outer.evaluate(candidates)
    for candidate, fast_loss, fast_kl in zip(candidates, losses, kls):
        with torch.no_grad():
            want_loss, want_kl = learner._evaluate(train, valid, unflatten(candidate, theta), old_pi)
        assert fast_loss.item() == pytest.approx(want_loss.item(), rel=1e-10, abs=1e-13)
        assert fast_kl.item() == pytest.approx(want_kl.item(), rel=1e-10, abs=1e-13)
    assert kls[0] > kls[1] > 0 and kls[2] == pytest.approx(0.0, abs=1e-13)  # a real step, then none


@pytest.mark.parametrize("settings", [{}, {"zero_shot_weight": 0.5, "adapted_std": 0.1, "inner_weighting": "sum"}])
def test_the_fast_outer_step_equals_the_textbook(settings):
    _, learner, train, valid = tiny(first_order=True, **settings)
    check_fast_outer(learner, train, valid)


def binding_inner_max_kl(learner, train) -> float:
    """An inner_max_kl (nats) between the two tasks' KLs of their first, unbounded inner step
    (their geometric mean): the inner trust region binds on one task and not on the other."""
    assert not learner.inner_max_kl and train[0].rewards.shape[0] == 2
    theta = learner.initial_params(2)
    stepped = learner.adapt_step(train[0], theta)
    steps = train[0].packed()
    kl = steps.mean(kl_divergence(learner.policy.distribution(steps.observations, stepped),
                                  learner.policy.distribution(steps.observations, theta)))
    max_kl = float(kl.prod().sqrt())
    scale = step_scale(learner.policy, train[0], theta, stepped, max_kl)
    assert scale.min() < 0.9 and scale.max() == 1.0  # binds on one task only
    return max_kl


@pytest.mark.parametrize("settings", [{}, {"zero_shot_weight": 0.5, "adapted_std": 0.1, "inner_weighting": "sum"}])
def test_the_fast_outer_step_with_the_inner_trust_region_equals_the_textbook(settings):
    """inner_max_kl > 0: the fast path's trial steps re-run each inner step inside its trust region."""
    _, unbounded, train, _ = tiny(first_order=True, **settings)
    _, learner, train, valid = tiny(first_order=True, inner_max_kl=binding_inner_max_kl(unbounded, train), **settings)
    check_fast_outer(learner, train, valid)
