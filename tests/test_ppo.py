"""PPO baseline helpers: seeded training, progress records, deterministic policy, files."""

import json

import numpy as np
import pytest
import torch

from awake_tutorial.envs import evaluate
from awake_tutorial.config import PPOConfig, load_config
from awake_tutorial.ui.dashboard import PPODashboard
from awake_tutorial.runs.ppo import load_ppo, ppo_policy, save_ppo, train_ppo

TINY = PPOConfig(total_timesteps=512, n_steps=128, batch_size=64, n_epochs=2, seed=3)


@pytest.fixture(scope="module")
def tiny_model():
    return train_ppo(0, TINY)


def weights(model):
    return [p.detach().clone() for p in model.policy.parameters()]


def test_records_after_every_rollout_and_global_rng_untouched():
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    records = []
    train_ppo(1, TINY, callback=records.append)
    assert [r["timesteps"] for r in records] == [128, 256, 384, 512]
    for r in records:
        assert r["kind"] == "ppo" and r["task_id"] == 1 and r["total_timesteps"] == 512
        assert r["episodes"] >= 1 and 1 <= r["mean_length"] <= 100 and 0 <= r["success_rate"] <= 1
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_same_seed_same_model(tiny_model):
    again = train_ppo(0, TINY)
    for a, b in zip(weights(tiny_model), weights(again)):
        assert torch.equal(a, b)
    other = train_ppo(0, PPOConfig(**{**vars(TINY), "seed": 4}))
    assert not all(torch.equal(a, b) for a, b in zip(weights(tiny_model), weights(other)))


def test_callback_returning_true_stops_after_the_rollout():
    records = []
    model = train_ppo(0, TINY, callback=lambda r: records.append(r) or True)
    assert len(records) == 1 and model.num_timesteps <= 128 + 1


def test_dashboard_is_a_ppo_callback():
    board = PPODashboard(TINY.total_timesteps)
    train_ppo(0, TINY, callback=board)
    assert board.progress.value == 512 and len(board.records) == 4


def test_full_config_gives_env_settings_and_budget_override():
    config = load_config(max_steps=5, ppo=vars(TINY))
    records = []
    train_ppo(0, config, callback=records.append, total_timesteps=256)
    assert records[-1]["timesteps"] == 256
    assert all(r["mean_length"] <= 5 for r in records)  # the env's time limit came from config
    with pytest.raises(TypeError, match="Config or PPOConfig"):
        train_ppo(0, {"total_timesteps": 10})


def test_policy_is_deterministic_and_uses_predict_deterministic(tiny_model, monkeypatch):
    calls = []
    predict = tiny_model.predict
    monkeypatch.setattr(tiny_model, "predict", lambda obs, **kw: calls.append(kw) or predict(obs, **kw))
    policy = ppo_policy(tiny_model)
    first = evaluate(policy, [0, 2], episodes=8, seed=5, max_steps=20)
    second = evaluate(policy, [0, 2], episodes=8, seed=5, max_steps=20)
    assert first == second
    assert calls and all(kw.get("deterministic") is True for kw in calls)
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 10)).astype(np.float32)
    mean = tiny_model.policy.get_distribution(torch.as_tensor(obs)).distribution.mean
    np.testing.assert_allclose(policy(obs), np.clip(mean.detach().numpy(), -1, 1), atol=1e-6)


def test_save_load_roundtrip_with_checksum(tiny_model, tmp_path):
    path = save_ppo(tiny_model, tmp_path / "models" / "ppo_task0", {"task_id": 0})
    assert path.name == "ppo_task0.zip"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["task_id"] == 0 and len(meta["sha256"]) == 64 and meta["num_timesteps"] == 512
    obs = np.full((3, 10), 0.3, dtype=np.float32)
    np.testing.assert_array_equal(ppo_policy(load_ppo(path))(obs), ppo_policy(tiny_model)(obs))
    with open(path, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_ppo(path)
    with pytest.raises(FileNotFoundError, match="awake-tutorial ppo --train"):
        load_ppo(tmp_path / "missing.zip")


@pytest.mark.slow
def test_ppo_with_the_course_budget_solves_its_task():
    """The course's PPO budget (config.ppo, 50k steps, about a minute) solves task 0."""
    config = load_config()
    model = train_ppo(0, config)
    (result,) = evaluate(ppo_policy(model), [0], episodes=100, seed=0)
    assert result["success_rate"] >= 0.95 and result["mean_length"] < 10
