"""The recurrent (RL²) meta-policy: what it sees, how it acts, how it learns, the shipped file."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from awake_tutorial.envs import AwakeSteeringVectorEnv
from awake_tutorial.envs.dynamics import rescale
from awake_tutorial.physics.tasks import get_evaluation_task, load_evaluation_tasks, sample_tasks
from awake_tutorial.rl.recurrent import FEATURES, GaussianGRUPolicy, features
from awake_tutorial.runs import pretrained
from awake_tutorial.runs.compare import FIELDS, heldout_tasks
from awake_tutorial.config import RL2Config
from awake_tutorial.runs.rl2 import rollout, train
from awake_tutorial.runs.training import INIT, seed_for
from awake_tutorial.runs.rl2_policy import load_rl2, save_rl2, score_rl2, summary_of

DATA = Path(__file__).resolve().parents[1] / "data"


def test_inputs_are_reading_change_and_applied_previous_action():
    obs = np.random.default_rng(0).normal(size=(3, 2, 10)).astype(np.float32)
    actions = np.random.default_rng(1).normal(size=(3, 2, 10)) * 2  # some rows need rescaling
    x = features(obs, actions)
    assert x.shape == (2, 3, FEATURES)
    np.testing.assert_array_equal(x[:, 0, 10:].numpy(), 0)  # first step: no change, no previous action
    np.testing.assert_allclose(x[:, 2, :10].numpy(), obs[2].astype(np.float32))
    np.testing.assert_allclose(x[:, 2, 10:20].numpy(), obs[2] - obs[1], rtol=1e-6)
    np.testing.assert_allclose(x[:, 2, 20:].numpy(), rescale(actions[1]), rtol=1e-6)


def test_acting_step_by_step_equals_the_sequence_the_learner_scores():
    """The actor (hidden state carried per row) and the training loss (GRU over the whole
    episode, padding skipped) see the same inputs and give the same means."""
    policy = GaussianGRUPolicy(seed=3)
    envs = AwakeSteeringVectorEnv([get_evaluation_task(2)] * 6)
    actor = policy.actor(deterministic=True)
    run = envs.run_episodes(actor.act, seed=5)
    x = features(run.observations, run.actions)
    lengths = torch.as_tensor(run.alive.sum(0))
    means = policy.sequence_means(x, lengths).detach().numpy()
    for i, n in enumerate(run.lengths):
        np.testing.assert_allclose(means[i, :n], run.actions[:n, i], atol=1e-5)
    np.testing.assert_allclose(policy.sequence_means(x).detach().numpy()[0, :run.lengths[0]],
                               means[0, :run.lengths[0]], atol=1e-5)


def test_hidden_state_carries_information_over_the_episode():
    policy = GaussianGRUPolicy(seed=0)
    obs = np.full((1, 10), 0.2, dtype=np.float32)
    actor = policy.actor()
    first = actor.act(obs)
    second = actor.act(obs)  # same reading, other history
    actor.reset()
    np.testing.assert_allclose(actor.act(obs), first)  # reset forgets
    assert not np.allclose(first, second)


def test_training_improves_the_policy_and_is_seeded():
    settings = RL2Config(iterations=15, meta_batch_size=8, episodes_per_task=8, fisher_episodes=16, seed=1)
    policy, records = train(settings)
    again, records_again = train(RL2Config(**{**settings.__dict__, "iterations": 2}))
    assert [r["score"] for r in records[:2]] == [r["score"] for r in records_again]  # seeded
    initial = GaussianGRUPolicy(settings.hidden_size, settings.init_std, seed=seed_for(settings.seed, INIT))
    tasks = load_evaluation_tasks()
    before, after = (summary_of(score_rl2(p, tasks, episodes=10, seeds=(0,)))["steps"] for p in (initial, policy))
    # measured (seeds 1, 2): 99.0 / 95.0 steps before (the first actions are tiny), 63.6 / 66.4 after
    assert after < 0.8 * before, (before, after)


def test_rollout_layout_groups_episodes_by_task():
    tasks = sample_tasks(3, seed=0)
    x, batch = rollout(GaussianGRUPolicy(seed=0), tasks, 4, seed=7, max_steps=5)
    assert x.shape[0] == 12 and batch.mask.shape[::2] == (3, 4) and batch.observations.shape[-1] == FEATURES
    # episode j of task k is row k * 4 + j of x
    np.testing.assert_array_equal(batch.observations[1, :, 2].numpy(), x[6].numpy())


def test_save_load_round_trip_checks_sha_and_refuses_pickles(tmp_path):
    policy = GaussianGRUPolicy(hidden_size=16, seed=2)
    path = save_rl2(policy, tmp_path / "p.pt", {"kind": "test"})
    loaded = load_rl2(path)
    assert loaded.hidden_size == 16
    for name, value in policy.state_dict().items():
        torch.testing.assert_close(value, loaded.state_dict()[name])
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match="sha256"):
        load_rl2(path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(pickle.dumps(object()))
    with pytest.raises(ValueError, match="weights_only"):
        load_rl2(bad)
    with pytest.raises(FileNotFoundError, match="runs.rl2"):
        load_rl2(tmp_path / "missing.pt")


def test_scores_have_the_comparisons_layout_and_cost_no_machine_steps():
    rows = score_rl2(GaussianGRUPolicy(seed=0), [get_evaluation_task(0)], "evaluation", episodes=4, seeds=(0, 1000))
    assert len(rows) == 2 and all(set(FIELDS) <= set(r) for r in rows)
    assert {r["machine_steps"] for r in rows} == {0} and {r["method"] for r in rows} == {"rl2"}
    assert summary_of(rows)["steps"] == pytest.approx(np.mean([r["steps_failed_as_max"] for r in rows]))


def test_shipped_rl2_policy_metadata_and_quality():
    meta = json.loads((DATA / "rl2_meta_policy.json").read_text())
    assert meta["sha256"] == pretrained.file_sha256(DATA / "rl2_meta_policy.pt")
    assert meta["command"] == "python -m awake_tutorial.runs.rl2 --export data/rl2_meta_policy.pt"
    assert meta["settings"] == {**RL2Config().__dict__}
    policy = load_rl2()
    # measured (data/rl2_meta_policy.json, 4 seeds x 100 episodes): held-out ~2.9 steps,
    # >= 99.8 % success; here 8 held-out tasks x 25 episodes, one seed: well inside 4.0 / 99 %
    summary = summary_of(score_rl2(policy, heldout_tasks()[:8], "held-out", episodes=25, seeds=(0,)))
    assert summary["steps"] < 4.0 and summary["success"] >= 0.99, summary


def test_rl2_is_a_registered_learner_meta_train_runs_and_its_folder_reloads(tmp_path):
    """learner: rl2-trpo in the config is all it takes (with meta_batch_shards: 1, its meta-batch runs in one
    process; runs/shards.py splits the MAML family's): meta_train builds the GRU policy, samples
    through the course's sampler (the policy hands it its recurrent actor) and saves a policy file
    that load_policy rebuilds as a GaussianGRUPolicy without being told."""
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.folders import POLICY_FILE
    from awake_tutorial.runs.policy_files import load_policy
    from awake_tutorial.runs.training import adapt, meta_train

    tasks = load_evaluation_tasks()
    source = lambda n, seed: [tasks[i % len(tasks)] for i in range(seed % 5, seed % 5 + n)]  # noqa: E731
    config = load_config(learner="rl2-trpo", num_batches=2, meta_batch_size=2, fast_batch_size=4, max_steps=15,
                         meta_batch_shards=1, rl2={"hidden_size": 8, "fisher_episodes": 4, "cg_iters": 3})
    result = meta_train(config, run_dir=tmp_path / "run", task_source=source)
    assert isinstance(result.policy, GaussianGRUPolicy) and result.policy.hidden_size == 8
    assert len(result.records) == 2 and all(r["kl"] <= 0.01 * 1.5 + 1e-9 for r in result.records)
    loaded = load_policy(tmp_path / "run" / POLICY_FILE, config=config)
    assert isinstance(loaded, GaussianGRUPolicy)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in result.policy.state_dict().items())
    pretrained.export_meta_policy(result.policy, config, tmp_path / "rl2.pt", 2, 1.0)  # as `meta-train --export`
    assert isinstance(pretrained.load_pretrained(tmp_path / "rl2.pt"), GaussianGRUPolicy)
    assert json.loads((tmp_path / "rl2.json").read_text())["kind"] == "meta-policy (RL²-TRPO)"
    again = meta_train(config, task_source=source)  # seeded: the same run again
    assert all(torch.equal(v, again.policy.state_dict()[k]) for k, v in result.policy.state_dict().items())
    with pytest.raises(ValueError, match="hidden state"):
        adapt(result.policy, tasks[:1], 1, config)
