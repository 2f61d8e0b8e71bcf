"""TRPO pieces: conjugate gradient, Hessian/Fisher-vector products, KL, line search."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from awake_tutorial.rl.metalearners.trpo import (
    conjugate_gradient,
    flatten,
    gauss_newton_vector_product,
    hessian_vector_product,
    kl_divergence,
    line_search,
    unflatten,
)
from awake_tutorial.rl.policies import GaussianMLPPolicy

# torch.func (used here as the reference) imports code that warns about torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def test_conjugate_gradient_solves_random_spd_system():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(30, 30, generator=g, dtype=torch.float64)
    A = M @ M.T + 0.5 * torch.eye(30, dtype=torch.float64)
    b = torch.randn(30, generator=g, dtype=torch.float64)
    x, iters, residual = conjugate_gradient(lambda v: A @ v, b, iters=200, residual_tol=1e-20)
    assert torch.allclose(x, torch.linalg.solve(A, b), rtol=1e-7, atol=1e-9)
    assert iters < 200 and residual < 1e-20  # the residual test stopped it


def test_conjugate_gradient_stops_on_residual_tolerance():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    b = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    x, iters, _ = conjugate_gradient(lambda v: A @ v, b, iters=50, residual_tol=1e-16)
    assert iters == 3  # exact in n steps for n distinct eigenvalues
    assert torch.allclose(x, torch.tensor([1.0, 0.5, 1 / 3], dtype=torch.float64))


def tiny_problem(seed=0):
    """A tiny float64 policy, fixed data and a smooth non-quadratic scalar of its params."""
    policy = GaussianMLPPolicy(obs_dim=3, action_dim=2, hidden_sizes=(4,), seed=seed).double()
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(6, 3, generator=g, dtype=torch.float64)
    actions = torch.randn(6, 2, generator=g, dtype=torch.float64)
    advantages = torch.randn(6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        ref = policy.distribution(obs)
        ref = torch.distributions.Normal(ref.mean + 0.3, ref.stddev * 1.2)
    theta = {k: v.detach().clone() for k, v in policy.params().items()}

    def scalar(params):
        pi = policy.distribution(obs, params)
        return (pi.log_prob(actions).sum(-1) * advantages).mean() + kl_divergence(pi, ref).mean()

    return policy, theta, scalar, obs


def test_hessian_vector_product_matches_explicit_hessian_and_finite_differences():
    policy, theta, scalar, _ = tiny_problem()
    flat = flatten(theta)
    H = torch.autograd.functional.hessian(lambda v: scalar(unflatten(v, theta)), flat)
    params = {k: v.clone().requires_grad_() for k, v in theta.items()}
    hvp = hessian_vector_product(scalar(params), params, damping=0.1)
    v = torch.randn(flat.numel(), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(hvp(v), H @ v + 0.1 * v, rtol=1e-8, atol=1e-10)
    # finite differences of the gradient along v
    eps = 1e-5

    def grad_at(x):
        p = {k: t.clone().requires_grad_() for k, t in unflatten(x, theta).items()}
        return flatten(torch.autograd.grad(scalar(p), list(p.values())))

    fd = (grad_at(flat + eps * v) - grad_at(flat - eps * v)) / (2 * eps)
    assert torch.allclose(hvp(v) - 0.1 * v, fd, rtol=1e-5, atol=1e-7)


def test_gauss_newton_product_matches_explicit_jacobian():
    policy, theta, _, obs = tiny_problem()
    mean_names = [k for k in theta if k != "log_std"]
    log_std = theta["log_std"]

    def means(p):
        return policy.mean(obs, {**p, "log_std": log_std})

    mean_params = {k: theta[k] for k in mean_names}
    metric = torch.rand(6, 2, dtype=torch.float64) + 0.5
    _, vjp_fn = torch.func.vjp(means, mean_params)
    product = gauss_newton_vector_product(lambda v: torch.func.jvp(means, (mean_params,), (v,))[1],
                                          lambda u: vjp_fn(u)[0], metric)
    flat = flatten(mean_params)
    J = torch.autograd.functional.jacobian(lambda v: means(unflatten(v, mean_params)).reshape(-1), flat)
    G = J.T @ torch.diag(metric.reshape(-1)) @ J
    v = torch.randn(flat.numel(), dtype=torch.float64)
    assert torch.allclose(flatten(product(unflatten(v, mean_params))), G @ v, rtol=1e-9, atol=1e-12)


def test_kl_divergence_closed_form():
    p = torch.distributions.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    q = torch.distributions.Normal(torch.tensor([0.5, 1.0]), torch.tensor([1.0, 1.0]))
    expected = 0.125 + (math.log(1 / 2) + (4 + 0) / 2 - 0.5)
    assert math.isclose(kl_divergence(p, q).item(), expected, rel_tol=1e-6)
    assert kl_divergence(p, p).item() == 0.0


def test_line_search_backtracks_to_the_first_acceptable_step():
    old = torch.zeros(2)
    step = torch.tensor([-1.0, 0.0])  # params = old - size * step = (size, 0)

    def evaluate(params):
        size = params[0].item()
        return -size, 0.01 * size**2  # always improves, KL grows quadratically

    result = line_search(evaluate, old, step, old_loss=0.0, max_kl=1e-3, max_steps=10, backtrack_ratio=0.5)
    assert result.accepted and result.steps == 3 and result.reject_reason is None  # sizes 1, 0.5, 0.25
    assert result.kl <= 1e-3 and result.rejections["kl too large"] == 2
    assert torch.allclose(result.params, torch.tensor([0.25, 0.0]))


def test_line_search_reports_why_it_failed():
    old, step = torch.zeros(1), torch.ones(1)
    nan = line_search(lambda p: (float("nan"), 0.0), old, step, 0.0, 1e-3, max_steps=4)
    assert not nan.accepted and nan.reject_reason == "nan" and torch.equal(nan.params, old)
    worse = line_search(lambda p: (1.0, 0.0), old, step, 0.0, 1e-3, max_steps=4)
    assert worse.reject_reason == "no improvement" and worse.rejections["no improvement"] == 4
    far = line_search(lambda p: (-1.0, 1.0), old, step, 0.0, 1e-3, max_steps=4)
    assert far.reject_reason == "kl too large" and far.kl == 0.0 and far.loss == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10) | st.just(float("nan")), st.floats(0, 1e-2) | st.just(float("nan"))),
                min_size=1, max_size=8),
       st.floats(1e-5, 1e-2))
def test_line_search_never_accepts_kl_above_max_kl(trials, max_kl):
    old, step = torch.zeros(1), torch.ones(1)
    calls = iter(trials)

    def evaluate(params):
        return next(calls)

    result = line_search(evaluate, old, step, old_loss=0.0, max_kl=max_kl, max_steps=len(trials))
    if result.accepted:
        assert result.kl <= max_kl and result.loss < 0.0 and math.isfinite(result.loss)
        # it took the first acceptable trial
        first = next(i for i, (l, k) in enumerate(trials) if l < 0 and k <= max_kl)
        assert result.steps == first + 1
    else:
        assert torch.equal(result.params, old)
        assert not any(l < 0 and k <= max_kl for l, k in trials)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10) | st.just(float("nan")), st.floats(0, 1e-2) | st.just(float("nan"))),
                min_size=1, max_size=8),
       st.floats(1e-5, 1e-2), st.integers(1, 5))
def test_batched_candidates_give_the_same_line_search(trials, max_kl, per_pass):
    """The fast path tries several steps per call: same accepted step, steps and rejections."""
    old, step = torch.zeros(1), torch.ones(1)
    table = {round(0.5 ** i, 12): trial for i, trial in enumerate(trials)}  # step size -> (loss, kl)

    def evaluate(params):
        return table[round(-params[0].item(), 12)]

    def evaluate_many(candidates):
        rows = [evaluate(c) for c in candidates]
        return torch.tensor([r[0] for r in rows], dtype=torch.float64), torch.tensor([r[1] for r in rows], dtype=torch.float64)

    one = line_search(evaluate, old, step, 0.0, max_kl, max_steps=len(trials))
    many = line_search(None, old, step, 0.0, max_kl, max_steps=len(trials), evaluate_many=evaluate_many,
                       per_pass=per_pass)
    assert (many.accepted, many.steps, many.reject_reason, many.rejections) == \
        (one.accepted, one.steps, one.reject_reason, one.rejections)
    assert torch.equal(many.params, one.params)


def test_conjugate_gradient_keeps_the_product_of_its_solution():
    """with_product: A x from CG's own products equals A x asked for afterwards (TRPO's x^T F x)."""
    torch.manual_seed(0)
    M = torch.randn(12, 12, dtype=torch.float64)
    A = M @ M.T + 0.1 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, dtype=torch.float64)
    calls = []
    x, used, _, Ax = conjugate_gradient(lambda v: calls.append(1) or A @ v, b, iters=5, with_product=True)
    assert len(calls) == used == 5
    assert torch.allclose(Ax, A @ x, rtol=1e-10, atol=1e-12)
