"""Exercises that need a derivation rather than a transcription.

* notebook 01: :func:`check_nominal_converges`: when does the inverse-response controller
  built on the *nominal* matrix R_0 still steer a task whose matrix is R? The learner
  derives the condition from the iteration s_{k+1} = (I - R R_0^-1) s_k.
* notebook 03: :func:`check_gaussian_score`: the gradient of the Gaussian policy's
  log-likelihood with respect to its mean and its log standard deviation, derived by hand
  and checked against autograd.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from awake_tutorial.exercises._feedback import as_array, call, checker, close, shape_problem


def nominal_converges_reference(R: np.ndarray, R0: np.ndarray) -> bool:
    """True if full inverse-response steps with R0 drive the readings to zero on a machine with
    response R: every eigenvalue m of R R0^-1 has |1 - m| < 1."""
    m = np.linalg.eigvals(np.asarray(R, dtype=np.float64) @ np.linalg.inv(np.asarray(R0, dtype=np.float64)))
    return bool(np.all(np.abs(1 - m) < 1))


def _triangular_pair(ratios, seed: int):
    """(R, R0): random lower-triangular R0 (10, 10) m/rad and R with diag(R) = ratios * diag(R0)."""
    rng = np.random.default_rng(seed)
    R0 = np.tril(rng.normal(0, 10, (10, 10)))
    R0[np.diag_indices(10)] = rng.choice([-1, 1], 10) * rng.uniform(2, 20, 10)
    R = np.tril(R0 + rng.normal(0, 3, (10, 10)), k=-1)
    R[np.diag_indices(10)] = np.asarray(ratios, dtype=np.float64) * np.diag(R0)
    return R, R0


def _ratios(**special) -> np.ndarray:
    ratios = np.array([0.8, 1.1, 0.9, 1.3, 0.7, 1.0, 1.2, 0.95, 1.05, 0.85])
    for index, value in special.items():
        ratios[int(index[1:])] = value
    return ratios


# (ratios of the diagonals, does it converge, what a wrong verdict misses)
_CASES = [
    (_ratios(), True, "every m = R_ii / R0_ii lies between 0.7 and 1.3; an m above 1 overshoots, "
                       "but |1 - m| < 1 still shrinks that mode"),
    (_ratios(i3=1.9), True, "one m = 1.9: each full step overshoots that mode by 90 %, flipping its sign, "
                            "but |1 - m| = 0.9 < 1 still shrinks it: overshoot is not divergence"),
    (_ratios(i1=0.4), True, "one m = 0.4: converges (|1 - m| = 0.6). If you said no, did you take the "
                            "eigenvalues of R0 R^-1 (1/m = 2.5) instead of R R0^-1? One step applies "
                            "-R0^-1 s, the machine answers with R"),
    (_ratios(i6=0.05), True, "one m = 0.05: that mode shrinks by only 5 % per step, slowly, but it does "
                             "shrink (the episode may run out of time, the iteration converges)"),
    (_ratios(i2=2.5), False, "one m = 2.5 of ten: |1 - m| = 1.5, that one mode grows by half at every "
                             "step; a single such eigenvalue is enough to diverge (all must be inside, "
                             "not any)"),
    (_ratios(i8=-0.3), False, "one m = -0.3: the nominal model has that corrector's effect backwards, "
                              "|1 - m| = 1.3 and the mode grows; the condition has two bounds"),
    (_ratios(i5=2.0), False, "one m = 2.0 exactly: |1 - m| = 1, the mode flips sign at full size forever "
                             "and never shrinks: the bound is strict"),
]


@checker("when the nominal model still converges (notebook 01)", fallback=nominal_converges_reference,
         fallback_name="nominal_converges (exercises.reasoning.nominal_converges_reference)")
def check_nominal_converges(fn: Callable[[np.ndarray, np.ndarray], bool]) -> str | None:
    """``fn(R, R0) -> bool``: R the task's and R0 the nominal response matrix (10, 10),
    lower triangular; True if full steps of the nominal inverse-response controller converge."""
    for seed, (ratios, expected, why) in enumerate(_CASES):
        R, R0 = _triangular_pair(ratios, seed)
        assert nominal_converges_reference(R, R0) == expected  # the case is what it says
        mine = call(fn, R.copy(), R0.copy())
        if isinstance(mine, (np.ndarray, list, tuple)) and np.size(mine) != 1:
            return "return one True or False for the pair of matrices, not one per BPM."
        if bool(mine) != expected:
            return f"you said {bool(mine)}, but it {'converges' if expected else 'diverges'}: {why}."
    return None


def gaussian_score_reference(a, mu, log_std):
    """(d log pi / d mu, d log pi / d log_std), each (n, d), for pi = N(mu, diag exp(log_std)^2),
    a and mu (n, d), log_std (d,): (a - mu) / sigma^2 and (a - mu)^2 / sigma^2 - 1."""
    a, mu, log_std = (torch.as_tensor(x, dtype=torch.float64) for x in (a, mu, log_std))
    variance = torch.exp(2 * log_std)
    return (a - mu) / variance, (a - mu) ** 2 / variance - 1


def _autograd_score(a: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor):
    """The same by autograd: per sample, the gradient of sum_i log N(a_i; mu_i, sigma_i^2)."""
    mu = mu.clone().requires_grad_()
    log_std_rows = log_std.expand_as(a).clone().requires_grad_()  # one copy per sample: per-sample grads
    log_prob = torch.distributions.Normal(mu, log_std_rows.exp()).log_prob(a).sum()
    return torch.autograd.grad(log_prob, (mu, log_std_rows))


def _wrong_scores(a, mu, log_std) -> dict[str, tuple]:
    sigma = torch.exp(log_std)
    d = a - mu
    return {
        "d/d mu has the wrong sign: the log-likelihood grows when mu moves *towards* the action a.":
            (-d / sigma ** 2, d ** 2 / sigma ** 2 - 1),
        "d/d mu: differentiate -(a - mu)^2 / (2 sigma^2) again; the sigma^2 stays in the denominator.":
            (d / sigma, d ** 2 / sigma ** 2 - 1),
        "d/d mu: where did sigma go? The quadratic term is divided by 2 sigma^2.":
            (d, d ** 2 / sigma ** 2 - 1),
        "d/d log sigma misses the normalisation: the term -log sigma of the log-density contributes too.":
            (d / sigma ** 2, d ** 2 / sigma ** 2),
        "that is the derivative with respect to sigma, not log sigma: the chain rule multiplies by "
        "d sigma / d log sigma.": (d / sigma ** 2, d ** 2 / sigma ** 3 - 1 / sigma),
    }


@checker("gradient of the Gaussian log-likelihood (notebook 03)", fallback=gaussian_score_reference,
         fallback_name="gaussian_score (exercises.reasoning.gaussian_score_reference)")
def check_gaussian_score(fn: Callable) -> str | None:
    """``fn(a, mu, log_std) -> (d_mu, d_log_std)``: a, mu (n, 10) tensors, log_std (10,);
    both results (n, 10), the gradients of each sample's log pi(a|s) (summed over the 10
    action dimensions); compared with autograd."""
    generator = torch.Generator().manual_seed(0)
    for n in (1, 6):
        mu = torch.randn(n, 10, generator=generator, dtype=torch.float64)
        log_std = torch.rand(10, generator=generator, dtype=torch.float64) * 2 - 1.5  # sigma 0.22 .. 1.6
        a = mu + torch.randn(n, 10, generator=generator, dtype=torch.float64) * log_std.exp()
        result = call(fn, a.clone(), mu.clone(), log_std.clone())
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return "return a pair (d_mu, d_log_std)."
        mine = [as_array(x, name) for x, name in zip(result, ("d_mu", "d_log_std"))]
        for x, name in zip(mine, ("d_mu", "d_log_std")):
            problem = shape_problem(x, (n, 10), name)
            if problem:
                return problem + " One gradient per sample and action dimension (nothing summed or averaged)."
        expected = [g.numpy() for g in _autograd_score(a, mu, log_std)]
        if all(close(x, e, rtol=1e-6, atol=1e-9) for x, e in zip(mine, expected)):
            continue
        for message, wrong in _wrong_scores(a, mu, log_std).items():
            if all(close(x, w.numpy(), rtol=1e-6, atol=1e-9) for x, w in zip(mine, wrong)):
                return message
        which = [name for x, e, name in zip(mine, expected, ("d_mu", "d_log_std")) if not close(x, e, 1e-6, 1e-9)]
        return f"{' and '.join(which)} differ from autograd's gradient of log N(a; mu, sigma^2)."
    return None
