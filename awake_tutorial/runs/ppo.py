"""Single-task PPO baseline with stable-baselines3: train on one task, test on others.

    model = train_ppo(0, config)                      # evaluation task 0, config.ppo budget
    evaluate(ppo_policy(model), load_evaluation_tasks())
    save_ppo(model, "ppo_task0.zip", {"task_id": 0}); model = load_ppo("ppo_task0.zip")

PPO learns one fixed task from scratch, with no notion of other tasks: the point of
comparison for the meta-learned policy, which adapts to a new task in a few batches.
SB3 seeds the *global* random generators (random, numpy, torch); training restores
them afterwards, so training a PPO model does not change the rest of a notebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
import zipfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

from awake_tutorial.atomic import atomic_path
from awake_tutorial.config import Config, PPOConfig
from awake_tutorial.envs import AwakeSteeringEnv
from awake_tutorial.runs.pretrained import check_sha256, resolve, write_metadata
from awake_tutorial.runs.training import torch_threads

PPO_KEYS = ("learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda",
            "clip_range", "ent_coef", "seed")


class PPOProgressCallback(BaseCallback):
    """Collects the episodes finished in each PPO rollout and reports them.

    After every rollout (``n_steps`` environment steps) ``callback(record)`` gets
    {"kind": "ppo", "task_id", "timesteps" (steps so far), "total_timesteps",
    "mean_return", "mean_length" (steps), "success_rate" (0..1), "episodes" (count),
    "wall_time" (s)}; returning True stops training. ``records`` keeps every record.
    With ``progress=True`` a tqdm bar shows the environment steps.
    """

    def __init__(self, task_id: int, total_timesteps: int, callback: Callable | None = None,
                 progress: bool = False):
        super().__init__()
        self.task_id, self.total_timesteps, self.user_callback = task_id, total_timesteps, callback
        self.progress, self.bar = progress, None
        self.records: list[dict] = []
        self._episodes: list[tuple[float, int, bool]] = []  # (return, length, success)
        self._stop = False
        self._start = time.perf_counter()

    def _on_training_start(self) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total_timesteps, unit="step", desc=f"PPO task {self.task_id}")

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "episode" in info:  # the Monitor wrapper adds "episode" at the end
                self._episodes.append((info["episode"]["r"], info["episode"]["l"], info["success"]))
        return not self._stop

    def _on_rollout_end(self) -> None:
        returns, lengths, successes = np.array(self._episodes or [(np.nan,) * 3], dtype=float).T
        self._episodes = []
        record = {"kind": "ppo", "task_id": self.task_id, "timesteps": int(self.num_timesteps),
                  "total_timesteps": self.total_timesteps, "mean_return": float(np.mean(returns)),
                  "mean_length": float(np.mean(lengths)), "success_rate": float(np.mean(successes)),
                  "episodes": int(np.sum(np.isfinite(returns))),
                  "wall_time": time.perf_counter() - self._start}
        self.records.append(record)
        if self.bar is not None:
            # SB3 rounds the budget up to whole rollouts: keep the bar within its total
            self.bar.update(min(record["timesteps"], self.total_timesteps) - self.bar.n)
            self.bar.set_postfix(length=f"{record['mean_length']:.1f}",
                                 success=f"{record['success_rate']:.0%}")
        if self.user_callback is not None and self.user_callback(record):
            self._stop = True  # the next _on_step ends training

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def keep_global_rng():
    """Restore Python's, numpy's and torch's global random state after the block."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def _split(config) -> tuple[PPOConfig, dict, int]:
    """(PPO settings, env settings, torch threads) from a Config or a bare PPOConfig."""
    if isinstance(config, Config):
        env_settings = {"max_steps": config.max_steps, "plane": config.plane,
                        "wall_penalty": config.wall_penalty}
        return config.ppo, env_settings, config.num_threads or 1
    if isinstance(config, PPOConfig):
        return config, {}, 1
    raise TypeError(f"config must be an awake_tutorial.config.Config or PPOConfig, got "
                    f"{type(config).__name__}; use load_config().")


def train_ppo(task, config, callback: Callable | None = None, progress: bool = False,
              total_timesteps: int | None = None) -> PPO:
    """Train PPO (MlpPolicy, CPU) on one task.

    Args:
        task: a Task or an evaluation task id.
        config: a Config (PPO settings from ``config.ppo``, env settings from the config)
            or a PPOConfig (default env settings).
        callback: record -> bool | None, called after each rollout (see
            :class:`PPOProgressCallback`); True stops training.
        progress: show a tqdm bar of environment steps.
        total_timesteps: environment steps to train; default ``config.ppo.total_timesteps``.
    Returns:
        The trained stable-baselines3 PPO model (same seed -> same model).
    """
    ppo_config, env_settings, threads = _split(config)
    total = int(total_timesteps or ppo_config.total_timesteps)
    env = AwakeSteeringEnv(task, **env_settings)
    settings = {key: getattr(ppo_config, key) for key in PPO_KEYS}
    with keep_global_rng(), torch_threads(threads):
        model = PPO("MlpPolicy", env, device="cpu", verbose=0, **settings)
        model.set_logger(Logger(folder=None, output_formats=[]))  # SB3 would make a temp dir per run
        tracker = PPOProgressCallback(env.task.id, total, callback, progress)
        model.learn(total_timesteps=total, callback=tracker)
    return model


def ppo_policy(model: PPO) -> Callable[[np.ndarray], np.ndarray]:
    """The trained model as a deterministic numpy policy, (n, 10) obs -> (n, 10) actions,
    for :func:`awake_tutorial.envs.evaluate` (action = the mean of the Gaussian)."""

    def act(obs) -> np.ndarray:
        actions, _ = model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
        return actions

    return act


# Attributes SB3 would store as cloudpickle blobs: left out of our files, so that a course
# file never holds pickled code. load_ppo rebuilds the model from plain settings instead.
PICKLED_ATTRIBUTES = ("policy_class", "_last_obs", "_last_episode_starts", "_last_original_obs",
                      "ep_info_buffer", "ep_success_buffer", "observation_space", "action_space",
                      "rollout_buffer_class", "clip_range", "clip_range_vf", "lr_schedule", "action_noise")


def save_ppo(model: PPO, path, metadata: Mapping | None = None) -> Path:
    """Save ``model`` as an SB3-style .zip without pickled objects (plain JSON settings +
    weights as a state_dict), plus a .json of ``metadata`` + sha256 + versions."""
    import stable_baselines3

    path = Path(path)
    if path.suffix != ".zip":
        path = path.with_name(path.name + ".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        model.save(tmp, exclude=list(PICKLED_ATTRIBUTES))
    write_metadata(path, {**dict(metadata or {}), "num_timesteps": int(model.num_timesteps),
                          "stable_baselines3_version": stable_baselines3.__version__})
    return path


def load_ppo(path="ppo") -> PPO:
    """Load a model written by :func:`save_ppo` ("ppo" = the shipped one), checking its sha256.

    Never unpickles: the settings are read as JSON and the weights with
    ``torch.load(weights_only=True)``; a file holding pickled objects is refused.
    """
    try:
        path = resolve(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"PPO model {path} not found; train one with "
                                "`awake-tutorial ppo --train --task-id 0 --out PATH`.") from None
    check_sha256(path)
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
            state = torch.load(io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a PPO model saved by save_ppo ({error}).") from None
    pickled = sorted(k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v)
    if pickled:
        raise ValueError(f"{path} holds pickled objects {pickled}, which the course never loads; "
                         "re-save the model with awake_tutorial.runs.ppo.save_ppo.")
    settings = {key: data[key] for key in PPO_KEYS if key in data and key != "clip_range"}
    with keep_global_rng():
        model = PPO("MlpPolicy", AwakeSteeringEnv(), device="cpu", verbose=0,
                    policy_kwargs=data.get("policy_kwargs") or None, **settings)
    try:
        model.policy.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{path}: the weights do not fit the PPO network ({error}).") from None
    model.num_timesteps = int(data.get("num_timesteps", 0))
    return model
