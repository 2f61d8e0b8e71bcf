"""What a meta-learner provides, and one meta-batch written in terms of it.

A meta-learner is a class built as ``Learner(policy, config, engine)`` (``config``: a validated
``awake_tutorial.config.Config``, read for the keys the class lists in ``SETTINGS``; ``engine``:
``awake_tutorial.rl.engine.select(config.fast_path)``), registered under a name in
:mod:`.registry` (the config's ``learner`` key). It provides

    num_steps                               inner steps per meta-batch
    initial_params(K) -> params             where every task's adaptation starts, (K, ...) each
    adapt_step(episodes, params) -> params  one inner step, detached (what the next episodes use)
    deployed(params) -> params              the adapted parameters as the outer loss scores them
    step(train_episodes, valid_episodes, adapted) -> log   the outer (meta-)update

and inherits :meth:`MetaLearner.meta_batch`, which runs one meta-batch with them, and
``new_policy(config, seed)``, the policy it trains. A learner that adapts differently provides
just ``new_policy`` and ``meta_batch`` (RL², :mod:`.rl2_trpo`: in its recurrent state).

:class:`InnerLoop` is the adaptation alone (``runs.training.adapt``, after meta-training): the
same inner step, with the step sizes the policy carries (learned by Meta-SGD) or ``fast_lr``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Mapping

import torch

from awake_tutorial.rl.baseline import add_advantages
from awake_tutorial.rl.episodes import BatchEpisodes
from awake_tutorial.rl.metalearners.inner_bound import bound_step
from awake_tutorial.rl.metalearners.reinforce import StepSizes, inner_step
from awake_tutorial.rl.policies import GaussianMLPPolicy, stack_params


class Stopwatch:
    """Seconds spent per part: ``with stopwatch("sampling"): ...`` adds to ``seconds["sampling"]``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, part: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start


@dataclass
class MetaBatch:
    """What one meta-batch sampled and did: one batch of adaptation episodes per inner step,
    the validation episodes (of the adapted policies), the outer step's log."""

    train_episodes: list
    valid_episodes: BatchEpisodes
    log: dict


class InnerLoop:
    """Adaptation: REINFORCE steps from the policy's parameters, one set per task.

    Reads ``fast_lr``, ``num_steps``, ``inner_weighting``, ``inner_max_kl``, ``gamma`` and
    ``gae_lambda`` from ``config``; the inner gradient comes from ``engine`` (by hand or autograd).
    """

    SETTINGS = ("fast_lr", "num_steps", "inner_weighting", "inner_max_kl", "gamma", "gae_lambda")

    def __init__(self, policy, config, engine):
        for name in self.SETTINGS:
            setattr(self, name, getattr(config, name))
        if int(self.num_steps) < 1:
            raise ValueError(f"num_steps must be >= 1 (inner steps per task), got {self.num_steps}.")
        self.num_steps = int(self.num_steps)
        self.policy, self.engine = policy, engine
        self.gradient = engine.gradient  # the inner loop's first-order gradient: by hand or autograd
        self.step_kl = engine.step_kl  # the inner trust region's KL: on the chunked steps or torch.distributions

    def initial_params(self, num_tasks: int) -> dict[str, torch.Tensor]:
        """theta for each of ``num_tasks`` tasks, (K, ...) each, detached: where adaptation starts."""
        return {n: p.detach() for n, p in stack_params(self.policy.params(), num_tasks).items()}

    def inner_step_sizes(self) -> StepSizes:
        """The step sizes of :meth:`adapt_step`: the policy's learned ones if it has them, else fast_lr."""
        return self.policy.step_sizes(self.fast_lr)

    def adapt_step(self, episodes: BatchEpisodes, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One inner step from per-task ``params`` on ``episodes`` (with advantages), first
        order and detached: what a task's next episodes are sampled with."""
        adapted = inner_step(self.policy, episodes, params, self.inner_step_sizes(), True, self.inner_weighting,
                             self.gradient)
        adapted = bound_step(self.policy, episodes, params, adapted, self.inner_max_kl, self.step_kl)
        return {n: p.detach() for n, p in adapted.items()}

    def add_advantages(self, episodes: BatchEpisodes) -> BatchEpisodes:
        """``episodes`` with GAE advantages (gamma, gae_lambda) from a fresh linear baseline."""
        return add_advantages(episodes, self)


class MetaLearner(InnerLoop):
    """The interface (module docstring) and the one meta-batch every gradient-based learner runs."""

    LABEL = "meta-learner"  # how tables and metadata name it, e.g. "MAML-TRPO"
    LEARNS_STEP_SIZES = False  # True: the policy carries learned inner step sizes (Meta-SGD)

    @classmethod
    def new_policy(cls, config, seed: int) -> GaussianMLPPolicy:
        """A fresh policy of the config's architecture, weights from ``seed`` (if the learner learns
        inner step sizes, Meta-SGD: every one starts at ``fast_lr``)."""
        policy = GaussianMLPPolicy(hidden_sizes=config.hidden_sizes, nonlinearity=config.nonlinearity,
                                   init_std=config.init_std, seed=seed)
        return policy.set_step_sizes(math.log(config.fast_lr) if cls.LEARNS_STEP_SIZES else None)

    def deployed(self, adapted: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def step(self, train_episodes, valid_episodes: BatchEpisodes, adapted=None) -> dict:
        raise NotImplementedError

    def sample_and_adapt(self, streams, num_tasks: int, stopwatch: Stopwatch | None = None):
        """A meta-batch up to its outer step: ``(train_episodes, valid_episodes, adapted params)``.

        ``streams``: the ``num_tasks`` tasks' random streams (``MultiTaskSampler.streams``), sampled
        with the policy at per-task parameters. ``num_steps`` times: sample episodes and adapt; then
        sample validation episodes with the adapted policies. The stopwatch gets the seconds of
        "sampling" and "inner".
        """
        stopwatch = stopwatch or Stopwatch()
        params, train_episodes = self.initial_params(num_tasks), []  # theta, once per task
        for _ in range(self.num_steps):
            with stopwatch("sampling"):
                episodes = streams.sample(self.policy, params)
            with stopwatch("inner"):
                train_episodes.append(self.add_advantages(episodes))
                params = self.adapt_step(episodes, params)  # theta'_k, one per task
        with stopwatch("sampling"):
            valid_episodes = streams.sample(self.policy, self.deployed(params))  # as the outer loss scores them
        with stopwatch("inner"):
            self.add_advantages(valid_episodes)
        return train_episodes, valid_episodes, params

    def meta_batch(self, streams, num_tasks: int, stopwatch: Stopwatch | None = None) -> MetaBatch:
        """One meta-batch (notebook 04's algorithm box), every task at once: :meth:`sample_and_adapt`,
        then one outer step (its seconds: the stopwatch's "outer")."""
        stopwatch = stopwatch or Stopwatch()
        train_episodes, valid_episodes, params = self.sample_and_adapt(streams, num_tasks, stopwatch)
        with stopwatch("outer"):
            log = self.step(train_episodes, valid_episodes, adapted=params)  # reused if first-order
        return MetaBatch(train_episodes, valid_episodes, log)
