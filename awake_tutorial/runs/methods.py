"""The methods of the comparison, declared once: the registry that compare, the noise study,
the CLI (``evaluate --policy``, ``compare --methods``) and the comparison figures read.

A :class:`Method` says what a method is called, its family (one legend entry), what it
spends on a task before acting, how it is built for a list of tasks, and how it is drawn.
A method with ``batches`` is a family of methods named ``family-K`` (K adaptation
batches); its ``zero`` name, if any, names K = 0 (``random`` = ``reinforce-0``).

**Adding a classical controller** (one class and one entry here): write the class in
``awake_tutorial/controllers/`` (``act(obs)`` on (10,) or (n, 10) float32 readings,
``reset()``, a ``machine_steps`` attribute if it spends any), then add
``_controller("name", "legend label", "colour", "marker", "cost", lambda task, s: YourPolicy(task, s.plane))``
to :data:`REGISTRY`, and its name to :data:`COMPARISON` / :data:`NOISE_STUDY` if those
should run it. Every table, figure and CLI choice then has it. A learned policy with
adaptation batches is an entry like ``meta``'s with its own builder (see :func:`_adapted`);
a policy that adapts in context is one entry too: the recurrent RL² policy is
``Method(RL2, "RL² policy (black box)", "tab:pink", "p", "0", _rl2)``, where ``_rl2(tasks,
setting, batches)`` returns ``Built(policy, sampled, {task.id: 0})`` for ``setting.models["rl2"]``
(``compare_methods(..., models={"rl2": policy})``) or, by default, the shipped file.
A method name is a string literal in this module only (tests/test_architecture.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from awake_tutorial.config import Config
from awake_tutorial.controllers import (BroydenPolicy, FewestStepsPolicy, InverseResponsePolicy,
                                        MeasureThenCorrectPolicy, NominalInversePolicy, NominalModelPolicy)
from awake_tutorial.envs import per_task
from awake_tutorial.paths import DATA_DIR
from awake_tutorial.physics.tasks import Task
from awake_tutorial.rl.recurrent import GaussianGRUPolicy
from awake_tutorial.runs.ppo import ppo_policy
from awake_tutorial.runs.policy_files import load_policy
from awake_tutorial.runs.pretrained import check_sha256
from awake_tutorial.runs.training import EVALUATE, adapt, new_policy, new_sampler, seed_for


@dataclass(frozen=True)
class Setting:
    """What a builder gets besides the tasks: the config, the seed (adaptation, probes, action
    noise), the BPM noise (mm) of the machine, and the models ({"meta": policy, "ppo": model,
    "reference": policy, "reference_config": Config, "rl2": recurrent policy})."""

    config: Config
    seed: int = 0
    bpm_noise: float = 0.0
    models: Mapping[str, Any] = field(default_factory=dict)

    @property
    def plane(self) -> str:
        return self.config.plane


@dataclass(frozen=True)
class Built:
    """A method built for some tasks: its headline policy (``per_task``), the same policy
    sampling its actions (None for deterministic methods), machine steps per task id."""

    policy: Any
    sampled: Any
    machine_steps: dict[int, int]


@dataclass(frozen=True)
class Method:
    """One entry of the registry (see the module docstring).

    Attributes:
        family: the method's name (``family-K`` for each K of ``batches``).
        label, colour, marker: how the figures draw it (colour name and marker).
        cost: the machine steps it spends on a task before acting, in words.
        build: ``build(tasks, setting, batches) -> Built``.
        batches: adaptation batch counts of the comparison (empty: one method, no batches).
        zero: another name for ``family-0`` (e.g. "random").
        needs: the key of ``Setting.models`` it needs, None if none.
        controller: ``controller(task, setting) -> policy`` for the classical controllers.
        knows_response: it is given the task's true response matrix (a benchmark, not an option).
    """

    family: str
    label: str
    colour: str
    marker: str
    cost: str
    build: Callable[[Sequence[Task], Setting, int], Built]
    batches: tuple[int, ...] = ()
    zero: str | None = None
    needs: str | None = None
    controller: Callable[[Task, Setting], Any] | None = None
    knows_response: bool = False

    def name(self, batches: int = 0) -> str:
        """The method's name with ``batches`` adaptation batches."""
        if not self.batches:
            return self.family
        return self.zero if batches == 0 and self.zero else f"{self.family}-{batches}"

    def names(self, batches: Sequence[int] | None = None) -> list[str]:
        """Its names in the comparison (or for the given batch counts)."""
        return [self.name(k) for k in (self.batches if batches is None else batches)] if self.batches else [self.family]


def _controllers(factory: Callable[[Task, Setting], Any]):
    """A builder for a classical controller: one per task, machine steps from its attribute."""
    def build(tasks: Sequence[Task], setting: Setting, batches: int = 0) -> Built:
        made = {task.id: factory(task, setting) for task in tasks}
        return Built(per_task(lambda task, plane: made[task.id]), None,
                     {i: int(getattr(c, "machine_steps", 0)) for i, c in made.items()})
    return build


def _controller(family, label, colour, marker, cost, factory, knows_response=False) -> Method:
    return Method(family, label, colour, marker, cost, _controllers(factory), controller=factory,
                  knows_response=knows_response)


SHIPPED_RL2 = "rl2_meta_policy.pt"  # the shipped recurrent meta-policy, in data/


def _sampling(policy, seed: int, task_id: int, num_batches: int = 0):
    """``policy`` sampling its actions, with noise seeded by (seed, task, batches)."""
    return policy.as_numpy_policy(deterministic=False, seed=seed_for(seed, EVALUATE, task_id, num_batches))


def _adapted(family: str):
    """A builder for a Gaussian policy adapted with K REINFORCE batches on each task (under
    the setting's BPM noise); ``family`` is its key in ``Setting.models`` (None: a random policy)."""
    def build(tasks: Sequence[Task], setting: Setting, batches: int = 0) -> Built:
        config, models = setting.config, setting.models
        start = new_policy(config, setting.seed) if family is None else models[family]
        config = models.get(f"{family}_config") or config
        sampler = new_sampler(config, setting.bpm_noise) if setting.bpm_noise else None
        result = adapt(start, tasks, batches, config, seed=setting.seed, sampler=sampler)
        steps = {task.id: 0.0 for task in tasks}
        for record in result.records:  # mean length of the batch's episodes, per task
            steps[record["task_id"]] += record["mean_length"] * config.fast_batch_size
        by_id = {task.id: p for task, p in zip(tasks, result.policies)}
        return Built(per_task(lambda task, plane: by_id[task.id].as_numpy_policy()),
                     per_task(lambda task, plane: _sampling(by_id[task.id], setting.seed, task.id, batches)),
                     {i: int(round(s)) for i, s in steps.items()})
    return build


def _ppo(tasks: Sequence[Task], setting: Setting, batches: int = 0) -> Built:
    model = setting.models[PPO]
    return Built(ppo_policy(model), None, {task.id: int(model.num_timesteps) for task in tasks})


def load_rl2(path=None) -> GaussianGRUPolicy:
    """The shipped RL² policy (``path`` None) or a file written by
    :func:`awake_tutorial.runs.rl2_policy.save_rl2`, its sha256 checked; a missing file or
    one of another architecture raises a clear error."""
    path = DATA_DIR / SHIPPED_RL2 if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"RL² policy file {path} not found; make it with "
                                "`python -m awake_tutorial.runs.rl2 --export data/rl2_meta_policy.pt`.")
    meta = check_sha256(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a state_dict readable with weights_only=True ({error}).") from None
    if isinstance(state, Mapping) and "policy_class" in state:  # a file that records its class (policy_files)
        policy = load_policy(path)
        if not isinstance(policy, GaussianGRUPolicy):
            raise ValueError(f"{path} holds a {type(policy).__name__}, not the RL² GaussianGRUPolicy.")
        return policy
    if not isinstance(state, Mapping) or "encoder.weight" not in state:  # the older plain state_dict
        raise ValueError(f"{path} is not a GaussianGRUPolicy state_dict (no 'encoder.weight'); "
                         "write it with awake_tutorial.runs.rl2_policy.save_rl2.")
    hidden = int(meta.get("architecture", {}).get("hidden_size", state["encoder.weight"].shape[0]))
    policy = GaussianGRUPolicy(hidden_size=hidden, seed=0)
    try:
        policy.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{path} does not fit a GaussianGRUPolicy(hidden_size={hidden}): {error}") from None
    return policy


def _rl2(tasks: Sequence[Task], setting: Setting, batches: int = 0) -> Built:
    """The recurrent (RL²) meta-policy, ``setting.models["rl2"]`` or else the shipped file: it
    adapts within each episode in its hidden state, from no data (0 machine steps); its sampled
    actions are seeded per (seed, task) as :func:`awake_tutorial.runs.rl2_policy.score_rl2`'s."""
    policy = setting.models.get(RL2) or load_rl2()
    return Built(policy.actor(deterministic=True), per_task(lambda task, plane: _sampling(policy, setting.seed, task.id)),
                 {task.id: 0 for task in tasks})


META, REFERENCE, PPO, FEWEST_STEPS, RL2 = "meta", "reference", "ppo", "fewest-steps", "rl2"
INVERSE_NOMINAL = "inverse-nominal"  # the operator's first choice: the floor of notebook 08
REGISTRY: dict[str, Method] = {m.family: m for m in (
    Method("reinforce", "random -> REINFORCE", "tab:gray", "v", "its K batches' steps", _adapted(None),
           batches=(0, 10, 40), zero="random"),
    Method(PPO, "PPO (trained on task 0)", "tab:brown", "P", "its training steps (on task 0)", _ppo, needs=PPO),
    Method(META, "meta-policy", "tab:blue", "o", "its K batches' steps", _adapted(META), batches=(0, 1, 2, 4),
           needs=META),
    Method(RL2, "RL² policy (black box)", "tab:pink", "p", "0", _rl2),
    Method(REFERENCE, "reference configuration", "tab:cyan", "s", "its K batches' steps", _adapted(REFERENCE),
           batches=(0, 1, 2, 4), needs=REFERENCE),
    _controller("nominal", "nominal model (fewest steps)", "tab:orange", "D", "0",
                lambda task, s: NominalModelPolicy(task, s.plane)),
    _controller(INVERSE_NOMINAL, "inverse on nominal matrix", "tab:olive", "d", "0",
                lambda task, s: NominalInversePolicy(task, s.plane)),
    _controller("broyden", "Broyden from nominal", "tab:purple", "h", "0",
                lambda task, s: BroydenPolicy(task, s.plane)),
    _controller("measure-correct", "measure then correct", "tab:red", "X", "11 (10 probes, 1 restore)",
                lambda task, s: MeasureThenCorrectPolicy(task, s.plane, seed=s.seed, bpm_noise=s.bpm_noise,
                                                         max_steps=s.config.max_steps)),
    _controller("inverse", "inverse (true R)", "tab:green", "^", "0",
                lambda task, s: InverseResponsePolicy(task, s.plane), knows_response=True),
    _controller(FEWEST_STEPS, "fewest steps (true R)", "k", "*", "0",
                lambda task, s: FewestStepsPolicy(task, s.plane), knows_response=True),
)}
COMPARISON = tuple(name for method in REGISTRY.values() for name in method.names())  # compare's default
NOISE_STUDY = (*REGISTRY[META].names((0, 1, 2)), RL2, INVERSE_NOMINAL, "broyden", "inverse", "measure-correct",
               FEWEST_STEPS)
CONTROLLERS = tuple(m.family for m in REGISTRY.values() if m.controller is not None)  # evaluate --policy


def resolve(name: str) -> tuple[Method, int]:
    """(method, adaptation batches) of a method name: "meta-2" -> (meta, 2), "random" ->
    (reinforce, 0); ValueError naming the known methods for an unknown name."""
    for method in REGISTRY.values():
        if name == method.family and not method.batches:
            return method, 0
        if method.batches and name == method.zero:
            return method, 0
        family, _, k = name.rpartition("-")
        if method.batches and family == method.family and k.isdigit():
            return method, int(k)
    raise ValueError(f"unknown method {name!r}; the methods are {list(COMPARISON)} (families with "
                     f"batches take any count, e.g. {REGISTRY[META].name(10)!r}).")


def family_of(name: str) -> tuple[str, int]:
    """(family, batches) of a method name; a name outside the registry (a method of your own,
    notebook 06) is its own family with 0 batches."""
    try:
        method, batches = resolve(name)
    except ValueError:
        return name, 0
    return method.family, batches


def build(name: str, tasks: Sequence[Task], setting: Setting) -> Built:
    """Build method ``name`` for ``tasks``: adapt it, measure, or just make the controller."""
    method, batches = resolve(name)
    return method.build(list(tasks), setting, batches)


def controller_policy(name: str, config: Config, seed: int = 0, bpm_noise: float = 0.0):
    """``per_task`` policy of a classical controller by name (the CLI's ``evaluate --policy``)."""
    method, _ = resolve(name)
    if method.controller is None:
        raise ValueError(f"{name!r} is not a classical controller; those are {list(CONTROLLERS)}.")
    setting = Setting(config, seed, bpm_noise)
    return per_task(lambda task, plane: method.controller(task, setting))
