"""TRPO building blocks: natural-gradient direction under a KL trust region.

    maximise  -L(theta)   subject to   KL(pi_theta || pi_old) <= max_kl   (new || old, as computed)

1. g = grad L; F = Hessian of the KL at theta_old (= Fisher information matrix).
2. Solve F x = g with :func:`conjugate_gradient` (only products F v are needed).
3. Scale the step so that the quadratic KL model 0.5 x^T F x equals max_kl.
4. :func:`line_search`: shrink the step until the loss improves *and* the true KL is
   within max_kl; if no shrink works, keep theta_old and say why.

Two ways to compute F v:
  * :func:`hessian_vector_product`: exact, by double backward through the KL
    (any model; needed for second-order MAML).
  * :func:`gauss_newton_vector_product`: J^T M J v for outputs with a fixed metric M, from
    a Jacobian-vector product (J v) and a vector-Jacobian product (J^T u). For a Gaussian
    with state-independent std, the Fisher of the mean parameters is exactly this, with
    M = diag(1/sigma^2) (the log-std block is diagonal, see ``maml_trpo``).
All vectors are flat (concatenated parameters, see :func:`flatten`).

A learner states its problem at theta_old as an :class:`OuterProblem` (loss, gradient, F v,
trial evaluations) and :func:`trpo_update` does steps 2-4 on it. A problem that is a mean
over tasks is the :func:`weighted_sum` of the problems of parts of the tasks (w_s = K_s / K),
each part's possibly computed in another process (``runs/shards.py``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch.distributions import Normal

from awake_tutorial.rl.policies import Params, flatten, unflatten  # noqa: F401 (flatten, unflatten: re-export)

def gradient(scalar: torch.Tensor, tensors, **kwargs) -> tuple[torch.Tensor, ...]:
    """d scalar / d tensors, with zeros for tensors the scalar does not depend on
    (e.g. the log-std when the outer loss fixes the adapted policies' std)."""
    tensors = list(tensors)
    grads = torch.autograd.grad(scalar, tensors, allow_unused=True, **kwargs)
    return tuple(torch.zeros_like(t) if g is None else g for t, g in zip(tensors, grads))


def kl_divergence(pi: Normal, old_pi: Normal) -> torch.Tensor:
    """KL(pi || old_pi) of diagonal Gaussians, summed over the action dims: (..., A) -> (...)."""
    return torch.distributions.kl_divergence(pi, old_pi).sum(dim=-1)


def conjugate_gradient(matrix_vector_product: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       iters: int = 10, residual_tol: float = 1e-10,
                       with_product: bool = False) -> tuple[torch.Tensor, int, float]:
    """Solve A x = b for symmetric positive definite A known only through x -> A x.

    Stops after ``iters`` iterations or when |r|^2 < residual_tol.
    Returns (x, iterations used, final |r|^2), and with ``with_product`` also A x, kept up to date
    from the products CG makes anyway (x = sum_i alpha_i p_i, so A x = sum_i alpha_i A p_i): one
    product fewer than asking for A x afterwards.
    """
    x = torch.zeros_like(b)
    Ax = torch.zeros_like(b)
    r = b.clone()  # residual b - A x for x = 0
    p = b.clone()
    rdotr = torch.dot(r, r)
    used = iters
    for i in range(iters):
        if rdotr.item() < residual_tol:
            used = i
            break
        Ap = matrix_vector_product(p)
        alpha = rdotr / torch.dot(p, Ap)
        x += alpha * p
        if with_product:
            Ax += alpha * Ap
        r -= alpha * Ap
        new_rdotr = torch.dot(r, r)
        p = r + (new_rdotr / rdotr) * p
        rdotr = new_rdotr
    return (x, used, rdotr.item(), Ax) if with_product else (x, used, rdotr.item())


def hessian_vector_product(scalar: torch.Tensor, params: Mapping[str, torch.Tensor],
                           damping: float = 0.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> (H + damping I) v with H the Hessian of ``scalar`` w.r.t. ``params`` (double backward).

    ``scalar`` must have been computed from ``params`` with autograd recording.
    """
    tensors = list(params.values())
    grad = flatten(gradient(scalar, tensors, create_graph=True))

    def product(vector: torch.Tensor) -> torch.Tensor:
        grad_dot_v = torch.dot(grad, vector)
        hv = gradient(grad_dot_v, tensors, retain_graph=True)
        return flatten(hv) + damping * vector

    return product


def gauss_newton_vector_product(jvp: Callable[[Params], torch.Tensor], vjp: Callable[[torch.Tensor], Params],
                                metric: torch.Tensor) -> Callable[[Params], Params]:
    """v -> J^T (metric * (J v)), the Gauss-Newton (Fisher) product of a model's outputs.

    Args:
        jvp: v (params dict) -> J v (outputs); vjp: u (outputs) -> J^T u (params dict),
            e.g. from ``torch.func.jvp`` / ``torch.func.vjp`` or a hand-written Jacobian.
        metric: broadcastable to the outputs; the diagonal weight M of each output.
    """

    def product(vector: Params) -> Params:
        return vjp(metric * jvp(vector))

    return product


@dataclass
class LineSearchResult:
    """Outcome of :func:`line_search`.

    accepted: a step was taken; steps: evaluations made; reject_reason: None if a step
    was accepted, else why the last (smallest) step was rejected: "nan", "no improvement"
    or "kl too large"; loss, kl: at the returned parameters (old loss and 0 if nothing
    was accepted); rejections: how many tries failed for each reason.
    """

    params: torch.Tensor
    accepted: bool
    steps: int
    reject_reason: str | None
    loss: float
    kl: float
    rejections: dict


def line_search(evaluate: Callable[[torch.Tensor], tuple[float, float]], old_params: torch.Tensor,
                full_step: torch.Tensor, old_loss: float, max_kl: float, max_steps: int = 10,
                backtrack_ratio: float = 0.5, evaluate_many: Callable | None = None,
                per_pass: int = 1) -> LineSearchResult:
    """Backtracking line search along ``old_params - ratio^i * full_step``.

    A step is accepted only if its loss is finite and lower than ``old_loss`` and its
    KL is finite and <= ``max_kl``. ``evaluate(flat params) -> (loss, kl)``. Optionally
    ``evaluate_many(candidates (C, P)) -> (losses (C,), kls (C,))`` tries ``per_pass``
    candidates in one call (the fast path); the first acceptable one is taken all the same,
    and ``steps`` counts the candidates up to it.
    """
    rejections = {"nan": 0, "no improvement": 0, "kl too large": 0}
    reason = None
    ratios = [1.0]  # 1, ratio, ratio^2, ... by repeated multiplication
    while len(ratios) < max_steps:
        ratios.append(ratios[-1] * backtrack_ratio)
    per_pass = per_pass if evaluate_many else 1
    for start in range(0, max_steps, per_pass):
        candidates = torch.stack([old_params - size * full_step for size in ratios[start:start + per_pass]])
        if evaluate_many:
            losses, kls = (t.tolist() for t in evaluate_many(candidates))
        else:
            loss, kl = evaluate(candidates[0])
            losses, kls = [loss], [kl]
        for i, (loss, kl) in enumerate(zip(losses, kls), start):
            if not (math.isfinite(loss) and math.isfinite(kl)):
                reason = "nan"
            elif loss >= old_loss:
                reason = "no improvement"
            elif kl > max_kl:
                reason = "kl too large"
            else:
                return LineSearchResult(candidates[i - start], True, i + 1, None, loss, kl, rejections)
            rejections[reason] += 1
    return LineSearchResult(old_params, False, max_steps, reason, old_loss, 0.0, rejections)


@dataclass
class OuterProblem:
    """What TRPO needs at theta_old (P numbers, flat): the meta-objective there and around it.

    loss: L(theta_old), a float; gradient: grad L, (P,); fisher: v (P,) -> (F + damping I) v (P,);
    evaluate: flat params (P,) -> (loss, KL) floats, one trial step; evaluate_many: candidates
    (C, P) -> (losses (C,), KLs (C,)) in one pass, or None; per_pass: C per evaluate_many call.
    """

    loss: float
    gradient: torch.Tensor
    fisher: Callable[[torch.Tensor], torch.Tensor]
    evaluate: Callable[[torch.Tensor], tuple[float, float]]
    evaluate_many: Callable | None = None
    per_pass: int = 1


def weighted_sum(values: Sequence, weights: Sequence[float]):
    """sum_s w_s values_s, added in the order given (floats or tensors): e.g. a mean over K tasks
    from the means over parts of them (w_s = K_s / K; weights summing to 1 keep F v's damping * v)."""
    result = weights[0] * values[0]
    for w, value in zip(weights[1:], values[1:]):
        result = result + w * value
    return result


def trpo_update(problem: OuterProblem, old_params: torch.Tensor, max_kl: float, cg_iters: int,
                cg_residual_tol: float, ls_max_steps: int, ls_backtrack_ratio: float) -> tuple[torch.Tensor, dict]:
    """Steps 2-4 of the module notes on ``problem`` around ``old_params`` (P,).

    Returns (new flat params, log): the log has loss_before/after, kl, cg_iters_used, cg_residual,
    step_accepted, ls_steps, reject_reason ("bad curvature" if x^T F x is not > 0), ls_rejections,
    cg_time and line_search_time (s).
    """
    start = time.perf_counter()
    step_dir, cg_used, cg_residual, product = conjugate_gradient(problem.fisher, problem.gradient, cg_iters,
                                                                 cg_residual_tol, with_product=True)
    shs = 0.5 * torch.dot(step_dir, product).item()  # KL of the unscaled step, quadratic model (F x from CG)
    log = {"loss_before": problem.loss, "cg_iters_used": cg_used, "cg_residual": cg_residual,
           "cg_time": time.perf_counter() - start}
    if not (math.isfinite(shs) and shs > 0):
        return old_params, {**log, "loss_after": problem.loss, "kl": 0.0, "step_accepted": False, "ls_steps": 0,
                            "reject_reason": "bad curvature", "ls_rejections": {}, "line_search_time": 0.0}
    full_step = step_dir * math.sqrt(max_kl / shs)
    start = time.perf_counter()
    result = line_search(problem.evaluate, old_params, full_step, problem.loss, max_kl, ls_max_steps,
                         ls_backtrack_ratio, problem.evaluate_many, problem.per_pass)
    log["line_search_time"] = time.perf_counter() - start
    return result.params, {**log, "loss_after": result.loss, "kl": result.kl, "step_accepted": result.accepted,
                           "ls_steps": result.steps, "reject_reason": result.reject_reason,
                           "ls_rejections": result.rejections}
