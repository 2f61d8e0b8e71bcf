"""Config: defaults, YAML round trip and clear errors for bad values."""

import dataclasses

import pytest
import yaml

from awake_tutorial.config import DEFAULT_CONFIG_FILE, REFERENCE_CONFIG_FILE, Config, PPOConfig, load_config, save_config


def test_default_file_equals_dataclass_defaults():
    assert load_config() == Config()


def test_reference_defaults():
    c = load_config(REFERENCE_CONFIG_FILE)
    assert (c.gamma, c.gae_lambda, c.first_order, c.hidden_sizes, c.nonlinearity) == (1.0, 0.99, True, (64, 64), "tanh")
    assert (c.fast_batch_size, c.num_steps, c.fast_lr, c.num_batches, c.meta_batch_size) == (16, 4, 0.01, 500, 8)
    assert c.learner == "maml-trpo"
    assert (c.max_kl, c.cg_iters, c.cg_damping, c.ls_max_steps, c.ls_backtrack_ratio) == (1e-3, 80, 1e-5, 100, 0.6)
    assert (c.max_steps, c.seed, c.init_std) == (100, 0, 0.5)
    assert isinstance(c.ppo, PPOConfig)


def test_overrides_and_round_trip(tmp_path):
    c = load_config(None, num_batches=3, fast_lr="1e-2", hidden_sizes=[32, 16], ppo={"seed": 7})
    assert c.num_batches == 3 and c.fast_lr == 0.01 and c.hidden_sizes == (32, 16)
    assert c.ppo.seed == 7 and c.ppo.n_steps == PPOConfig().n_steps  # partial ppo override keeps the rest
    path = save_config(c, tmp_path / "c.yaml")
    assert load_config(path) == c


@pytest.mark.parametrize("key, value, needle", [
    ("fast_lr", -0.1, "> 0"),
    ("fast_lr", 0, "> 0"),
    ("max_kl", 0.0, "> 0"),
    ("max_kl", -1e-3, "> 0"),
    ("fast_batch_size", 0, ">= 1"),
    ("meta_batch_size", 2.5, "integer"),
    ("num_batches", True, "bool"),
    ("gamma", 1.5, "<= 1"),
    ("gae_lambda", "abc", "number"),
    ("ls_backtrack_ratio", 1.0, "< 1"),
    ("cg_damping", float("nan"), ">= 0"),
    ("first_order", "yes", "[True, False]"),
    ("nonlinearity", "sigmoid", "tanh"),
    ("hidden_sizes", [], "non-empty"),
    ("hidden_sizes", [64, 0], "hidden_sizes[1]"),
    ("plane", "diagonal", "horizontal"),
    ("seed", -1, ">= 0"),
])
def test_bad_values_name_key_value_and_range(key, value, needle):
    with pytest.raises(ValueError) as info:
        load_config(**{key: value})
    message = str(info.value)
    assert key.split("[")[0] in message and needle in message
    if not isinstance(value, (list, float)):
        assert repr(value) in message or str(value) in message


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ValueError, match="unknown config key 'fast_lrr'.*did you mean 'fast_lr'"):
        load_config(fast_lrr=0.1)
    with pytest.raises(ValueError, match="did you mean 'fast_batch_size'"):
        Config.from_dict({"fast-batch-size": 16})  # the reference course's spelling
    with pytest.raises(ValueError, match="ppo.n_step"):
        load_config(ppo={"n_step": 10})


def test_bad_ppo_values_and_yaml_files(tmp_path):
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(ppo={"learning_rate": -1})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(bad)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_replace_is_validated_and_second_order_analytic_is_refused():
    with pytest.raises(ValueError, match="max_kl"):
        dataclasses.replace(Config(), max_kl=0)
    with pytest.raises(ValueError, match="fisher_product"):
        Config(first_order=False, fisher_product="analytic")
    assert Config(first_order=False).fisher_product == "auto"


@pytest.mark.parametrize("path", [DEFAULT_CONFIG_FILE, REFERENCE_CONFIG_FILE])
def test_default_and_reference_yaml_have_every_key(path):
    data = yaml.safe_load(path.read_text())
    assert set(data) == {f.name for f in dataclasses.fields(Config)}
    assert set(data["ppo"]) == {f.name for f in dataclasses.fields(PPOConfig)}


def test_default_differs_from_the_reference_only_in_the_marked_settings():
    default, reference = load_config().to_dict(), load_config(REFERENCE_CONFIG_FILE).to_dict()
    changed = {k for k in default if default[k] != reference[k]}
    assert changed == {"num_steps", "meta_batch_size", "learner", "inner_weighting", "max_kl", "cg_iters",
                       "adapted_std", "zero_shot_weight", "inner_max_kl", "stable_adaptation", "train_scale_range",
                       "train_bpm_noise", "meta_batch_shards"}
    text = DEFAULT_CONFIG_FILE.read_text()
    assert all("changed" in line for k in changed for line in text.splitlines() if line.startswith(f"{k}:"))


def test_a_removed_key_says_it_was_removed(tmp_path):
    """Older run folders hold ``device: cpu``: the message names the key and the fix."""
    path = tmp_path / "old.yaml"
    path.write_text("device: cpu\n")
    with pytest.raises(ValueError, match="'device' was removed.*delete that line"):
        load_config(path)


def test_save_config_is_atomic_and_round_trips(tmp_path):
    config = Config(seed=7, fast_path=False)
    path = save_config(config, tmp_path / "c.yaml")
    assert load_config(path) == config and [p.name for p in tmp_path.iterdir()] == ["c.yaml"]


def test_the_config_s_nonlinearities_are_the_policy_s():
    from awake_tutorial.config import NONLINEARITY_NAMES
    from awake_tutorial.rl.policies import NONLINEARITIES

    assert tuple(NONLINEARITIES) == NONLINEARITY_NAMES


# --- the learner key (issue 22): a name of the registry, migrated from the old boolean meta_sgd ---


@pytest.mark.parametrize("old, new", [(True, "meta-sgd-trpo"), (False, "maml-trpo")])
def test_an_old_run_folder_s_meta_sgd_is_read_as_its_learner(tmp_path, old, new):
    """config.yaml files written before the `learner` key (run folders, data/*.json) still load."""
    data = load_config().to_dict()
    del data["learner"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**data, "meta_sgd": old}))
    assert load_config(path).learner == new
    assert Config.from_dict({"meta_sgd": old}).learner == new
    assert load_config(meta_sgd=old).learner == new  # an override, over awake.yaml's learner


def test_bad_learner_values_are_clear():
    from awake_tutorial.rl.metalearners import LEARNERS, learner_class

    with pytest.raises(ValueError, match="both given"):
        Config.from_dict({"meta_sgd": True, "learner": "maml-trpo"})
    with pytest.raises(ValueError, match="meta_sgd.*learner"):
        Config.from_dict({"meta_sgd": "yes"})
    with pytest.raises(ValueError, match="'learner'"):
        load_config(learner="MAML TRPO")
    with pytest.raises(ValueError, match="allowed: one of.*maml-trpo"):  # a name the registry does not know
        learner_class(load_config(learner="reptile").learner)
    assert {load_config().learner, load_config(REFERENCE_CONFIG_FILE).learner} <= set(LEARNERS)


def test_the_shipped_metadata_names_its_learner():
    """data/*.json record the learner by name (rewritten from meta_sgd; the weights untouched)."""
    import json

    from awake_tutorial.paths import DATA_DIR
    from awake_tutorial.runs.pretrained import check_sha256

    for name, learner in (("pretrained_meta_policy", "meta-sgd-trpo"), ("reference_meta_policy", "maml-trpo")):
        meta = json.loads((DATA_DIR / f"{name}.json").read_text())
        assert "meta_sgd" not in meta["config"] and Config.from_dict(meta["config"]).learner == learner
        check_sha256(DATA_DIR / f"{name}.pt")  # the weights are the ones the metadata describes


def test_the_rl2_section_is_validated_like_ppo():
    """RL² training reads the config's rl2 section (formerly the unvalidated RL2Settings)."""
    from awake_tutorial.config import RL2Config

    assert load_config().rl2 == RL2Config() and load_config(rl2={"iterations": 3}).rl2.iterations == 3
    assert load_config(rl2={"iterations": 3}).rl2.hidden_size == 64  # a partial override keeps the rest
    with pytest.raises(ValueError, match="'max_kl'.*allowed"):
        RL2Config(max_kl=0)
    with pytest.raises(ValueError, match="unknown config key 'rl2.hiden_size'.*hidden_size"):
        load_config(rl2={"hiden_size": 8})
