"""Exercises of notebook 04: conjugate gradient and the KL-scaled TRPO step.

Both work on flat torch vectors and a matrix known only through products ``Av(v) = A v``
(in TRPO, A is the Fisher matrix F and Av a Fisher-vector product).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from awake_tutorial.exercises._feedback import as_array, call, checker, shape_problem
from awake_tutorial.rl.metalearners.trpo import conjugate_gradient


def spd_matrix(n: int = 30, condition: float = 100.0, seed: int = 0) -> torch.Tensor:
    """A random symmetric positive definite (n, n) matrix with the given condition number."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    eigenvalues = torch.logspace(0, np.log10(condition), n, dtype=torch.float64)
    return (q * eigenvalues) @ q.T


def conjugate_gradient_reference(Av: Callable, b: torch.Tensor, iters: int) -> torch.Tensor:
    """The package's :func:`~awake_tutorial.rl.metalearners.trpo.conjugate_gradient`, x only."""
    return conjugate_gradient(Av, b, iters)[0]


@checker("conjugate gradient (notebook 04)", fallback=conjugate_gradient_reference,
         fallback_name="conjugate gradient (rl.metalearners.trpo.conjugate_gradient)")
def check_conjugate_gradient(fn: Callable) -> str | None:
    """``fn(Av, g, iters) -> x`` solving A x = g for symmetric positive definite A (notebook 04
    writes the right-hand side g, the TRPO gradient; the code calls it ``b``)."""
    for seed, (n, condition) in enumerate([(10, 10.0), (30, 100.0)]):
        A = spd_matrix(n, condition, seed)
        b = torch.randn(n, generator=torch.Generator().manual_seed(seed + 10), dtype=torch.float64)
        calls = []

        def Av(v, A=A, calls=calls):
            calls.append(1)
            return A @ v

        x = as_array(call(fn, Av, b.clone(), 2 * n), "your solution x")
        problem = shape_problem(x, (n,), "x")
        if problem:
            return problem
        exact = torch.linalg.solve(A, b).numpy()
        residual = np.linalg.norm(A.numpy() @ x - b.numpy())
        if residual <= 1e-4 * np.linalg.norm(b.numpy()):  # CG stops at |r|^2 < tol: not exact
            continue
        if not calls:
            return "your function never called Av: conjugate gradient learns A only through products A p."
        if np.allclose(x, -exact, rtol=1e-6):
            return "wrong sign: start from x = 0 (residual g - A x = g) and move x forward along p (tau > 0)."
        if np.allclose(x, b.numpy()):
            return "you returned the right-hand side g: x must move along p in every iteration."
        reference = conjugate_gradient(Av, b, 2 * n)[0].numpy()
        return (f"after {2 * n} iterations |A x - b| = {residual:.3g} (the package's CG: "
                f"{np.linalg.norm(A.numpy() @ reference - b.numpy()):.1g}). Compare each update with "
                "the equations above the exercise: the step length along p, the new residual, and the "
                "next direction, which must be A-conjugate to the previous one.")
    return None


def kl_scaled_step_reference(x: torch.Tensor, fvp: Callable, max_kl: float) -> torch.Tensor:
    """x * sqrt(2 max_kl / x^T F x): the step whose quadratic KL 1/2 d^T F d equals max_kl."""
    return x * torch.sqrt(2 * max_kl / torch.dot(x, fvp(x)))


@checker("KL-scaled TRPO step (notebook 04)", fallback=kl_scaled_step_reference,
         fallback_name="KL-scaled step (exercises.trpo.kl_scaled_step_reference)")
def check_kl_scaled_step(fn: Callable) -> str | None:
    """``fn(x, fvp, max_kl) -> step``: x the direction F^-1 g, fvp(v) = F v."""
    for seed, max_kl in enumerate([1e-3, 0.05]):
        F = spd_matrix(12, 50.0, seed + 3)
        x = torch.randn(12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        fvp = (lambda v, F=F: F @ v)
        step = as_array(call(fn, x.clone(), fvp, max_kl), "your step")
        problem = shape_problem(step, (12,), "the step")
        if problem:
            return problem
        expected = kl_scaled_step_reference(x, fvp, max_kl).numpy()
        if np.allclose(step, expected, rtol=1e-6):
            continue
        if np.allclose(step, -expected, rtol=1e-6):
            return ("wrong sign: the step goes along x = F^-1 g, the direction that improves the "
                    "surrogate objective.")
        kl = 0.5 * step @ F.numpy() @ step
        cosine = step @ expected / (np.linalg.norm(step) * np.linalg.norm(expected) + 1e-30)
        if cosine < 1 - 1e-9:
            return "the step must be a multiple of x (only its length changes)."
        if np.isclose(kl, max_kl / 2) or np.isclose(kl, 2 * max_kl):
            return (f"the quadratic KL 1/2 d^T F d of your step is {kl / max_kl:.2g} * max_kl: "
                    "mind the 1/2 of the second-order KL model.")
        return (f"the quadratic KL 1/2 d^T F d of your step is {kl:.3g}, it should equal max_kl = "
                f"{max_kl}: solve 1/2 (b x)^T F (b x) = max_kl for the factor b (a square root appears).")
    return None
