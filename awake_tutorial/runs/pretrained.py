"""The shipped, pretrained policies in ``data/``: weights + a metadata .json each.

The metadata records how the file was made (config, seed, meta-batches, wall time,
package version) and its sha256, so a learner can trust what they load:
:func:`load_pretrained` checks the hash and the architecture and says what to do
when either does not match. Weights are tensors and plain values (``torch.load`` with
``weights_only=True``): the meta-policy as ``{policy_class, architecture, state_dict}``
(runs/policy_files.py), the older files as a plain state_dict; nothing in ``data/`` is a
pickle of objects.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Mapping

import torch

from awake_tutorial import __version__
from awake_tutorial.atomic import write_json_atomic
from awake_tutorial.config import DEFAULT_CONFIG_FILE, REFERENCE_CONFIG_FILE, load_config
from awake_tutorial.paths import DATA_DIR, REPO_DIR
from awake_tutorial.rl.metalearners import learner_class
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.runs.policy_files import load_policy, save_policy

# "reference": the meta-policy trained with the reference course's configuration
# (configs/reference.yaml), kept so the comparison can show what the changed method buys.
SHIPPED = {"meta": "pretrained_meta_policy.pt", "reference": "reference_meta_policy.pt",
           "ppo": "ppo_task0.zip"}


def file_sha256(path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def metadata_path(path) -> Path:
    """``x.pt`` / ``x.zip`` -> ``x.json``."""
    return Path(path).with_suffix(".json")


def write_metadata(path, info: Mapping) -> Path:
    """Write ``info`` + sha256 of ``path`` + versions beside ``path``, atomically."""
    path = Path(path)
    meta = {**dict(info), "file": path.name, "sha256": file_sha256(path),
            "awake_tutorial_version": __version__, "torch_version": torch.__version__,
            "python_version": platform.python_version()}
    write_json_atomic(metadata_path(path), meta)
    return metadata_path(path)


def check_sha256(path) -> dict:
    """The metadata of ``path`` (empty if it has none); ValueError if the hash differs."""
    meta_file = metadata_path(path)
    if not meta_file.exists():
        return {}
    meta = json.loads(meta_file.read_text())
    expected = meta.get("sha256")
    if expected and expected != file_sha256(path):
        raise ValueError(f"{path} does not match the sha256 in {meta_file}: the file was changed or "
                         "damaged; restore it (git checkout data/) or retrain it.")
    return meta


def resolve(name_or_path) -> Path:
    """A shipped name ("meta", "reference", "ppo") or a path -> an existing file path."""
    path = DATA_DIR / SHIPPED[name_or_path] if name_or_path in SHIPPED else Path(name_or_path)
    if not path.exists():
        raise FileNotFoundError(f"policy file {path} not found; shipped names are {list(SHIPPED)}, "
                                "or pass the path of a file you trained.")
    return path


def export_meta_policy(policy, config, path, num_batches: int, wall_time: float) -> Path:
    """Write a trained meta-policy and its metadata (architecture, config, learned step
    sizes, how long, the command that makes it)."""
    path = save_policy(policy, path)
    config_arg = _config_arguments(config)
    step_sizes = policy.step_sizes(config.fast_lr) if hasattr(policy, "step_sizes") else None  # RL²: none
    write_metadata(path, {
        "kind": f"meta-policy ({learner_class(config.learner).LABEL})",
        "architecture": policy.architecture(),
        "config": asdict(config), "seed": config.seed, "num_batches": int(num_batches),
        "wall_time_s": round(float(wall_time), 1),
        "inner_step_sizes": ({name: float(alpha) for name, alpha in step_sizes.items()}
                             if isinstance(step_sizes, dict) else step_sizes and float(step_sizes)),
        "command": f"awake-tutorial meta-train --config {config_arg} --seed {config.seed} "
                   f"--run-dir runs/pretrained --export data/{path.name}",
    })
    return path


def _config_arguments(config) -> str:
    """``--config`` (and ``--set`` for top-level keys that differ) that give ``config``: the shipped
    config file it differs least from, else "your_config.yaml"."""
    given = config.to_dict()
    for config_file in (DEFAULT_CONFIG_FILE, REFERENCE_CONFIG_FILE):
        base = load_config(config_file, seed=config.seed).to_dict()
        changed = {k: v for k, v in given.items() if v != base[k]}
        if all(not isinstance(v, (dict, list)) for v in changed.values()) and len(changed) <= 3:
            sets = "".join(f" --set {k}={v}" for k, v in changed.items())
            return config_file.relative_to(REPO_DIR).as_posix() + sets
    return "your_config.yaml"


def load_pretrained(name_or_path="meta") -> GaussianMLPPolicy:
    """The shipped meta-policy ("meta"), the reference course's ("reference"), or a policy
    file with its .json metadata, its sha256 and architecture checked against the metadata
    (and its learned inner step sizes, if it has them, loaded with it)."""
    path = resolve(name_or_path)
    meta = check_sha256(path)
    architecture = meta.get("architecture", {})
    return load_policy(path, hidden_sizes=architecture.get("hidden_sizes"),
                       nonlinearity=architecture.get("nonlinearity"))
