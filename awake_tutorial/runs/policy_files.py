"""Policy files: a GaussianMLPPolicy as a plain state_dict, written atomically, read safely.

``save_policy`` writes the tensors only (temp file + rename, :mod:`awake_tutorial.atomic`);
``load_policy`` reads them with ``torch.load(weights_only=True)``, so a file holding
pickled objects is refused, and says what to pass when the architecture does not fit.
Used for run folders' checkpoints (:mod:`awake_tutorial.runs.folders` names them) and
the shipped files (:mod:`awake_tutorial.runs.pretrained`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import torch

from awake_tutorial.atomic import atomic_path
from awake_tutorial.rl.policies import GaussianMLPPolicy


def save_policy(policy: GaussianMLPPolicy, path) -> Path:
    """Write the policy's state_dict to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in policy.state_dict().items()}, tmp)
    return path


def _hidden_sizes_of(state: Mapping[str, torch.Tensor]) -> list[int]:
    """Hidden layer widths stored in a state_dict (for error messages)."""
    weights = sorted((k for k in state if k.startswith("layers.") and k.endswith(".weight")),
                     key=lambda k: int(k.split(".")[1]))
    return [int(state[k].shape[0]) for k in weights[:-1]]


def load_policy(path, hidden_sizes: Sequence[int] | None = None, nonlinearity: str | None = None,
                config=None) -> GaussianMLPPolicy:
    """The policy saved by :func:`save_policy` at ``path``.

    The architecture comes from ``config`` (a :class:`~awake_tutorial.config.Config`), or
    from ``hidden_sizes`` / ``nonlinearity`` (defaults (64, 64) and "tanh"). A missing file,
    a file that is not a state_dict, or one of another architecture raises a clear error.
    """
    path = Path(path)
    if config is not None:
        hidden_sizes = hidden_sizes or config.hidden_sizes
        nonlinearity = nonlinearity or config.nonlinearity
    hidden_sizes = tuple(hidden_sizes or (64, 64))
    if not path.exists():
        raise FileNotFoundError(f"policy file {path} not found; check the path (or train one first).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle of arbitrary objects, corrupt file, ...
        raise ValueError(f"{path} is not a policy state_dict readable with weights_only=True ({error}); "
                         "save policies with awake_tutorial.runs.policy_files.save_policy.") from None
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
