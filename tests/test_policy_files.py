"""Policy files (awake_tutorial.runs.policy_files): round trip, safe loading, clear errors;
the rl layer itself writes no file."""

from pathlib import Path

import pytest
import torch

from awake_tutorial.rl.policies import GaussianMLPPolicy
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
    path = save_policy(GaussianMLPPolicy(hidden_sizes=(32, 32), seed=0), tmp_path / "small.pt")
    with pytest.raises(ValueError, match=r"looks like hidden_sizes \[32, 32\]"):
        load_policy(path)
    assert load_policy(path, hidden_sizes=(32, 32)).hidden_sizes == (32, 32)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match="not a policy state_dict"):
        load_policy(tmp_path / "tensor.pt")
    torch.save(policy, tmp_path / "module.pt")  # a pickled module: refused by weights_only
    with pytest.raises(ValueError, match="weights_only"):
        load_policy(tmp_path / "module.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError):
        load_policy(tmp_path / "junk.pt")


def test_the_rl_layer_writes_no_file():
    for path in RL.rglob("*.py"):
        text = path.read_text()
        assert "torch.save" not in text and "awake_tutorial.atomic" not in text, path
