"""compare: machine steps spent, the scoring convention, the spread over seeds, the files."""

import csv
import json

import numpy as np
import pytest

from awake_tutorial.ui import cli

from awake_tutorial.runs import compare, methods
from awake_tutorial.config import load_config
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.physics.tasks import get_evaluation_task
from awake_tutorial.runs.training import adapt

STEPS = compare.STEPS


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_failed_episodes_count_as_max_steps_never_at_their_short_length():
    results = [{"lengths": [2, 5, 100], "successes": [True, False, False], "success_rate": 1 / 3}]
    (score,) = compare.task_scores(results, max_steps=100)
    assert score[STEPS] == pytest.approx((2 + 100 + 100) / 3)  # the wall hit at step 5 counts as 100
    assert compare.task_scores(results, 100, "sampled_")[0]["sampled_success_rate"] == 1 / 3


def test_machine_steps_are_the_adaptation_episodes_probes_or_nothing(config):
    tasks = [get_evaluation_task(1), get_evaluation_task(3)]
    policy = GaussianMLPPolicy(seed=4)
    rows = compare.compare_methods(tasks, ["meta-2", "measure-correct", "nominal", "fewest-steps"], episodes=3,
                                   seed=[5, 1005], meta_policy=policy, config=config)
    by = {(r["method"], r["task_id"], r["seed"]): r for r in rows}
    assert len(rows) == 4 * 2 * 2 and {r["seed"] for r in rows} == {5, 1005}
    for seed in (5, 1005):
        records = adapt(policy, tasks, 2, config, seed=seed).records
        for task in tasks:
            spent = sum(r["mean_length"] * config.fast_batch_size for r in records if r["task_id"] == task.id)
            assert by[("meta-2", task.id, seed)]["machine_steps"] == round(spent) > 0
            assert by[("measure-correct", task.id, seed)]["machine_steps"] == 11
            assert by[("nominal", task.id, seed)]["machine_steps"] == by[("fewest-steps", task.id, seed)]["machine_steps"] == 0
    for r in rows:  # the headline follows the convention; sampled columns only for Gaussian policies
        assert r[STEPS] >= r["mean_length"] * r["success_rate"]
        assert (r[f"sampled_{STEPS}"] is None) == (r["method"] != "meta-2")
    assert by[("fewest-steps", 1, 5)]["mean_return"] != by[("fewest-steps", 1, 1005)]["mean_return"]  # other starts
    # the headline of a Gaussian policy is its mean action
    adapted = adapt(policy, tasks[:1], 2, config, seed=5).policies[0]
    from awake_tutorial.envs import evaluate

    (mean,) = evaluate(adapted.as_numpy_policy(), tasks[:1], episodes=3, seed=5)
    assert by[("meta-2", 1, 5)]["lengths"] == mean["lengths"]


def test_summary_spreads_over_seeds_and_leaves_deterministic_sampled_columns_empty():
    def row(method, seed, task_id, steps, success=1.0, sampled=None):
        return {"method": method, "task_set": "evaluation", "task_id": task_id, "seed": seed, "machine_steps": 10 * seed,
                STEPS: steps, "success_rate": success, f"sampled_{STEPS}": sampled,
                "sampled_success_rate": None if sampled is None else 1.0, "mean_length": steps, "mean_return": -steps}

    rows = [row("fewest-steps", s, t, 1.0) for s in (1, 2) for t in (0, 1)]
    rows += [row("meta-1", 1, 0, 2.0, sampled=3.0), row("meta-1", 1, 1, 4.0, 0.5, sampled=3.0),
             row("meta-1", 2, 0, 4.0, sampled=5.0), row("meta-1", 2, 1, 6.0, sampled=5.0)]
    summary = {s["method"]: s for s in compare.summarize(rows)}
    meta = summary["meta-1"]
    assert (meta["family"], meta["batches"], meta["seeds"], meta["tasks"]) == ("meta", 1, 2, 2)
    assert meta[STEPS] == 4.0 and meta[f"{STEPS}_min"] == 3.0 and meta[f"{STEPS}_max"] == 5.0  # per-seed means
    assert meta[f"{STEPS}_std"] == pytest.approx(np.std([3.0, 5.0], ddof=1))
    assert meta["worst_steps"] == 5.0 and meta["worst_success_rate"] == 0.75  # task 1, mean over seeds
    assert meta["success_rate"] == 0.875 and meta["steps_over_fewest"] == 4.0
    assert meta["machine_steps"] == 15 and (meta["machine_steps_min"], meta["machine_steps_max"]) == (10, 20)
    assert meta[f"sampled_{STEPS}"] == 4.0 and meta[f"sampled_{STEPS}_max"] == 5.0
    fewest = summary["fewest-steps"]
    assert fewest[f"sampled_{STEPS}"] is None and fewest["sampled_success_rate"] is None
    assert fewest[f"{STEPS}_std"] == 0.0


def test_pooled_by_task_averages_seeds_and_takes_quartiles_of_every_seeds_lengths():
    def row(seed, lengths, sampled):
        return {"method": "meta-1", "task_set": "evaluation", "task_id": 3, "seed": seed, "machine_steps": 100 + seed,
                STEPS: float(np.mean(lengths)), "success_rate": 1.0, f"sampled_{STEPS}": sampled,
                "sampled_success_rate": None if sampled is None else 1.0, "mean_length": float(np.mean(lengths)),
                "std_length": 0.0, "mean_return": -1.0, "lengths": lengths}

    (pooled,) = compare.pooled_by_task([row(0, [1, 2, 3, 4], 2.0), row(2, [5, 6, 7, 8], 4.0)])
    assert (pooled["method"], pooled["task_id"], pooled["seeds"]) == ("meta-1", 3, 2)
    assert pooled["machine_steps"] == 101 and pooled[STEPS] == 4.5 and pooled[f"sampled_{STEPS}"] == 3.0
    assert pooled["length_quartiles"] == list(np.percentile(np.arange(1, 9), [25, 50, 75]))
    (deterministic,) = compare.pooled_by_task([row(0, [1, 1], None), row(1, [2, 2], None)])
    assert deterministic[f"sampled_{STEPS}"] is None and "lengths" not in deterministic


def test_missing_models_and_unknown_methods_are_clear_errors():
    task = [get_evaluation_task(1)]
    with pytest.raises(ValueError, match="unknown method"):
        compare.compare_methods(task, ["genius"])
    with pytest.raises(ValueError, match="reference_policy="):
        compare.compare_methods(task, ["reference-1"])
    with pytest.raises(ValueError, match="ppo_model="):
        compare.compare_methods(task, ["ppo"])
    resolved = {name: (m.family, k) for name in ("random", "reinforce-40", "measure-correct", "meta-3")
                for m, k in [methods.resolve(name)]}
    assert resolved == {"random": ("reinforce", 0), "reinforce-40": ("reinforce", 40),
                        "measure-correct": ("measure-correct", 0), "meta-3": ("meta", 3)}


def test_cli_compare_writes_the_new_columns_and_figures(capsys, tmp_path):
    status = cli.main(["compare", "--methods", "meta-1", "measure-correct", "fewest-steps", "--episodes", "2",
                       "--heldout", "1", "--seeds", "0", "1000", "--out", str(tmp_path),
                       "--task-sets", "evaluation", "held-out"])
    out = capsys.readouterr().out
    assert status == 0
    assert "machine steps" in out and "sampled steps" in out and "std over seeds" in out
    with open(tmp_path / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(compare.FIELDS) and STEPS in rows[0]
    assert len(rows) == 3 * 2 * (5 + 1)  # methods x seeds x (evaluation + held-out tasks)
    assert {r["machine_steps"] for r in rows if r["method"] == "measure-correct"} == {"11"}
    data = json.loads((tmp_path / "comparison.json").read_text())
    assert "failed episode" in data["convention"] and len(data["summary"]) == 3 * 2
    assert len(data["per_task"]) == 3 * 6 and all(r["seeds"] == 2 for r in data["per_task"])
    with open(tmp_path / "comparison_summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert {r["seeds"] for r in summary} == {"2"} and f"{STEPS}_std" in summary[0]
    for name in ("comparison.png", "comparison_machine_steps.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_append_adds_a_method_and_keeps_every_other_row_exactly(tmp_path):
    tasks = [get_evaluation_task(1), get_evaluation_task(2)]
    first = compare.compare_methods(tasks, ["inverse", "nominal"], episodes=2, seed=[0, 1000])
    compare.write_results(first, tmp_path)
    before = compare.read_summary(tmp_path)
    added = compare.compare_methods(tasks, ["broyden", "nominal"], episodes=2, seed=[0, 1000])
    compare.write_results(added, tmp_path, append=True)
    after = {r["method"]: r for r in compare.read_summary(tmp_path)}
    assert set(after) == {"inverse", "nominal", "broyden"}
    assert after["inverse"] == next(r for r in before if r["method"] == "inverse")  # untouched, bit for bit
    assert len(compare.read_rows(tmp_path / "comparison.csv")) == 3 * 2 * 2  # nominal replaced, not doubled
    assert len(json.loads((tmp_path / "comparison.json").read_text())["per_task"]) == 3 * 2


def test_the_ood_set_is_scored_under_its_noise_and_every_method_resolves():
    config = load_config()
    sets = compare.task_sets(config, ["out-of-distribution"], ood=2)
    (tasks, noise), = sets.values()
    assert noise == config.ood_tasks.bpm_noise > 0 and [t.id for t in tasks] == [200, 201]
    rows = compare.compare_methods(tasks, ["broyden", "measure-correct"], episodes=2, seed=0, bpm_noise=noise,
                                   task_set="out-of-distribution")
    by = {r["method"]: r for r in compare.summarize(rows)}
    assert by["measure-correct"]["machine_steps"] == 11 and by["broyden"]["machine_steps"] == 0
    quiet = compare.compare_methods(tasks, ["measure-correct"], episodes=2, seed=0)  # noise reaches the probes
    assert [r["lengths"] for r in quiet] != [r["lengths"] for r in rows if r["method"] == "measure-correct"]
    for name in compare.METHODS:
        assert methods.resolve(name)[0].name(methods.resolve(name)[1]) == name
    with pytest.raises(ValueError, match="unknown task set"):
        compare.task_sets(config, ["train"])


def test_the_registry_draws_and_lists_every_method():
    from awake_tutorial.ui.plotting_compare import families

    assert set(families()) == set(methods.REGISTRY)
    assert set(methods.CONTROLLERS) == {"nominal", "inverse-nominal", "broyden", "measure-correct", "inverse",
                                        "fewest-steps"}
    assert set(methods.NOISE_STUDY) <= {n for m in methods.REGISTRY.values() for n in m.names((0, 1, 2))}
    assert methods.family_of("mine") == ("mine", 0)  # a method of your own (notebook 06) is its own family


def test_a_new_controller_is_one_class_and_one_registry_entry(monkeypatch, tmp_path):
    """What README's "how to add" promises: an entry makes the comparison score it and the
    figures draw it, with no other change."""
    from awake_tutorial.controllers import InverseResponsePolicy
    from awake_tutorial.ui.plotting_compare import plot_steps_vs_machine_steps

    class HalfInverse(InverseResponsePolicy):  # the "one class": half the nominal inverse step
        machine_steps = 0

        def __init__(self, task, plane):
            super().__init__(0, plane)

        def act(self, obs):
            return 0.5 * super().act(obs)

    entry = methods._controller("half-inverse", "half inverse", "tab:pink", "p", "0",
                                lambda task, s: HalfInverse(task, s.plane))
    monkeypatch.setitem(methods.REGISTRY, entry.family, entry)
    rows = compare.compare_methods([get_evaluation_task(1)], ["half-inverse", "inverse-nominal"], episodes=3)
    summary = {r["method"]: r for r in compare.summarize(rows)}
    assert summary["half-inverse"]["family"] == "half-inverse" and summary["half-inverse"]["machine_steps"] == 0
    assert summary["half-inverse"][STEPS] > summary["inverse-nominal"][STEPS]  # half steps: slower
    fig = plot_steps_vs_machine_steps(list(summary.values()))
    assert "half inverse" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_cli_compare_appends_a_method_on_the_ood_set(capsys, tmp_path):
    common = ["--episodes", "2", "--seeds", "0", "--out", str(tmp_path), "--ood", "1"]
    assert cli.main(["compare", "--methods", "inverse", "--task-sets", "evaluation", *common]) == 0
    assert cli.main(["compare", "--methods", "broyden", "--task-sets", "out-of-distribution", "--append",
                     *common]) == 0
    summary = {(r["method"], r["task_set"]) for r in compare.read_summary(tmp_path)}
    assert summary == {("inverse", "evaluation"), ("broyden", "out-of-distribution")}
    assert (tmp_path / "comparison_machine_steps.png").exists()
    with pytest.raises(SystemExit) as stop:  # argparse names the choices, in one line
        cli.main(["compare", "--task-sets", "training", *common])
    assert stop.value.code == 2 and "invalid choice: 'training'" in capsys.readouterr().err


def test_rl2_is_one_registry_entry_scored_as_score_rl2_with_no_machine_steps():
    """The shipped recurrent RL² policy is in the comparison by default (a black box: it adapts
    in its hidden state, 0 machine steps), scored as rl2_policy.score_rl2 scores it, and drawn."""
    from awake_tutorial.runs.rl2_policy import score_rl2
    from awake_tutorial.ui.plotting_compare import plot_steps_vs_machine_steps

    assert methods.RL2 in compare.METHODS and methods.resolve(methods.RL2) == (methods.REGISTRY[methods.RL2], 0)
    task = get_evaluation_task(2)
    rows = compare.compare_methods([task], [methods.RL2], episodes=3, seed=[7, 1007])
    assert [(r["method"], r["task_id"], r["seed"], r["machine_steps"]) for r in rows] == [
        (methods.RL2, task.id, 7, 0), (methods.RL2, task.id, 1007, 0)]
    expected = score_rl2(methods.load_rl2(), [task], episodes=3, seeds=(7, 1007))
    assert [r["lengths"] for r in rows] == [r["lengths"] for r in expected]  # same episodes, same process
    for key in (STEPS, "success_rate", f"sampled_{STEPS}", "sampled_success_rate"):
        assert [r[key] for r in rows] == pytest.approx([r[key] for r in expected]), key
    assert all(1 <= r[STEPS] <= 100 and r[f"sampled_{STEPS}"] is not None for r in rows)
    (summary,) = compare.summarize(rows)
    assert summary["family"] == methods.RL2 and summary["machine_steps"] == 0
    fig = plot_steps_vs_machine_steps([summary])
    assert methods.REGISTRY[methods.RL2].label in [t.get_text() for t in fig.legends[0].get_texts()]
