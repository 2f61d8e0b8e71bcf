"""Policy files: a policy's class, architecture and weights, written atomically, read safely.

``save_policy`` writes ``{"policy_class": name, "architecture": {...}, "state_dict": {...}}``
(tensors and plain str/int/list/bool values only; temp file + rename, :mod:`awake_tutorial.atomic`),
so ``load_policy`` rebuilds the right class (:mod:`awake_tutorial.rl.policy_registry`) without
being told. It reads with ``torch.load(weights_only=True)``, so a file holding pickled objects
is refused. Older files are a plain state_dict of a GaussianMLPPolicy; they still load, with
the architecture from the arguments (and a clear message when it does not fit).
Used for run folders' checkpoints (:mod:`awake_tutorial.runs.folders` names them) and
the shipped files (:mod:`awake_tutorial.runs.pretrained`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import torch

from awake_tutorial.atomic import atomic_path
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.rl.policy_registry import build, describe


def save_policy(policy, path) -> Path:
    """Write the policy's class, architecture and state_dict to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {**describe(policy), "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
    return path


def _hidden_sizes_of(state: Mapping[str, torch.Tensor]) -> list[int]:
    """Hidden layer widths stored in a state_dict (for error messages)."""
    weights = sorted((k for k in state if k.startswith("layers.") and k.endswith(".weight")),
                     key=lambda k: int(k.split(".")[1]))
    return [int(state[k].shape[0]) for k in weights[:-1]]


def load_policy(path, hidden_sizes: Sequence[int] | None = None, nonlinearity: str | None = None,
                config=None):
    """The policy saved by :func:`save_policy` at ``path``, of the class and architecture it records.

    ``config`` (a :class:`~awake_tutorial.config.Config`) or ``hidden_sizes`` / ``nonlinearity``
    say what the caller expects: a recorded architecture that differs raises a clear error; an
    older file (a plain state_dict) is read as a GaussianMLPPolicy of that architecture (defaults
    (64, 64) and "tanh"). A missing or unreadable file raises a clear error too.
    """
    path = Path(path)
    if config is not None:
        hidden_sizes = hidden_sizes or config.hidden_sizes
        nonlinearity = nonlinearity or config.nonlinearity
    if not path.exists():
        raise FileNotFoundError(f"policy file {path} not found; check the path (or train one first).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle of arbitrary objects, corrupt file, ...
        raise ValueError(f"{path} is not a policy file readable with weights_only=True ({error}); "
                         "save policies with awake_tutorial.runs.policy_files.save_policy.") from None
    if isinstance(state, Mapping) and "policy_class" in state:  # class and architecture recorded
        return _recorded(path, state, hidden_sizes, nonlinearity)
    hidden_sizes = tuple(hidden_sizes or (64, 64))
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a policy state_dict "
                         "(a dict of tensors); save policies with save_policy.")
    policy = GaussianMLPPolicy(hidden_sizes=hidden_sizes, nonlinearity=nonlinearity or "tanh", seed=0)
    if "log_step_sizes" in state:  # Meta-SGD's learned step sizes (older files have none)
        policy.set_step_sizes(torch.zeros(len(policy.params())))
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        details = "; ".join(
            [f"missing {missing}"] * bool(missing) + [f"unexpected {unexpected}"] * bool(unexpected)
            + [f"{k}: file {tuple(state[k].shape)} vs expected {tuple(expected[k].shape)}" for k in wrong])
        raise ValueError(f"{path} does not fit a policy with hidden_sizes {list(hidden_sizes)} ({details}). "
                         f"The file looks like hidden_sizes {_hidden_sizes_of(state)}; pass those "
                         "(or the config the policy was trained with).")
    policy.load_state_dict({k: v.float() for k, v in state.items()})
    return policy


def _recorded(path: Path, content: Mapping, hidden_sizes, nonlinearity):
    """The policy of a file that records its class and architecture (checked against what the caller expects)."""
    architecture = dict(content.get("architecture") or {})
    expected = {"hidden_sizes": list(hidden_sizes) if hidden_sizes else None, "nonlinearity": nonlinearity}
    for key, want in expected.items():
        if want is not None and key in architecture and architecture[key] != want:
            raise ValueError(f"{path} holds a {content['policy_class']} with {key} {architecture[key]!r}, not "
                             f"{want!r}; pass the config it was trained with (or no architecture: the file has it).")
    policy = build(content["policy_class"], architecture)
    try:
        policy.load_state_dict({k: v.float() for k, v in content["state_dict"].items()})
    except (RuntimeError, KeyError, AttributeError) as error:
        raise ValueError(f"{path}: the weights do not fit its recorded {content['policy_class']}"
                         f"({architecture}): {error}") from None
    return policy
