"""Settings of meta-training (and of the PPO comparison) as validated dataclasses.

``load_config(path=None, **overrides)`` reads ``awake_tutorial/configs/awake.yaml`` (or
``path``), applies the overrides and checks every value: an unknown key, a wrong type or
a value out of range raises ValueError naming the key, the value and what is allowed.
Keys are the field names below (snake_case). The dataclasses are frozen; change a
setting with ``dataclasses.replace(config, fast_lr=0.05)`` (validated again).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from awake_tutorial.atomic import write_text_atomic
from awake_tutorial.config_rules import BOOL, FRACTION, POSITIVE, Choice, Int, IntList, Name, Names, Real, ScaleRange
from awake_tutorial.paths import PACKAGE_DIR

DEFAULT_CONFIG_FILE = PACKAGE_DIR / "configs" / "awake.yaml"  # the course's method (Meta-SGD)
REFERENCE_CONFIG_FILE = PACKAGE_DIR / "configs" / "reference.yaml"  # the reference course's MAML

# choices of config keys that the layers below share, defined once here (the foundation)
PLANES = ("horizontal", "vertical")  # the transverse planes: envs.steering, machine.line
NONLINEARITY_NAMES = ("tanh", "relu")  # the policy's hidden layers (their functions: rl.policies.NONLINEARITIES)


def _validate(instance, rules: Mapping[str, Any]) -> None:
    for f in dataclasses.fields(instance):
        if f.name in rules:
            object.__setattr__(instance, f.name, rules[f.name].check(f.name, getattr(instance, f.name)))


def _from_mapping(cls, data: Mapping[str, Any], section: str = ""):
    """Build ``cls`` from a mapping, rejecting unknown keys with a suggestion."""
    if not isinstance(data, Mapping):
        raise ValueError(f"config section '{section or 'top level'}' must be a mapping, got {data!r}.")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key in REMOVED_KEYS:
            raise ValueError(f"config key '{section}{key}' was removed: {REMOVED_KEYS[key]}; delete that line.")
        if key not in names:
            guess = difflib.get_close_matches(str(key).replace("-", "_"), names, n=1)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            raise ValueError(f"unknown config key '{section}{key}'{hint} Known keys: {names}.")
    return cls(**data)


# --- the configs ---------------------------------------------------------------------------

REMOVED_KEYS = {"device": "the course runs on the CPU, and nothing read this key"}  # in older run folders
# keys of older run folders' config.yaml and data/*.json, read as their successors: old key -> (new key, {old: new})
RENAMED_KEYS = {"meta_sgd": ("learner", {True: "meta-sgd-trpo", False: "maml-trpo"})}


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with the keys of :data:`RENAMED_KEYS` replaced by their successors
    (``meta_sgd: true`` -> ``learner: meta-sgd-trpo``, ``false`` -> ``maml-trpo``)."""
    data = dict(data)
    for old, (new, values) in RENAMED_KEYS.items():
        if old not in data:
            continue
        if new in data:
            raise ValueError(f"config keys '{old}' and '{new}' both given; '{old}' is the old name of "
                             f"'{new}': delete the '{old}' line.")
        value = data.pop(old)
        if value not in values or not isinstance(value, bool):
            raise ValueError(f"config key '{old}' (now '{new}'): got {value!r}, allowed: one of "
                             f"{list(values)}; better, write '{new}:' instead.")
        data[new] = values[value]
    return data


class Section:
    """A group of config keys checked on construction: ``RULES`` maps each key to its rule."""

    RULES: Mapping[str, Any] = {}

    def __post_init__(self):
        _validate(self, self.RULES)


@dataclass(frozen=True)
class PPOConfig(Section):
    """stable-baselines3 PPO settings for the single-task comparison (SB3 defaults)."""

    total_timesteps: int = 50_000
    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    seed: int = 0

    RULES = {"total_timesteps": Int(1), "learning_rate": POSITIVE, "n_steps": Int(1), "batch_size": Int(1),
             "n_epochs": Int(1), "gamma": FRACTION, "gae_lambda": FRACTION,
             "clip_range": POSITIVE, "ent_coef": Real(0), "seed": Int(0)}


@dataclass(frozen=True)
class RL2Config(Section):
    """What RL² training reads (``runs/rl2.py``, the recurrent GaussianGRUPolicy). Units: steps, episodes, nats."""

    iterations: int = 400
    meta_batch_size: int = 16  # tasks per iteration
    episodes_per_task: int = 16
    hidden_size: int = 64
    init_std: float = 0.5
    gamma: float = 1.0
    gae_lambda: float = 0.99
    max_kl: float = 0.01
    cg_iters: int = 10
    cg_damping: float = 1e-3
    fisher_episodes: int = 64  # episodes the KL Hessian is estimated on
    max_steps: int = 100
    seed: int = 0
    num_threads: int = 1

    RULES = {"iterations": Int(1), "meta_batch_size": Int(1), "episodes_per_task": Int(1), "hidden_size": Int(1),
             "init_std": POSITIVE, "gamma": FRACTION, "gae_lambda": FRACTION, "max_kl": POSITIVE, "cg_iters": Int(1),
             "cg_damping": Real(0), "fisher_episodes": Int(1), "max_steps": Int(1), "seed": Int(0),
             "num_threads": Int(0)}


@dataclass(frozen=True)
class TaskDistributionConfig(Section):
    """The keys of a task distribution; what they mean: ``physics.tasks.TaskDistribution``."""

    scale_low: float = 0.75  # each knob scaled by U(scale_low, scale_high)
    scale_high: float = 1.25
    knobs: tuple = ()  # the knobs that vary ([] = all)
    lattice: str = "default"
    outside_low: float = 0.0  # if < outside_high: every task has a knob outside [outside_low, outside_high]
    outside_high: float = 0.0
    dead_bpms: int = 0  # per task
    miscalibrated_correctors: int = 0  # per task, each off by +- calibration_error
    calibration_error: float = 0.2
    bpm_noise: float = 0.0  # mm, of the envs that score the set

    RULES = {"scale_low": POSITIVE, "scale_high": POSITIVE, "knobs": Names(), "lattice": Choice(("default",)),
             "outside_low": Real(0), "outside_high": Real(0), "dead_bpms": Int(0), "miscalibrated_correctors": Int(0),
             "calibration_error": Real(0, 1, high_open=True), "bpm_noise": Real(0)}

    def __post_init__(self):
        super().__post_init__()
        if self.scale_low > self.scale_high:
            raise ValueError(f"config keys scale_low={self.scale_low} > scale_high={self.scale_high}; swap them.")


OOD_TASKS = {"scale_low": 0.6, "scale_high": 1.4, "outside_low": 0.75, "outside_high": 1.25, "dead_bpms": 1,
             "miscalibrated_correctors": 1, "calibration_error": 0.2, "bpm_noise": 0.1}


@dataclass(frozen=True)
class Config:
    """Meta-training settings; the defaults are the course's ``configs/awake.yaml``
    (Meta-SGD-TRPO). The reference course's MAML-TRPO is ``configs/reference.yaml``; the
    settings that differ are marked "changed" in awake.yaml.

    Units: ``max_steps`` in env steps, ``fast_lr`` per inner step, ``max_kl`` in nats.
    """

    # returns and advantages
    gamma: float = 1.0
    gae_lambda: float = 0.99
    # policy network
    hidden_sizes: tuple = (64, 64)
    nonlinearity: str = "tanh"
    init_std: float = 0.5
    # inner loop (adaptation)
    first_order: bool = True
    fast_batch_size: int = 16  # episodes per task and inner step
    num_steps: int = 1  # inner steps
    fast_lr: float = 0.01  # inner step size (Meta-SGD: the initial one)
    learner: str = "meta-sgd-trpo"  # the meta-learner, by name (rl/metalearners/registry.py); Meta-SGD learns
    # one inner step size per parameter tensor
    inner_weighting: str = "sum"  # inner REINFORCE loss: "mean" or "sum" over each episode's steps
    inner_max_kl: float = 1.0  # > 0: trust region (nats) on each inner step, rl/metalearners/inner_bound.py
    stable_adaptation: bool = True  # adapt(): backtrack a step that would make the loop overshoot (runs/stability.py)
    # outer loop (TRPO)
    num_batches: int = 500
    meta_batch_size: int = 16  # tasks per meta-batch
    meta_batch_shards: int = 2  # parts of each meta-batch's tasks, each in its own process (runs/shards.py; 1: one
    # process). The numbers depend on this count (the order of the sums), not on the machine's cores
    max_kl: float = 3e-2
    cg_iters: int = 20
    cg_damping: float = 1e-5
    cg_residual_tol: float = 1e-10
    fisher_product: str = "auto"  # "auto" | "analytic" | "double_backward", see metalearners.maml_trpo
    fisher_max_samples: int = 64  # analytic Fisher only: at most this many steps per task (0 = all)
    adapted_std: float = 0.1  # > 0: the outer loss scores the adapted policy with this std (0: its own)
    zero_shot_weight: float = 1.0  # weight of the unadapted policy's loss in the meta-objective
    ls_max_steps: int = 100
    ls_backtrack_ratio: float = 0.6
    fast_path: bool = True  # the speed-tuned maths of rl/fast (same results to float rounding, ~6x faster)
    # meta-training tasks: each knob scaled by U(low, high); the evaluation and held-out sets stay U(0.75, 1.25)
    train_scale_range: tuple = (0.6, 1.4)
    train_bpm_noise: float = 0.1  # mm: Gaussian BPM noise in the meta-training episodes (0: none)
    # environment
    max_steps: int = 100
    plane: str = "horizontal"
    wall_penalty: str = "strict"
    # run
    seed: int = 0
    num_threads: int = 1  # torch threads; 1 is robust on shared CPUs (0 = leave as is)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    rl2: RL2Config = field(default_factory=RL2Config)  # the recurrent meta-learner (runs/rl2.py)
    # tasks: meta-training, held-out and comparison tasks; the out-of-distribution test set
    task_distribution: TaskDistributionConfig = field(default_factory=TaskDistributionConfig)
    ood_tasks: TaskDistributionConfig = field(default_factory=lambda: TaskDistributionConfig(**OOD_TASKS))

    RULES = {
        "gamma": FRACTION, "gae_lambda": FRACTION, "hidden_sizes": IntList(),
        "nonlinearity": Choice(NONLINEARITY_NAMES), "init_std": POSITIVE, "first_order": BOOL,
        "fast_batch_size": Int(1), "num_steps": Int(1), "fast_lr": POSITIVE, "learner": Name(),
        "inner_weighting": Choice(("mean", "sum")),
        "inner_max_kl": Real(0), "stable_adaptation": BOOL,
        "num_batches": Int(1),
        "meta_batch_size": Int(1), "meta_batch_shards": Int(1), "max_kl": POSITIVE, "cg_iters": Int(1), "cg_damping": Real(0),
        "cg_residual_tol": Real(0), "fisher_product": Choice(("auto", "analytic", "double_backward")),
        "fisher_max_samples": Int(0), "adapted_std": Real(0), "zero_shot_weight": Real(0),
        "ls_max_steps": Int(1), "ls_backtrack_ratio": Real(0, 1, low_open=True, high_open=True), "fast_path": BOOL,
        "max_steps": Int(1), "plane": Choice(PLANES),
        "wall_penalty": Choice(("strict", "reference")), "seed": Int(0),
        "num_threads": Int(0), "train_scale_range": ScaleRange(), "train_bpm_noise": Real(0),
    }

    def __post_init__(self):
        _validate(self, self.RULES)
        for key, cls, what in (("ppo", PPOConfig, "PPO"), ("rl2", RL2Config, "RL²")):
            section = getattr(self, key)
            if isinstance(section, Mapping):
                section = _from_mapping(cls, section, section=f"{key}.")
            if not isinstance(section, cls):
                raise ValueError(f"config key '{key}': got {section!r}, allowed: a mapping of {what} settings.")
            object.__setattr__(self, key, section)
        for key, defaults in (("task_distribution", {}), ("ood_tasks", OOD_TASKS)):
            section = getattr(self, key)
            if isinstance(section, Mapping):
                section = _from_mapping(TaskDistributionConfig, {**defaults, **section}, section=f"{key}.")
            if not isinstance(section, TaskDistributionConfig):
                raise ValueError(f"config key '{key}': got {section!r}, allowed: a mapping of task settings.")
            object.__setattr__(self, key, section)
        if self.meta_batch_shards > self.meta_batch_size:
            raise ValueError(f"config key 'meta_batch_shards'={self.meta_batch_shards} > 'meta_batch_size'="
                             f"{self.meta_batch_size}: every part needs a task; use at most meta_batch_size parts.")
        if self.fisher_product == "analytic" and not self.first_order:
            raise ValueError("config keys 'fisher_product'='analytic' and 'first_order'=False do not go "
                             "together: the analytic Fisher is first-order only; use 'auto'.")
        if self.fisher_product == "analytic" and not self.fast_path:
            raise ValueError("config keys 'fisher_product'='analytic' and 'fast_path'=False do not go "
                             "together: the analytic Fisher is the fast path's; use 'auto'.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Config":
        """Validated Config from a plain mapping (as read from YAML; old keys migrated, :func:`migrate`)."""
        return _from_mapping(cls, migrate(data) if isinstance(data, Mapping) else data)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, no tuples) for YAML/JSON."""
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        for key in ("task_distribution", "ood_tasks"):
            data[key]["knobs"] = list(data[key]["knobs"])
        data["train_scale_range"] = list(self.train_scale_range)
        return data


def load_config(path=None, **overrides) -> Config:
    """Read a YAML config (default ``configs/awake.yaml``), apply ``overrides``, validate.

    ``ppo`` and ``rl2`` may be overridden with a partial mapping: ``load_config(ppo={"seed": 1})``.
    """
    path = DEFAULT_CONFIG_FILE if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} not found; pass None for the default "
                                f"({DEFAULT_CONFIG_FILE}).")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}.")
    data, overrides = migrate(data), migrate(overrides)
    for section in ("ppo", "rl2"):
        if isinstance(overrides.get(section), Mapping):
            overrides[section] = {**dict(data.get(section) or {}), **overrides[section]}
    data.update(overrides)
    return Config.from_dict(data)


def save_config(config: Config, path) -> Path:
    """Write ``config`` as YAML (readable back with :func:`load_config`), atomically."""
    return write_text_atomic(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
