"""The shipped files in data/: safe formats, intact, and as good as the README says."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from awake_tutorial.runs import compare, pretrained
from awake_tutorial.envs import evaluate
from awake_tutorial.config import REFERENCE_CONFIG_FILE, Config, load_config
from awake_tutorial.runs.pretrained import load_pretrained
from awake_tutorial.runs.ppo import load_ppo, ppo_policy
from awake_tutorial.physics.tasks import get_evaluation_task
from awake_tutorial.runs.training import adapt
from awake_tutorial.ui.plotting_compare import save_comparison_figures

DATA = Path(__file__).resolve().parents[1] / "data"


def test_meta_policy_loads_matches_its_sha256_and_metadata():
    meta = json.loads((DATA / "pretrained_meta_policy.json").read_text())
    assert meta["sha256"] == pretrained.file_sha256(DATA / "pretrained_meta_policy.pt")
    assert meta["num_batches"] == 500 and meta["seed"] == 0 and meta["config"]["num_batches"] == 500
    saved = torch.load(DATA / "pretrained_meta_policy.pt", weights_only=True)  # rl.policy_registry's file format
    assert saved["policy_class"] == "GaussianMLPPolicy" and saved["architecture"]["hidden_sizes"] == [64, 64]
    state = saved["state_dict"]
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    policy = load_pretrained("meta")
    assert list(policy.hidden_sizes) == meta["architecture"]["hidden_sizes"]
    # made by the documented command with the default config (Meta-SGD), in one process (trained before
    # meta-batches were split over processes: runs/shards.py) ...
    config = load_config(seed=0, meta_batch_shards=1)
    assert Config.from_dict(meta["config"]) == config and meta["kind"] == "meta-policy (Meta-SGD-TRPO)"
    assert meta["command"] == ("awake-tutorial meta-train --config awake_tutorial/configs/awake.yaml --set "
                               "meta_batch_shards=1 --seed 0 --run-dir runs/pretrained --export data/pretrained_meta_policy.pt")
    assert pretrained._config_arguments(config) in meta["command"]  # what export_meta_policy writes
    # ... and its learned step sizes are in the file, loaded, and what adapt uses
    assert state["log_step_sizes"].shape == (len(policy.params()),)
    sizes = policy.step_sizes(load_config().fast_lr)
    assert {n: pytest.approx(float(a), rel=1e-6) for n, a in sizes.items()} == meta["inner_step_sizes"]


def test_shipped_step_sizes_are_used_by_the_public_adapt():
    # all five evaluation tasks: on a task the policy solves in one step, adaptation measures
    # no response and takes no step (runs/stability.py), with either step size
    config, tasks = load_config(), [get_evaluation_task(i) for i in range(5)]
    learned = adapt(load_pretrained("meta"), tasks, 1, config, seed=0).policies
    fixed = adapt(load_pretrained("meta").set_step_sizes(None), tasks, 1, config, seed=0).policies
    assert any(not torch.allclose(a.params()["layers.0.weight"], b.params()["layers.0.weight"])
               for a, b in zip(learned, fixed))


def test_reference_policy_is_the_reference_configs_maml_policy():
    meta = json.loads((DATA / "reference_meta_policy.json").read_text())
    assert meta["sha256"] == pretrained.file_sha256(DATA / "reference_meta_policy.pt")
    assert Config.from_dict(meta["config"]) == load_config(REFERENCE_CONFIG_FILE)
    policy = load_pretrained("reference")
    assert policy.log_step_sizes is None and policy.step_sizes(0.01) == 0.01  # MAML: fixed fast_lr


def test_meta_policy_reaches_the_threshold_without_adaptation():
    policy = load_pretrained("meta").as_numpy_policy(deterministic=True)
    results = evaluate(policy, [get_evaluation_task(0), get_evaluation_task(3)], episodes=50, seed=123)
    assert all(r["success_rate"] >= 0.95 for r in results), results


def test_meta_policy_mean_action_after_one_adaptation_batch():
    # benchmarks/meta_training.py --quality measured, over 8 adaptation seeds on the 5
    # evaluation tasks: 2.16 steps (per seed 2.04-2.30), 100 % success (docs/results/quality_meta.json).
    # Thresholds with margin: adaptation is noisy and float sums differ across CPUs; the
    # policy shipped before the no-cycle work (5.4 steps held-out zero-shot) would fail them.
    config, tasks = load_config(), [get_evaluation_task(i) for i in range(5)]
    results = []
    for seed in (0, 1):
        for task, policy in zip(tasks, adapt(load_pretrained("meta"), tasks, 1, config, seed=seed).policies):
            results += evaluate(policy.as_numpy_policy(deterministic=True), [task], episodes=20, seed=1)
    assert np.mean([r["success_rate"] for r in results]) >= 0.99, results
    assert np.mean([r["mean_length"] for r in results]) <= 3.0, results


def test_damaged_or_foreign_files_are_refused(tmp_path):
    weights = tmp_path / "p.pt"
    weights.write_bytes((DATA / "pretrained_meta_policy.pt").read_bytes())
    meta = json.loads((DATA / "pretrained_meta_policy.json").read_text())
    meta["sha256"] = "0" * 64
    (tmp_path / "p.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        load_pretrained(weights)
    meta["sha256"] = pretrained.file_sha256(weights)
    meta["architecture"]["hidden_sizes"] = [32, 32]
    (tmp_path / "p.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="hidden_sizes"):
        load_pretrained(weights)
    with pytest.raises(FileNotFoundError, match="shipped names"):
        load_pretrained(tmp_path / "missing.pt")


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_pickle_carrying_code_is_not_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"layers.0.weight": Evil()}, path)
    with pytest.raises(ValueError, match="weights_only"):
        load_pretrained(path)


def test_ppo_file_holds_no_pickled_objects_and_solves_task_0():
    with zipfile.ZipFile(DATA / "ppo_task0.zip") as archive:
        data = json.loads(archive.read("data"))
    assert not [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    model = load_ppo("ppo")
    result = evaluate(ppo_policy(model), [get_evaluation_task(0)], episodes=20, seed=5)[0]
    # >= 19 of 20, not 20: a shipped network run on another CPU may land an episode on the
    # other side of the 1 mm threshold (last-bit differences; see tests/tolerances.py)
    assert result["success_rate"] >= 0.95


def test_no_pickle_anywhere_in_data():
    for path in DATA.iterdir():
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                [z[k] for k in z.files]  # raises on object arrays
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert path.suffix == ".zip", f"unexpected file in data/: {path.name}"


def test_comparison_quick_run_gives_a_well_formed_table(tmp_path):
    config = load_config()
    tasks = [get_evaluation_task(1)] + compare.heldout_tasks(1)
    rows = compare.compare_methods(tasks, ["inverse", "fewest-steps", "meta-0", "meta-1"], episodes=4,
                                   meta_policy=load_pretrained("meta"), config=config)
    assert len(rows) == 8 and all(set(r) == {*compare.FIELDS, "lengths"} for r in rows)
    paths = {**compare.write_results(rows, tmp_path), **save_comparison_figures(compare.summarize(rows), tmp_path)}
    summary = json.loads(paths["json"].read_text())["summary"]
    fewest = [s for s in summary if s["method"] == "fewest-steps"][0]
    assert fewest["steps_over_fewest"] == 1.0
    assert all(s["steps_over_fewest"] >= 1.0 for s in summary)
    assert paths["csv"].read_text().splitlines()[0] == ",".join(compare.FIELDS)
    assert paths["png"].stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown method"):
        compare.compare_methods(tasks, ["genius"])
    with pytest.raises(ValueError, match="meta_policy"):
        compare.compare_methods(tasks, ["meta-1"])
