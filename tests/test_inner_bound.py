"""The trust region on the inner step (rl/metalearners/inner_bound.py, config inner_max_kl)."""

import dataclasses

import numpy as np
import pytest
import torch

from awake_tutorial.config import load_config
from awake_tutorial.physics.tasks import load_evaluation_tasks
from awake_tutorial.rl.metalearners.inner_bound import bound_step, step_scale
from awake_tutorial.rl.metalearners.trpo import kl_divergence
from awake_tutorial.rl.policies import stack_params
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.runs.training import make_learner, new_sampler


def _setup():
    config, policy = load_config(), load_pretrained("meta")
    tasks = load_evaluation_tasks()[:3]
    episodes = add_advantages(new_sampler(config).sample(policy, tasks, [0, 1, 2]), config)
    theta = {n: p.detach() for n, p in stack_params(policy.params(), len(tasks)).items()}
    return config, policy, episodes, theta


def _kl(policy, episodes, theta, adapted):
    steps = episodes.packed()
    return steps.mean(kl_divergence(policy.distribution(steps.observations, adapted),
                                    policy.distribution(steps.observations, theta)))


def test_a_large_step_is_scaled_into_the_trust_region_a_small_one_is_kept():
    config, policy, episodes, theta = _setup()
    direction = {n: torch.randn(p.shape, generator=torch.Generator().manual_seed(0)) for n, p in theta.items()}
    for size, inside in ((1e-4, True), (0.05, False)):
        adapted = {n: theta[n] + size * direction[n] for n in theta}
        kl = _kl(policy, episodes, theta, adapted)
        scale = step_scale(policy, episodes, theta, adapted, 0.5)
        assert bool((kl <= 0.5).all()) == inside
        np.testing.assert_allclose(scale.numpy(), np.minimum(1, np.sqrt(0.5 / kl.numpy())), rtol=1e-5)
        bounded = _kl(policy, episodes, theta, bound_step(policy, episodes, theta, adapted, 0.5))
        # quadratic model: KL(c * step) ~ c^2 KL(step); the mean network is nonlinear (measured: 0.43-0.78
        # for a random direction), hence the tolerance
        assert (bounded <= 2 * 0.5).all() and (bounded <= kl + 1e-6).all()
    assert bound_step(policy, episodes, theta, adapted, 0.0) == adapted  # 0: off


def test_the_learner_applies_the_bound_in_training_and_adaptation_alike():
    """adapt_step (sampling, deployment) and adapt (the outer loss) give the same bounded step."""
    config, policy, episodes, theta = _setup()
    for max_kl in (0.0, 0.01):
        learner = make_learner(policy, dataclasses.replace(config, inner_max_kl=max_kl))
        stepped = learner.adapt_step(episodes, theta)
        with torch.no_grad():
            again = learner.inner_loop([episodes], first_order=True)
        for n in theta:
            torch.testing.assert_close(stepped[n], again[n].detach(), rtol=1e-5, atol=1e-6)
        if max_kl:
            assert (_kl(policy, episodes, theta, stepped) <= max_kl * 1.5).all()
    with pytest.raises(ValueError, match="inner_max_kl"):
        dataclasses.replace(config, inner_max_kl=-1.0)


def test_the_fast_path_step_kl_equals_the_textbook_one():
    """The engine's KL of an inner step: on the chunked steps that ran, in closed form (fast path),
    equal to torch.distributions on the padded steps (textbook) to float32 rounding; the learner
    uses its engine's."""
    from awake_tutorial.rl.engine import FAST, TEXTBOOK

    config, policy, episodes, theta = _setup()
    g = torch.Generator().manual_seed(1)
    adapted = {n: theta[n] + 0.01 * torch.randn(p.shape, generator=g) for n, p in theta.items()}
    lengths = episodes.mask.sum(1)  # steps per episode, (K, B): the tasks' batches differ in length
    assert len(set(episodes.mask.sum((1, 2)).tolist())) > 1 and lengths.max() > 1
    fast, textbook = FAST.step_kl(policy, episodes, theta, adapted), TEXTBOOK.step_kl(policy, episodes, theta, adapted)
    assert (textbook > 0).all()
    np.testing.assert_allclose(fast.numpy(), textbook.numpy(), rtol=1e-5)  # measured 8e-8 here
    for fast_path, engine in ((True, FAST), (False, TEXTBOOK)):
        learner = make_learner(policy, dataclasses.replace(config, fast_path=fast_path))
        assert learner.step_kl is engine.step_kl
