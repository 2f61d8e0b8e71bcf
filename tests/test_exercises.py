"""Graded exercises: every checker passes the notebook's solution, fails a typical wrong
answer with a message that names the mistake, and every stub raises NotImplementedError.

Stubs and solutions are read from the notebooks' .py files (cells tagged "exercise"
and "solution"), so the test sees what the learner sees.
"""

import inspect
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.envs.dynamics import rescale
from awake_tutorial.rl.episodes import discounted_cumsum
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.physics.tasks import load_evaluation_tasks

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
# notebook -> the functions its exercises ask for
EXERCISES = {
    "01_awake_steering_problem": ["inverse_response_action"],
    "02_ppo_single_task": ["length_ratio"],
    "03_inner_loop_adaptation": ["reinforce_loss", "gae"],
    "04_meta_training": ["conjugate_gradient", "kl_scaled_step"],
    "05_pretrained_meta_policy": ["adapt_and_score"],
    "06_comparison": ["my_method"],
    "07_control_room": ["safe_setpoint"],
}
PREAMBLE = "import numpy as np\nimport torch\n"


def tagged_cells(name: str, tag: str) -> list[str]:
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return [cell.source for cell in notebook.cells
            if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])]


def functions_of(name: str, tag: str) -> dict:
    """Execute the notebook's cells with ``tag`` (after its imports) and return the namespace."""
    namespace: dict = {}
    exec(PREAMBLE + jupytext.read(NOTEBOOK_DIR / f"{name}.py").cells[1].source, namespace)
    for source in tagged_cells(name, tag):
        exec(source, namespace)
    return namespace


def exercise_ids():
    return [(name, fn) for name, fns in EXERCISES.items() for fn in fns]


@pytest.mark.parametrize("name, function", exercise_ids())
def test_stub_raises_not_implemented_with_a_hint(name, function):
    namespace = functions_of(name, "exercise-stub")
    stub = namespace[function]
    arguments = [None] * len(inspect.signature(stub).parameters)
    with pytest.raises(NotImplementedError) as error:
        stub(*arguments)
    assert len(str(error.value)) > 20, "the stub's NotImplementedError carries a hint"


def test_a_stub_is_reported_as_not_done(capsys):
    def stub(R, obs):
        raise NotImplementedError("use -R^-1")

    assert not exercises.check_inverse_policy(stub)
    assert "NotImplementedError" in capsys.readouterr().out


@pytest.fixture(scope="module")
def solutions():
    return {name: functions_of(name, "solution") for name in EXERCISES}


@pytest.fixture(scope="module")
def meta_args():
    return load_pretrained("meta"), load_evaluation_tasks()[2], load_config()


def test_solutions_pass(solutions, meta_args, capsys):
    s = solutions
    assert exercises.check_inverse_policy(s["01_awake_steering_problem"]["inverse_response_action"])
    assert exercises.check_length_ratio(s["02_ppo_single_task"]["length_ratio"])
    assert exercises.check_reinforce_loss(s["03_inner_loop_adaptation"]["reinforce_loss"])
    assert exercises.check_gae(s["03_inner_loop_adaptation"]["gae"])
    assert exercises.check_conjugate_gradient(s["04_meta_training"]["conjugate_gradient"])
    assert exercises.check_kl_scaled_step(s["04_meta_training"]["kl_scaled_step"])
    assert exercises.check_adapt_and_score(s["05_pretrained_meta_policy"]["adapt_and_score"], *meta_args,
                                           num_batches=1, episodes=5)
    assert exercises.check_method(s["06_comparison"]["my_method"])
    assert exercises.check_safe_setpoint(s["07_control_room"]["safe_setpoint"])
    assert capsys.readouterr().out.count("PASS") == 9


def fails_with(check, fn, words, *args, capsys, **kwargs):
    assert not check(fn, *args, **kwargs)
    out = capsys.readouterr().out
    assert "NOT YET" in out
    for word in words:
        assert word in out, f"{word!r} missing from the feedback: {out}"


def inverse(R, obs, sign=1.0, transpose=False, clip=False, units=100 * 1e-4):
    matrix = R.T if transpose else R
    action = -sign * np.linalg.solve(matrix, obs) / units
    return np.clip(action, -1, 1) if clip else rescale(action)


def test_inverse_policy_feedback(capsys):
    assert exercises.check_inverse_policy(inverse)
    fails_with(exercises.check_inverse_policy, lambda R, o: inverse(R, o, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_inverse_policy, lambda R, o: inverse(R, o, transpose=True), ["transposed"],
               capsys=capsys)
    fails_with(exercises.check_inverse_policy, lambda R, o: inverse(R, o, clip=True), ["np.clip"], capsys=capsys)
    fails_with(exercises.check_inverse_policy, lambda R, o: inverse(R, o, units=1.0), ["units"], capsys=capsys)
    fails_with(exercises.check_inverse_policy, lambda R, o: np.zeros(3), ["shape"], capsys=capsys)


def test_length_ratio_feedback(capsys):
    def ratio(ppo, inv, upside_down=False, keep_failed=False, by_position=False):
        lengths = {r["task_id"]: r["mean_length"] for r in inv}
        out = {}
        for i, r in enumerate(ppo):
            value = r["mean_length"] / lengths[r["task_id"]]
            value = 1 / value if upside_down else value
            out[i if by_position else r["task_id"]] = value if keep_failed or r["success_rate"] == 1 else None
        return out

    assert exercises.check_length_ratio(ratio)
    fails_with(exercises.check_length_ratio, lambda p, i: ratio(p, i, upside_down=True), ["upside down"],
               capsys=capsys)
    fails_with(exercises.check_length_ratio, lambda p, i: ratio(p, i, keep_failed=True), ["failed episodes"],
               capsys=capsys)
    fails_with(exercises.check_length_ratio, lambda p, i: ratio(p, i, by_position=True), ["task_id"],
               capsys=capsys)


def loss(log_probs, advantages, mask, sign=1.0, per_step=False, use_mask=True):
    m = mask if use_mask else torch.ones_like(mask)
    product = log_probs * advantages * m
    if per_step:
        return -sign * product.sum() / m.sum()
    return -sign * (product.sum(0) / m.sum(0)).mean()


def test_reinforce_loss_feedback(capsys):
    assert exercises.check_reinforce_loss(loss)
    fails_with(exercises.check_reinforce_loss, lambda *a: loss(*a, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_reinforce_loss, lambda *a: loss(*a, per_step=True), ["1/N", "each episode"],
               capsys=capsys)
    fails_with(exercises.check_reinforce_loss, lambda *a: loss(*a, use_mask=False), ["padding"], capsys=capsys)
    fails_with(exercises.check_reinforce_loss, lambda *a: loss(*a).detach(), ["no gradient"], capsys=capsys)


def gae(rewards, values, mask, gamma, lam, sign=1.0, baseline=True, use_lambda=True, use_mask=True):
    T = rewards.shape[0]
    m = mask if use_mask else torch.ones_like(mask)
    v = values * m if baseline else torch.zeros_like(values)
    advantages, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        next_value = v[t + 1] if t + 1 < T else torch.zeros_like(v[0])
        delta = rewards[t] + gamma * next_value - v[t]
        running = (delta + gamma * (lam if use_lambda else 1.0) * running) * m[t]
        advantages[t] = running
    return sign * advantages


def test_gae_feedback(capsys):
    assert exercises.check_gae(gae)
    fails_with(exercises.check_gae, lambda *a: gae(*a, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, baseline=False), ["baseline missing"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, use_lambda=False), ["lambda = 1"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, use_mask=False), ["V = 0"], capsys=capsys)


def cg(Av, b, iters, sign=1.0, update_x=True, fixed_iters=None):
    x, r, p = torch.zeros_like(b), b.clone(), b.clone()
    for _ in range(fixed_iters or iters):
        Ap = Av(p)
        alpha = (r @ r) / (p @ Ap)
        if update_x:
            x = x + alpha * p
        r_new = r - alpha * Ap
        p, r = r_new + (r_new @ r_new) / (r @ r) * p, r_new
        if r @ r < 1e-20:
            break
    return sign * x if update_x else b


def test_conjugate_gradient_feedback(capsys):
    assert exercises.check_conjugate_gradient(cg)
    fails_with(exercises.check_conjugate_gradient, lambda *a: cg(*a, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_conjugate_gradient, lambda *a: cg(*a, update_x=False), ["returned b"],
               capsys=capsys)
    fails_with(exercises.check_conjugate_gradient, lambda *a: cg(*a, fixed_iters=2), ["|A x - b|"], capsys=capsys)


def test_kl_scaled_step_feedback(capsys):
    def step(x, fvp, max_kl, factor=2.0, sign=1.0):
        return sign * x * torch.sqrt(factor * max_kl / (x @ fvp(x)))

    assert exercises.check_kl_scaled_step(step)
    fails_with(exercises.check_kl_scaled_step, lambda *a: step(*a, factor=1.0), ["1/2"], capsys=capsys)
    fails_with(exercises.check_kl_scaled_step, lambda *a: step(*a, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_kl_scaled_step, lambda x, f, k: x * k, ["should equal max_kl"], capsys=capsys)


def test_adapt_and_score_feedback(meta_args, capsys):
    from awake_tutorial.envs import evaluate
    from awake_tutorial.runs.training import adapt

    def score(meta_policy, task, config, num_batches, episodes, seed, deterministic=True, adapted=True):
        policy = adapt(meta_policy, [task], num_batches, config, seed=seed).policies[0] if adapted else meta_policy
        act = policy.as_numpy_policy(deterministic=deterministic, seed=seed)
        return evaluate(act, [task], episodes=episodes, seed=seed)[0]

    kwargs = {"num_batches": 1, "episodes": 5}
    assert exercises.check_adapt_and_score(score, *meta_args, **kwargs)
    fails_with(exercises.check_adapt_and_score, lambda *a: score(*a, deterministic=False), ["sampled", "mean"],
               *meta_args, capsys=capsys, **kwargs)
    fails_with(exercises.check_adapt_and_score, lambda *a: score(*a, adapted=False), ["before adaptation"],
               *meta_args, capsys=capsys, **kwargs)


def test_method_feedback_and_scores(capsys):
    from awake_tutorial.controllers import InverseResponsePolicy

    def nominal(task, plane):
        return InverseResponsePolicy(0, plane)

    assert exercises.check_method(nominal)
    fails_with(exercises.check_method, lambda task, plane: (lambda obs: obs[0]), ["shape", "one action per row"],
               capsys=capsys)
    from awake_tutorial.runs.compare import FIELDS, compare_methods, summarize

    tasks = load_evaluation_tasks()[:2]
    rows = exercises.score_method(nominal, {"evaluation": tasks}, episodes=3)
    assert [r["task_id"] for r in rows] == [0, 1] and all(r["method"] == "mine" for r in rows)
    assert all(set(FIELDS) <= set(r) for r in rows)
    # the rows join compare_methods' rows: same scores as a built-in method given the same policy
    builtin = compare_methods(tasks, ["inverse", "fewest-steps"], episodes=3)
    as_mine = exercises.score_method(lambda task, plane: InverseResponsePolicy(task, plane),
                                     {"evaluation": tasks}, episodes=3)
    summary = {row["method"]: row for row in summarize(builtin + as_mine)}
    for key in ("steps_failed_as_max", "success_rate", "steps_over_fewest"):
        assert summary["mine"][key] == summary["inverse"][key]


def test_helpers_agree_with_the_package():
    # the no-baseline variant the GAE checker recognises is the discounted reward-to-go
    batch = exercises.policy_gradient.padded_batch(0)
    rewards, mask = batch["rewards"] * batch["mask"], batch["mask"]
    zero_values = torch.zeros_like(rewards)
    expected = discounted_cumsum(rewards, 0.9 * 0.8) * mask
    assert torch.allclose(exercises.policy_gradient.gae_reference(rewards, zero_values, mask, 0.9, 0.8), expected)


def setpoint(kicks, action, limit, scale="whole", units=1e-4, refuse=True):
    action = np.asarray(action, dtype=np.float64)
    if scale == "whole":
        action = action / max(1.0, np.abs(action).max())
    elif scale == "clip":
        action = np.clip(action, -1, 1)
    new = kicks + units * action
    if np.any(np.abs(new) > limit):
        if refuse:
            raise ValueError("beyond the limit")
        new = np.clip(new, -limit, limit)
    return new


def test_safe_setpoint_feedback(capsys):
    assert exercises.check_safe_setpoint(setpoint)
    fails_with(exercises.check_safe_setpoint, lambda k, a, l: setpoint(k, a, l, scale="clip"),
               ["clipped each action component"], capsys=capsys)
    fails_with(exercises.check_safe_setpoint, lambda k, a, l: setpoint(k, a, l, scale="none"),
               ["scaled down as a whole"], capsys=capsys)
    fails_with(exercises.check_safe_setpoint, lambda k, a, l: setpoint(k, a, l, units=1.0), ["1e-4 rad"],
               capsys=capsys)
    fails_with(exercises.check_safe_setpoint, lambda k, a, l: setpoint(k, a, l, refuse=False),
               ["refused", "not clipped"], capsys=capsys)


def test_the_capstone_checker_grades_the_floor(capsys):
    """Broyden passes the floor on the unseen machine; doing nothing, or spending more than the
    budget of machine steps, does not; the controller is handed the task blind."""
    from awake_tutorial.config import load_config
    from awake_tutorial.controllers import BroydenPolicy
    from awake_tutorial.exercises.capstone import BUDGET, blind, check_capstone
    from awake_tutorial.physics.tasks import get_evaluation_task
    from awake_tutorial.runs.compare import ood_tasks

    config = load_config()
    tasks, noise = ood_tasks(2, config)
    assert np.array_equal(blind(tasks[0]).response_h, get_evaluation_task(0).response_h)
    assert check_capstone(BroydenPolicy, tasks, noise, config, episodes=3, seeds=(0,))
    assert not check_capstone(lambda task, plane: (lambda obs: np.zeros_like(obs)), tasks, noise, config,
                              episodes=2, seeds=(0,))
    assert "below the floor" in capsys.readouterr().out
    assert not check_capstone(BroydenPolicy, tasks, noise, config, episodes=2, seeds=(0,), machine_steps=BUDGET + 1)
    assert "budget" in capsys.readouterr().out
