"""Graded exercises: every checker passes the solutions notebook's solution, rejects the
plausible wrong answers listed here (at least three per checker), each with a message that
names the mistake, and every stub raises NotImplementedError with a hint that points to a
concept, not to code.

Stubs are read from the learner notebooks (cells tagged "exercise-stub"), solutions from
notebooks/solutions/ (cells tagged "solution"), so the test sees what the learner sees.
"""

import inspect
import re
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch

from awake_tutorial import exercises
from awake_tutorial.config import load_config
from awake_tutorial.envs.dynamics import rescale
from awake_tutorial.rl.episodes import discounted_cumsum
from awake_tutorial.runs.compare import ood_tasks
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.physics.tasks import load_evaluation_tasks

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTION_DIR = NOTEBOOK_DIR / "solutions"
# notebook -> the functions its exercises ask for
EXERCISES = {
    "01_awake_steering_problem": ["inverse_response_action", "nominal_converges"],
    "02_ppo_single_task": ["length_ratio"],
    "03_inner_loop_adaptation": ["gaussian_score", "reinforce_loss", "gae"],
    "04_meta_training": ["conjugate_gradient", "kl_scaled_step"],
    "05_pretrained_meta_policy": ["adapt_and_score"],
    "06_comparison": ["my_method"],
    "07_control_room": ["safe_setpoint"],
    "08_capstone": ["my_controller"],
    "09_black_box_meta_rl": ["rl2_inputs"],
}
PREAMBLE = "import numpy as np\nimport torch\n"
# what a hint must not contain: code (a call, an assignment, indexing, a library's name)
CODE_IN_HINT = [r"\w\(", r"=", r"\[", r"\bnp\.", r"\btorch\.", r"\blambda\b", r"\.\w+\("]


def tagged_cells(path: Path, tag: str) -> list[str]:
    notebook = jupytext.read(path)
    return [cell.source for cell in notebook.cells
            if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])]


def functions_of(path: Path, tag: str) -> dict:
    """Execute the notebook's cells with ``tag`` (after its imports) and return the namespace."""
    namespace: dict = {}
    imports = next(cell for cell in jupytext.read(path).cells if cell.cell_type == "code")
    exec(PREAMBLE + imports.source, namespace)
    for source in tagged_cells(path, tag):
        exec(source, namespace)
    return namespace


def exercise_ids():
    return [(name, fn) for name, fns in EXERCISES.items() for fn in fns]


@pytest.mark.parametrize("name, function", exercise_ids())
def test_stub_raises_not_implemented_with_a_hint_that_is_no_code(name, function):
    namespace = functions_of(NOTEBOOK_DIR / f"{name}.py", "exercise-stub")
    stub = namespace[function]
    arguments = [None] * len(inspect.signature(stub).parameters)
    with pytest.raises(NotImplementedError) as error:
        stub(*arguments)
    hint = str(error.value)
    assert len(hint) > 40, "the stub's NotImplementedError carries a hint"
    for pattern in CODE_IN_HINT:
        assert not re.search(pattern, hint), f"{name}.{function}: the hint holds code ({pattern!r}): {hint}"


def test_a_stub_is_reported_as_not_done_and_graded_falls_back(capsys):
    def stub(R, obs):
        raise NotImplementedError("think of the units")

    assert not exercises.check_inverse_policy(stub)
    out = capsys.readouterr().out
    assert "NOT DONE YET" in out and "think of the units" in out
    used = exercises.graded(exercises.check_inverse_policy, stub)
    out = capsys.readouterr().out
    assert used is exercises.check_inverse_policy.fallback and "instead of yours" in out
    assert exercises.check_inverse_policy(used), "the fallback is the package's right answer"


def test_graded_hands_back_the_learners_function_when_it_passes_and_never_raises(capsys):
    assert exercises.graded(exercises.check_inverse_policy, inverse) is inverse
    wrong = lambda R, o: inverse(R, o, sign=-1)  # noqa: E731
    assert exercises.graded(exercises.check_inverse_policy, wrong) is exercises.check_inverse_policy.fallback
    assert "wrong sign" in capsys.readouterr().out


@pytest.mark.parametrize("check", [c for c in vars(exercises).values() if callable(c)
                                   and getattr(c, "__name__", "").startswith("check_")])
def test_every_checker_has_a_fallback_that_passes_it(check, capsys):
    assert check.fallback is not None and check.fallback_name
    if check is exercises.check_adapt_and_score:
        assert check(check.fallback, load_pretrained("meta"), load_evaluation_tasks()[2], load_config(),
                     num_batches=1, episodes=3)
    elif check is exercises.check_method:
        assert not check(check.fallback)  # the nominal-model controller *is* the floor: not above it
    elif check is exercises.check_capstone:
        tasks, noise = ood_tasks(2, load_config())
        assert check(check.fallback, tasks, noise, load_config(), episodes=2, seeds=(0,))
    else:
        assert check(check.fallback)


@pytest.fixture(scope="module")
def solutions():
    return {name: functions_of(SOLUTION_DIR / f"{name}.py", "solution") for name in EXERCISES}


@pytest.fixture(scope="module")
def meta_args():
    return load_pretrained("meta"), load_evaluation_tasks()[2], load_config()


def test_solutions_pass(solutions, meta_args, capsys):
    s = solutions
    assert exercises.check_inverse_policy(s["01_awake_steering_problem"]["inverse_response_action"])
    assert exercises.check_nominal_converges(s["01_awake_steering_problem"]["nominal_converges"])
    assert exercises.check_length_ratio(s["02_ppo_single_task"]["length_ratio"])
    assert exercises.check_gaussian_score(s["03_inner_loop_adaptation"]["gaussian_score"])
    assert exercises.check_reinforce_loss(s["03_inner_loop_adaptation"]["reinforce_loss"])
    assert exercises.check_gae(s["03_inner_loop_adaptation"]["gae"])
    assert exercises.check_conjugate_gradient(s["04_meta_training"]["conjugate_gradient"])
    assert exercises.check_kl_scaled_step(s["04_meta_training"]["kl_scaled_step"])
    assert exercises.check_adapt_and_score(s["05_pretrained_meta_policy"]["adapt_and_score"], *meta_args,
                                           num_batches=1, episodes=5)
    assert exercises.check_method(s["06_comparison"]["my_method"])
    assert exercises.check_safe_setpoint(s["07_control_room"]["safe_setpoint"])
    assert capsys.readouterr().out.count("PASS") == 11


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
    fails_with(exercises.check_length_ratio, lambda p, i: ratio(p, i, by_position=True), ["task id"],
               capsys=capsys)


def loss(log_probs, advantages, mask, sign=1.0, per_episode_mean=False, per_step=False, over_episodes="mean",
         use_mask=True):
    m = mask if use_mask else torch.ones_like(mask)
    product = log_probs * advantages * m
    if per_episode_mean:
        return -sign * (product.sum(0) / m.sum(0)).mean()
    if per_step:
        return -sign * product.sum() / m.sum()
    return -sign * product.sum() / (mask.shape[1] if over_episodes == "mean" else 1)


def test_reinforce_loss_feedback(capsys):
    """The default L^sum: sum over each episode's steps that ran, mean over the episodes."""
    assert exercises.check_reinforce_loss(loss)
    wrong = {
        "sign flipped": (lambda *a: loss(*a, sign=-1), ["wrong sign"]),
        "the reference's mean weighting": (lambda *a: loss(*a, per_episode_mean=True), ["inner_weighting: mean"]),
        "1/N over all steps": (lambda *a: loss(*a, per_step=True), ["1/N"]),
        "summed over the episodes too": (lambda *a: loss(*a, over_episodes="sum"), ["summed over the episodes"]),
        "padding counted": (lambda *a: loss(*a, use_mask=False), ["padding"]),
        "detached (a number, no graph)": (lambda *a: loss(*a).detach(), ["no gradient"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_reinforce_loss, fn, words, capsys=capsys)


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
    """Wrong answers: sign, no baseline, lambda ignored, bootstrapping past an episode's end."""
    assert exercises.check_gae(gae)
    fails_with(exercises.check_gae, lambda *a: gae(*a, sign=-1), ["wrong sign"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, baseline=False), ["baseline missing"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, use_lambda=False), ["lambda = 1"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a, use_mask=False), ["V = 0"], capsys=capsys)
    fails_with(exercises.check_gae, lambda *a: gae(*a)[:-1], ["shape"], capsys=capsys)


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
    fails_with(exercises.check_conjugate_gradient, lambda *a: cg(*a, update_x=False), ["returned the right-hand side"],
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
    fails_with(exercises.check_adapt_and_score, lambda m, t, c, n, e, seed: score(m, t, c, n, e, seed + 1),
               ["seed"], *meta_args, capsys=capsys, **kwargs)


def test_method_feedback_and_scores(capsys):
    """The open method: a sealed task (no response matrix, no quadrupole settings) and a floor
    (success >= 95 %, fewer steps than the nominal-model controller)."""
    from awake_tutorial.controllers import InverseResponsePolicy

    def damped(task, plane, gain=0.7):
        nominal = InverseResponsePolicy(0, plane)
        return lambda obs: gain * nominal.act(obs)

    assert exercises.check_method(damped)
    wrong = {
        "does nothing": (lambda task, plane: (lambda obs: np.zeros_like(obs)), ["never steers"]),
        "wrong sign": (lambda task, plane: (lambda obs: -damped(task, plane)(obs)), ["never steers"]),
        "reads the task's own matrix (the inverse benchmark)": (
            lambda task, plane: InverseResponsePolicy(task, plane), ["forbidden", "sealed", "inverse"]),
        "reads the task's quadrupole settings": (
            lambda task, plane: (task.quad_scales, damped(task, plane))[1], ["forbidden", "quad_scales"]),
        "too timid: fails episodes at the time limit": (
            lambda task, plane: damped(task, plane, gain=0.07), ["floor is 95%"]),
        "the nominal-model controller itself (not above the floor)": (
            exercises.steering.nominal_method, ["floor"]),
        "one action for the whole batch": (lambda task, plane: (lambda obs: obs[0]), ["shape", "one action per row"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_method, fn, words, capsys=capsys)
    from awake_tutorial.runs.compare import FIELDS, compare_methods, summarize

    tasks = load_evaluation_tasks()[:2]
    with pytest.raises(PermissionError, match="sealed"):  # score_method seals the tasks too
        exercises.score_method(lambda task, plane: InverseResponsePolicy(task, plane), {"evaluation": tasks},
                               episodes=1)
    rows = exercises.score_method(damped, {"evaluation": tasks}, episodes=3)
    assert [r["task_id"] for r in rows] == [0, 1] and all(r["method"] == "mine" for r in rows)
    assert all(set(FIELDS) <= set(r) for r in rows)
    # the rows join compare_methods' rows: same scores as a built-in method given the same policy
    builtin = compare_methods(tasks, ["nominal", "fewest-steps"], episodes=3)
    as_mine = exercises.score_method(exercises.steering.nominal_method, {"evaluation": tasks}, episodes=3)
    summary = {row["method"]: row for row in summarize(builtin + as_mine)}
    for key in ("steps_failed_as_max", "success_rate", "steps_over_fewest"):
        assert summary["mine"][key] == summary["nominal"][key]


def test_helpers_agree_with_the_package():
    # the no-baseline variant the GAE checker recognises is the discounted reward-to-go
    batch = exercises.policy_gradient.padded_batch(0)
    rewards, mask = batch["rewards"] * batch["mask"], batch["mask"]
    zero_values = torch.zeros_like(rewards)
    expected = discounted_cumsum(rewards, 0.9 * 0.8) * mask
    assert torch.allclose(exercises.policy_gradient.gae_reference(rewards, zero_values, mask, 0.9, 0.8), expected)


def setpoint(kicks, action, limit, scale="whole", units=1e-4, refuse=True, check="abs", tolerance=0.0,
             compare="new"):
    action = np.asarray(action, dtype=np.float64)
    if scale == "whole":
        action = action / max(1.0, np.abs(action).max())
    elif scale == "clip":
        action = np.clip(action, -1, 1)
    new = kicks + units * action
    tested = {"new": new, "old": kicks}[compare]
    beyond = {"abs": np.abs(tested) > limit + tolerance, "upper": tested > limit + tolerance}[check]
    if (np.all(beyond) if check == "abs" and tolerance < 0 else np.any(beyond)):
        if refuse:
            raise ValueError("beyond the limit")
        new = np.clip(new, -limit, limit)
    return new


def all_beyond(kicks, action, limit):
    """Refuses only when every corrector is beyond the limit (all/any confused)."""
    action = np.asarray(action, dtype=np.float64)
    new = kicks + 1e-4 * action / max(1.0, np.abs(action).max())
    if np.all(np.abs(new) > limit):
        raise ValueError("beyond the limit")
    return new


def test_safe_setpoint_feedback(capsys):
    """Eight wrong answers, among them five holes in the refusal: clipped instead of refused,
    one bound of two, all instead of any, a tolerance, the old kicks compared."""
    assert exercises.check_safe_setpoint(setpoint)
    wrong = {
        "each component clipped": (lambda k, a, l: setpoint(k, a, l, scale="clip"), ["clipped each action component"]),
        "not scaled down": (lambda k, a, l: setpoint(k, a, l, scale="none"), ["scaled down as a whole"]),
        "units forgotten": (lambda k, a, l: setpoint(k, a, l, units=1.0), ["1e-4 rad"]),
        "clipped to the limit instead of refused": (lambda k, a, l: setpoint(k, a, l, refuse=False),
                                                    ["refused", "not clipped"]),
        "only the upper bound": (lambda k, a, l: setpoint(k, a, l, check="upper"), ["-limit", "both sides"]),
        "all instead of any": (all_beyond, ["one corrector of ten", "any, not all"]),
        "a tolerance of 1 %": (lambda k, a, l: setpoint(k, a, l, tolerance=0.01 * l), ["no tolerance"]),
        "the old kicks compared": (lambda k, a, l: setpoint(k, a, l, compare="old"), ["beyond +limit"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_safe_setpoint, fn, words, capsys=capsys)


def test_nominal_converges_feedback(capsys):
    """The derivation's wrong answers: one bound, any/all, a non-strict bound, undershoot only,
    the inverse ratio R0 R^-1, one verdict per BPM."""
    def ratios(R, R0):
        return np.diag(R) / np.diag(R0)

    wrong = {
        "undershoot only (0 < m < 1)": (lambda R, R0: bool(np.all((ratios(R, R0) > 0) & (ratios(R, R0) < 1))),
                                        ["overshoots"]),
        "one bound of two (m < 2)": (lambda R, R0: bool(np.all(ratios(R, R0) < 2)), ["two bounds"]),
        "sign forgotten (|m| < 2)": (lambda R, R0: bool(np.all(np.abs(ratios(R, R0)) < 2)), ["two bounds"]),
        "any instead of all": (lambda R, R0: bool(np.any(np.abs(1 - ratios(R, R0)) < 1)), ["not any"]),
        "bound not strict (m <= 2)": (lambda R, R0: bool(np.all(np.abs(1 - ratios(R, R0)) <= 1)), ["strict"]),
        "R0 R^-1 instead of R R0^-1": (lambda R, R0: bool(np.all(np.abs(1 - 1 / ratios(R, R0)) < 1)),
                                       ["R0 R^-1"]),
        "one verdict per BPM": (lambda R, R0: np.abs(1 - ratios(R, R0)) < 1, ["one True or False"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_nominal_converges, fn, words, capsys=capsys)


def test_gaussian_score_feedback(capsys):
    """Derivatives of log N(a; mu, sigma^2): the usual slips, each named."""
    def score(a, mu, log_std, mu_power=2, sign=1.0, minus_one=True, wrt_sigma=False):
        sigma = torch.exp(log_std)
        d_mu = sign * (a - mu) / sigma ** mu_power
        if wrt_sigma:
            return d_mu, (a - mu) ** 2 / sigma ** 3 - 1 / sigma
        return d_mu, (a - mu) ** 2 / sigma ** 2 - (1 if minus_one else 0)

    assert exercises.check_gaussian_score(score)
    wrong = {
        "sign of d/d mu": (lambda *x: score(*x, sign=-1), ["wrong sign"]),
        "sigma instead of sigma^2": (lambda *x: score(*x, mu_power=1), ["sigma^2 stays in the denominator"]),
        "sigma forgotten": (lambda *x: score(*x, mu_power=0), ["where did sigma go"]),
        "normalisation term forgotten": (lambda *x: score(*x, minus_one=False), ["-log sigma"]),
        "derivative with respect to sigma": (lambda *x: score(*x, wrt_sigma=True), ["not log sigma"]),
        "summed over the dimensions": (lambda *x: tuple(g.sum(-1) for g in score(*x)), ["shape"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_gaussian_score, fn, words, capsys=capsys)


def quiz_cells(path: Path) -> list[str]:
    return [cell.source for cell in jupytext.read(path).cells
            if cell.cell_type == "code" and "exercises.quiz(" in cell.source]


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_quiz_question_is_valid_and_gives_feedback(name, monkeypatch):
    """Each quiz cell builds (the right option's explanation starts with "Right", the others'
    do not), and clicking an option shows its explanation."""
    built, real_quiz = [], exercises.quiz
    monkeypatch.setattr(exercises, "quiz", lambda *a, **k: built.append(real_quiz(*a, show=False, **k)))
    cells = quiz_cells(NOTEBOOK_DIR / f"{name}.py")
    assert 3 <= len(cells) <= 5, f"{name}: the quiz has 3-5 questions"
    for source in cells:
        exec(source, {"exercises": exercises})
    for box, source in zip(built, cells):
        buttons, feedback = box.buttons, box.children[-1]
        verdicts = []
        for button in buttons:
            button.click()
            verdicts.append("\u2714" in feedback.value)
        assert sum(verdicts) == 1, f"{name}: exactly one right option"


def test_quiz_rejects_malformed_questions():
    from awake_tutorial.exercises.quiz import quiz

    with pytest.raises(ValueError, match="at least two"):
        quiz("Q", {"only": "Right."}, answer=0, show=False)
    with pytest.raises(ValueError, match="not an option"):
        quiz("Q", {"a": "Right.", "b": "No."}, answer=2, show=False)
    with pytest.raises(ValueError, match="starts with 'Right'"):
        quiz("Q", {"a": "No.", "b": "Right."}, answer=0, show=False)


# A wrong answer typed into the learner's own cell, in the notebook as shipped: the grading
# cell right below rejects it and the name then holds the package's implementation.
WRONG_IN_THE_CELL = {
    ("01_awake_steering_problem", "inverse_response_action"):
        "def inverse_response_action(R, obs):\n    return -inverse(R, obs)\n",
    ("01_awake_steering_problem", "nominal_converges"):
        "def nominal_converges(R, R0):\n    return bool(np.all(np.diag(R) / np.diag(R0) < 2))\n",
    ("03_inner_loop_adaptation", "gaussian_score"):
        "def gaussian_score(a, mu, log_std):\n    return (mu - a) / torch.exp(2 * log_std), "
        "(a - mu) ** 2 / torch.exp(2 * log_std) - 1\n",
    ("03_inner_loop_adaptation", "reinforce_loss"):
        "def reinforce_loss(log_probs, advantages, mask):\n    return (log_probs * advantages * mask).sum() / mask.shape[1]\n",
    ("04_meta_training", "kl_scaled_step"):
        "def kl_scaled_step(x, fvp, max_kl):\n    return torch.sqrt(max_kl / x.dot(fvp(x))) * x\n",
    ("07_control_room", "safe_setpoint"):
        "def safe_setpoint(kicks, action, limit):\n    new = kicks + 1e-4 * action / max(1.0, np.abs(action).max())\n"
        "    if np.any(new > limit):\n        raise ValueError('beyond')\n    return new\n",
    ("09_black_box_meta_rl", "rl2_inputs"):  # a shift that wraps around at t = 0
        "def rl2_inputs(observations, actions):\n    obs = np.asarray(observations)\n"
        "    x = [obs, obs - np.roll(obs, 1, axis=0), np.roll(rescale(np.asarray(actions)), 1, axis=0)]\n"
        "    return np.concatenate(x, axis=-1).transpose(1, 0, 2)\n",
}


@pytest.mark.parametrize("name, function", list(WRONG_IN_THE_CELL))
def test_a_wrong_answer_in_the_learners_cell_fails_its_grading_cell(name, function, capsys):
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    index = next(i for i, cell in enumerate(notebook.cells) if "exercise-stub" in cell.metadata.get("tags", [])
                 and f"def {function}(" in cell.source)
    namespace = {"inverse": inverse}
    imports = next(cell for cell in notebook.cells if cell.cell_type == "code")
    exec(PREAMBLE + imports.source, namespace)
    exec(WRONG_IN_THE_CELL[(name, function)], namespace)  # what the learner typed
    learners = namespace[function]
    exec(notebook.cells[index + 1].source, namespace)  # the notebook's own grading cell
    out = capsys.readouterr().out
    assert "NOT YET" in out and "instead of yours" in out, out
    assert namespace[function] is not learners, "later cells use the package's implementation"


def test_the_capstone_checker_grades_the_floor(solutions, capsys):
    """The solution (Broyden from the blind task's matrix) passes the floor on the unseen machine;
    doing nothing, the operator's inverse on the nominal matrix (the floor itself), or spending
    more than the budget of machine steps, does not; the controller is handed the task blind."""
    from awake_tutorial.controllers import BroydenPolicy, InverseResponsePolicy
    from awake_tutorial.exercises.capstone import BUDGET, blind, check_capstone
    from awake_tutorial.physics.tasks import get_evaluation_task

    config = load_config()
    tasks, noise = ood_tasks(2, config)
    assert np.array_equal(blind(tasks[0]).response_h, get_evaluation_task(0).response_h)
    assert check_capstone(solutions["08_capstone"]["my_controller"], tasks, noise, config, episodes=3, seeds=(0,))
    assert "PASS  your controller on the unseen machine" in capsys.readouterr().out
    fails_with(check_capstone, lambda task, plane: (lambda obs: np.zeros_like(obs)), ["never steers", "notebook 06"],
               tasks, noise, config, episodes=2, seeds=(0,), capsys=capsys)
    fails_with(check_capstone, lambda task, plane: InverseResponsePolicy(task, plane), ["below the floor"],
               tasks, noise, config, episodes=2, seeds=(0,), capsys=capsys)
    fails_with(check_capstone, BroydenPolicy, ["budget"], tasks, noise, config, episodes=2, seeds=(0,),
               machine_steps=BUDGET + 1, capsys=capsys)


def test_a_wrong_controller_in_the_capstone_cell_gets_not_yet_and_the_fallback(monkeypatch, capsys):
    """Notebook 08 as shipped (quick sizes): a controller that does nothing, typed into the
    learner's cell, is rejected by the grading cell below it, and later cells use Broyden."""
    monkeypatch.setenv("AWAKE_TUTORIAL_QUICK", "1")
    notebook = jupytext.read(NOTEBOOK_DIR / "08_capstone.py")
    code = [(i, cell.source) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    stub = next(i for i, cell in enumerate(notebook.cells) if "exercise-stub" in cell.metadata.get("tags", []))
    namespace: dict = {}
    for source in [source for i, source in code if i < stub and "compare_methods(" not in source]:
        exec(PREAMBLE + source, namespace)  # imports and the machine; not the rivals' table
    exec("MY_MACHINE_STEPS = 0\ndef my_controller(task, plane):\n    return lambda obs: 0 * obs\n", namespace)
    learners = namespace["my_controller"]
    exec(notebook.cells[stub + 1].source, namespace)  # the notebook's own grading cell
    out = capsys.readouterr().out
    assert "NOT YET" in out and "instead of yours" in out, out
    assert namespace["my_controller"] is exercises.check_capstone.fallback is not learners


def rl2_inputs(observations, actions, time_major=False, change_sign=1.0, wrap=False, shift_action=True,
               as_applied="rescale"):
    """The RL² inputs with one of a learner's slips switched on (defaults: right)."""
    obs = np.asarray(observations, dtype=np.float64)
    raw = np.asarray(actions, dtype=np.float64)
    action = {"rescale": rescale(raw), "clip": np.clip(raw, -1, 1), "raw": raw}[as_applied]
    first_obs, first_action = (obs[-1:], action[-1:]) if wrap else (obs[:1], 0 * action[:1])
    previous_obs = np.concatenate([first_obs, obs[:-1]])
    previous_action = np.concatenate([first_action, action[:-1]]) if shift_action else action
    x = np.concatenate([obs, change_sign * (obs - previous_obs), previous_action], axis=-1)
    return x if time_major else x.transpose(1, 0, 2)


def test_rl2_features_feedback(solutions, capsys):
    """The solution passes; a learner's slips are each named: time-major, the change's sign, a
    shift that wraps around at t = 0, the action about to be chosen, the action as returned
    or clipped per component instead of as applied."""
    assert exercises.check_rl2_features(solutions["09_black_box_meta_rl"]["rl2_inputs"])
    assert exercises.check_rl2_features(rl2_inputs)
    assert capsys.readouterr().out.count("PASS") == 2
    wrong = {
        "time-major, as the rollout stores it": (lambda o, a: rl2_inputs(o, a, time_major=True),
                                                 ["time-major", "(n, T, 30)"]),
        "s_{t-1} - s_t": (lambda o, a: rl2_inputs(o, a, change_sign=-1), ["wrong sign"]),
        "wraps around at t = 0": (lambda o, a: rl2_inputs(o, a, wrap=True), ["t = 0", "wraps around"]),
        "a_t instead of a_{t-1}": (lambda o, a: rl2_inputs(o, a, shift_action=False), ["cannot see it"]),
        "the action as the policy returned it": (lambda o, a: rl2_inputs(o, a, as_applied="raw"),
                                                 ["as the machine applied it"]),
        "each component clipped": (lambda o, a: rl2_inputs(o, a, as_applied="clip"), ["clipped each component"]),
        "readings left out": (lambda o, a: rl2_inputs(o, a)[..., 10:], ["shape"]),
        "inputs in another order": (lambda o, a: rl2_inputs(o, a)[..., ::-1], ["readings s_t themselves"]),
    }
    for fn, words in wrong.values():
        fails_with(exercises.check_rl2_features, fn, words, capsys=capsys)
