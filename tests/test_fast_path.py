"""The fast path (awake_tutorial/rl/fast) computes what the textbook path computes.

The gradient pieces are checked one by one on tiny float64 problems next to their textbook
versions (test_reinforce: hand REINFORCE gradient = autograd; test_maml, test_meta_sgd:
analytic Fisher = double-backward Hessian of the KL). Here, on a real float32 meta-batch:
the rollout samplers, the one MLP definition, the config switch, and the TRPO step.

What is compared how (tolerances in ``tests/tolerances.py``, derived there from the spread
measured under other CPUs' kernels; ````cd tests; python test_fast_path.py`` prints the figures):
  * deterministic up to rounding, compared tightly: the episodes, the outer loss, its
    gradient, the Fisher-vector product, and the surrogate loss and KL at a *fixed* step;
  * after conjugate gradient and the backtracking line search, which amplify last-bit
    differences to percent, properties that hold on any CPU: the step is accepted, its KL
    is within max_kl, the loss improved, and both paths point the same way (cosine ~ 1).
"""

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch

from awake_tutorial.config import Config, load_config
from awake_tutorial.physics.tasks import sample_tasks
from awake_tutorial.rl.fast.gradients import MeanJacobian, reinforce_gradient
from awake_tutorial.rl.fast.rollout import RolloutPolicy
from awake_tutorial.rl.engine import TEXTBOOK
from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.rl.metalearners import MAMLTRPO, policy_gradient
from awake_tutorial.rl.metalearners.trpo import flatten, gradient, hessian_vector_product, unflatten
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params
from awake_tutorial.rl.samplers import TorchRolloutPolicy
from awake_tutorial.runs.training import (
    ROLLOUT,
    MetaBatchTasks,
    make_learner,
    meta_train,
    new_policy,
    new_sampler,
    seed_for,
)

from tolerances import FAST_PATH

SEEDS = (0, 1, 2)


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


def test_the_stacked_jacobian_equals_its_blocks_one_by_one():
    """The Fisher's blocks in one pass (fast.fisher.StackedJacobian): J v is each block's J v,
    rows stacked; J^T g is the sum of the blocks' J^T g (float64: equal to rounding)."""
    from awake_tutorial.rl.fast.fisher import StackedJacobian

    policy = GaussianMLPPolicy(hidden_sizes=(8, 6), seed=2).double()
    g = torch.Generator().manual_seed(4)
    adapted = {n: p.double() for n, p in per_task_params(policy, 3).items()}  # per task, 3 tasks x 5 steps
    shared = {n: p.detach().unsqueeze(0) for n, p in policy.params().items()}  # one policy, 7 steps
    blocks = [MeanJacobian(policy, torch.randn(3, 5, 10, generator=g, dtype=torch.float64), adapted),
              MeanJacobian(policy, torch.randn(1, 7, 10, generator=g, dtype=torch.float64), shared)]
    stacked = StackedJacobian(blocks)
    v = {n: torch.randn(p.shape, generator=g, dtype=torch.float64) for n, p in policy.params().items()}
    expected = torch.cat([b.jvp(v).reshape(-1, 10) for b in blocks])
    assert torch.allclose(stacked.jvp(v), expected, rtol=1e-12, atol=1e-12)
    cotangent = torch.randn(22, 10, generator=g, dtype=torch.float64)
    got = stacked.vjp(cotangent)
    parts = [blocks[0].vjp(cotangent[:15].view(3, 5, 10)), blocks[1].vjp(cotangent[15:].view(1, 7, 10))]
    for name in got:
        assert torch.allclose(got[name], parts[0][name] + parts[1][name], rtol=1e-12, atol=1e-12), name


def test_the_config_switch_selects_every_piece():
    policy = GaussianMLPPolicy(seed=0)
    fast, textbook = (make_learner(policy, Config(learner="maml-trpo", fast_path=f)) for f in (True, False))
    assert (fast.fisher_product, fast.gradient) == ("analytic", reinforce_gradient)
    assert (textbook.fisher_product, textbook.gradient) == ("double_backward", policy_gradient)
    assert new_sampler(Config()).fast_path and not new_sampler(Config(fast_path=False)).fast_path
    with pytest.raises(ValueError, match="fast_path"):
        Config(fast_path=False, fisher_product="analytic")
    with pytest.raises(ValueError, match="fast path"):
        MAMLTRPO(policy, Config(fisher_product="analytic"), TEXTBOOK)


# --- one meta-batch of the default config (Meta-SGD, zero-shot term, adapted_std), both paths ---


def _config(seed: int, fisher_max_samples: int, num_batches: int = 1) -> Config:
    return load_config(num_batches=num_batches, meta_batch_size=4, fast_batch_size=8, seed=seed,
                       fisher_max_samples=fisher_max_samples)


def _episodes(config: Config, policy, learner, tasks):
    """The episodes of meta-batch 0 as training samples them: adaptation batches, adapted
    parameters, validation batch (with advantages)."""
    streams = new_sampler(config).streams(tasks, [seed_for(config.seed, ROLLOUT, 0, k) for k in range(len(tasks))])
    params, train = learner.initial_params(len(tasks)), []
    for _ in range(learner.num_steps):
        episodes = streams.sample(policy, params)
        train.append(add_advantages(episodes, config))
        params = learner.adapt_step(episodes, params)
    valid = add_advantages(streams.sample(policy, learner.deployed(params)), config)
    return train, valid, params


def _relative(a, b) -> float:
    """max |a - b| / max |b|: a difference relative to the quantity's own scale."""
    a, b = (torch.as_tensor(x).detach().double() for x in (a, b))
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def _episodes_apart(a, b) -> float:
    """Fraction of episodes whose observations differ by more than 1e-3 of their scale. A
    closed loop amplifies float32 rounding only where an episode's last step lands right at
    the success threshold: that episode then ends one step earlier on one path."""
    scale = b.observations.abs().max()
    apart = ((a.observations - b.observations).abs() > 1e-3 * scale).flatten(-1).any(-1).any(1)  # (K, B)
    return float(apart.double().mean())


@functools.lru_cache(maxsize=None)
def both_paths(seed: int, fisher_max_samples: int) -> dict:
    """Every compared quantity of one meta-batch on the fast and the textbook path.

    Episodes are sampled by each path's own sampler (compared), then both learners work on
    the *same* episodes (the fast path's), so that what follows compares the learners' maths
    and not the rollouts' rounding.
    """
    fast_config = _config(seed, fisher_max_samples)
    tasks = MetaBatchTasks(sample_tasks, fast_config.meta_batch_size, fast_config.seed).tasks(0)
    paths = {}
    for name, config in (("fast", fast_config), ("textbook", dataclasses.replace(fast_config, fast_path=False))):
        policy = new_policy(config, config.seed)
        paths[name] = {"policy": policy, "learner": make_learner(policy, config),
                       "episodes": _episodes(config, policy, make_learner(policy, config), tasks)}
    out = {"episodes": _episodes_apart(paths["fast"]["episodes"][1], paths["textbook"]["episodes"][1])}
    train, valid, adapted = paths["fast"]["episodes"]
    # the inner loop's REINFORCE step (hand gradient vs autograd) on the same episodes
    moved = [{n: p - path["learner"].initial_params(len(tasks))[n] for n, p in
              path["learner"].inner_loop(train).items()} for path in paths.values()]
    out["inner_step"] = max(_relative(moved[0][n], moved[1][n]) for n in moved[1])
    for name, path in paths.items():
        learner = path["learner"]
        theta = learner.meta_parameters()
        path["theta"] = theta
        if name == "fast":  # the fast path's own outer step: loss, gradient, trial steps by hand
            outer = learner.engine.outer(learner.policy, theta, adapted, train, valid, fast_lr=learner.fast_lr,
                                         inner_weighting=learner.inner_weighting, adapted_std=learner.adapted_std,
                                         zero_shot_weight=learner.zero_shot_weight,
                                         inner_max_kl=learner.inner_max_kl)
            path["loss"], path["gradient"] = outer.loss, outer.gradient.detach()
            path["fisher"] = learner.analytic_fisher(theta, learner.deployed(adapted), valid, train)
            path["trial"] = lambda flat: tuple(float(v[0]) for v in outer.evaluate(flat[None]))
        else:  # the textbook: torch.distributions, autograd, double backward
            loss, kl, old_pi, _ = learner.surrogate_loss(train, valid, theta, adapted=adapted)
            path["loss"] = loss.item()
            path["gradient"] = flatten(gradient(loss, theta.values(), retain_graph=True)).detach()
            path["fisher"] = hessian_vector_product(kl, theta, learner.cg_damping)

            def trial(flat, learner=learner, theta=theta, old_pi=old_pi):
                with torch.no_grad():
                    loss, kl, _, _ = learner.surrogate_loss(train, valid, unflatten(flat, theta), old_pi=old_pi)
                return loss.item(), kl.item()

            path["trial"] = trial
    fast, textbook = paths["fast"], paths["textbook"]
    direction = textbook["gradient"] / textbook["gradient"].norm()
    out["loss"] = abs(fast["loss"] - textbook["loss"])  # ~0 at theta_old: an absolute difference
    out["gradient"] = _relative(fast["gradient"], textbook["gradient"])
    out["fisher"] = _relative(fast["fisher"](direction), textbook["fisher"](direction).detach())
    # the surrogate loss and KL at one fixed trial step (the textbook gradient, 0.05 long)
    for name, path in paths.items():
        path["fixed_step"] = path["trial"](flatten(path["theta"]).detach() - 0.05 * direction)
    out["fixed_step_loss"] = abs(fast["fixed_step"][0] / textbook["fixed_step"][0] - 1)
    out["fixed_step_kl"] = abs(fast["fixed_step"][1] / textbook["fixed_step"][1] - 1)
    # the whole TRPO step: conjugate gradient, then the line search
    steps = {}
    for name, path in paths.items():
        before = flatten(path["theta"]).detach().clone()
        path["log"] = path["learner"].step(train, valid, adapted=adapted)
        steps[name] = flatten(path["learner"].meta_parameters()).detach() - before
    out["cosine"] = float(torch.nn.functional.cosine_similarity(steps["fast"], steps["textbook"], dim=0))
    out["logs"] = {name: {key: path["log"][key] for key in ("step_accepted", "kl", "loss_before", "loss_after")}
                   for name, path in paths.items()}
    out["max_kl"] = fast_config.max_kl
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_the_deterministic_parts_agree_to_rounding(seed):
    """Same maths, same inputs: differences of float32 rounding only (tolerances.FAST_PATH). The
    fast side is the fast path's own code: hand gradient, analytic Fisher, outer step by hand."""
    q = both_paths(seed, 0)
    assert q["episodes"] <= FAST_PATH["episodes"]
    assert q["loss"] <= FAST_PATH["loss"]
    assert q["gradient"] <= FAST_PATH["gradient"] and q["inner_step"] <= FAST_PATH["inner_step"]
    assert q["fisher"] <= FAST_PATH["fisher"]
    assert q["fixed_step_loss"] <= FAST_PATH["fixed_step"] and q["fixed_step_kl"] <= FAST_PATH["fixed_step"]


@pytest.mark.parametrize("fisher_max_samples", [0, 64])  # 0: the full Fisher on both; 64: the default estimate
@pytest.mark.parametrize("seed", SEEDS)
def test_the_trpo_step_is_a_good_step_on_both_paths_and_they_point_the_same_way(seed, fisher_max_samples):
    """After CG and the line search: properties that hold on any CPU."""
    q = both_paths(seed, fisher_max_samples)
    for name, log in q["logs"].items():
        assert log["step_accepted"], name
        assert 0 < log["kl"] <= q["max_kl"], name
        assert log["loss_after"] < log["loss_before"], name
    assert q["cosine"] >= FAST_PATH["cosine_full" if fisher_max_samples == 0 else "cosine_subsampled"]


def test_meta_training_end_to_end_at_the_default_fisher_estimate():
    """Two meta-batches of the default config (fisher_max_samples 64) on both paths: every
    step accepted within the trust region, and the weights move the same way."""
    config = _config(seed=3, fisher_max_samples=Config().fisher_max_samples, num_batches=2)
    start = flatten(new_policy(config, config.seed).params()).detach()
    moves = []
    for fast_path in (True, False):
        result = meta_train(dataclasses.replace(config, fast_path=fast_path))
        for record in result.records:
            assert record["step_accepted"] and 0 < record["kl"] <= config.max_kl
            assert record["loss_after"] < record["loss_before"]
        moves.append(flatten(result.policy.params()).detach() - start)
    assert float(torch.nn.functional.cosine_similarity(*moves, dim=0)) >= FAST_PATH["cosine_subsampled"]


if __name__ == "__main__":  # the measurement behind tolerances.FAST_PATH (run under each kernel set)
    for seed in range(8):
        for fms in (0, 64):
            q = both_paths(seed, fms)
            print(json.dumps({"seed": seed, "fisher_max_samples": fms,
                              **{k: v for k, v in q.items() if k not in ("logs", "max_kl")},
                              "kl": {n: log["kl"] for n, log in q["logs"].items()}}))
