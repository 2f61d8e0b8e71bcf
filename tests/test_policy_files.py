"""Policy files (awake_tutorial.runs.policy_files): round trip, safe loading, clear errors;
the rl layer itself writes no file."""

from pathlib import Path

import pytest
import torch

from awake_tutorial.paths import DATA_DIR
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.rl.recurrent import GaussianGRUPolicy
from awake_tutorial.runs.policy_files import load_policy, save_policy

RL = Path(__file__).resolve().parents[1] / "awake_tutorial" / "rl"


@pytest.fixture
def policy():
    return GaussianMLPPolicy(seed=0)


def test_save_load_round_trip(policy, tmp_path):
    path = save_policy(policy, tmp_path / "sub" / "p.pt")
    assert [p.name for p in path.parent.iterdir()] == ["p.pt"]  # no temp file left behind
    loaded = load_policy(path)
    for k, v in policy.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert isinstance(torch.load(path, weights_only=True), dict)


def test_load_errors(policy, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_policy(tmp_path / "missing.pt")
    small = GaussianMLPPolicy(hidden_sizes=(32, 32), seed=0)
    path = save_policy(small, tmp_path / "small.pt")  # records its architecture: loads without being told
    assert load_policy(path).hidden_sizes == (32, 32)
    with pytest.raises(ValueError, match=r"hidden_sizes \[32, 32\], not \[64, 64\]"):
        load_policy(path, hidden_sizes=(64, 64))  # the caller expected another architecture
    torch.save(small.state_dict(), tmp_path / "old.pt")  # an older file: a plain state_dict
    with pytest.raises(ValueError, match=r"looks like hidden_sizes \[32, 32\]"):
        load_policy(tmp_path / "old.pt")
    assert load_policy(tmp_path / "old.pt", hidden_sizes=(32, 32)).hidden_sizes == (32, 32)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match="not a policy state_dict"):
        load_policy(tmp_path / "tensor.pt")
    torch.save(policy, tmp_path / "module.pt")  # a pickled module: refused by weights_only
    with pytest.raises(ValueError, match="weights_only"):
        load_policy(tmp_path / "module.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError):
        load_policy(tmp_path / "junk.pt")


@pytest.mark.parametrize("make", [lambda: GaussianMLPPolicy(hidden_sizes=(16,), nonlinearity="relu", seed=1),
                                  lambda: GaussianMLPPolicy(seed=2).set_step_sizes(-3.0),
                                  lambda: GaussianGRUPolicy(hidden_size=8, seed=3)], ids=["mlp", "meta-sgd", "gru"])
def test_a_policy_file_records_its_class_and_architecture(make, tmp_path):
    """load_policy rebuilds the right class from the file alone (rl/policy_registry.py)."""
    policy = make()
    path = save_policy(policy, tmp_path / "p.pt")
    content = torch.load(path, weights_only=True)
    assert content["policy_class"] == type(policy).__name__ and content["architecture"] == policy.architecture()
    loaded = load_policy(path)
    assert type(loaded) is type(policy) and loaded.architecture() == policy.architecture()
    assert policy.state_dict().keys() == loaded.state_dict().keys()
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in policy.state_dict().items())


def test_older_plain_state_dict_files_still_load(policy, tmp_path):
    """Files written before the class was recorded (older run folders, the shipped reference
    policy) load as before; the reshipped meta-policy is in the new format."""
    assert "policy_class" not in torch.load(DATA_DIR / "reference_meta_policy.pt", weights_only=True)
    assert "policy_class" in torch.load(DATA_DIR / "pretrained_meta_policy.pt", weights_only=True)
    assert load_policy(DATA_DIR / "reference_meta_policy.pt").architecture()["hidden_sizes"] == [64, 64]
    policy.set_step_sizes(-4.0)
    torch.save(policy.state_dict(), tmp_path / "old.pt")
    loaded = load_policy(tmp_path / "old.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in policy.state_dict().items())
    with pytest.raises(ValueError, match="unknown policy class"):
        torch.save({"policy_class": "Transformer", "architecture": {}, "state_dict": {}}, tmp_path / "x.pt")
        load_policy(tmp_path / "x.pt")


def test_the_rl_layer_writes_no_file():
    for path in RL.rglob("*.py"):
        text = path.read_text()
        assert "torch.save" not in text and "awake_tutorial.atomic" not in text, path
