"""One meta-batch on both cores: its tasks split into parts, each part in its own process.

The meta-objective is a mean over the K tasks of a meta-batch, so it is the weighted sum of the
means over parts of them (``trpo.weighted_sum``, weights K_s / K). With the config key
``meta_batch_shards`` S > 1, the tasks are split in order into S parts (sizes as
``numpy.array_split``); this process samples, adapts and states the outer problem of part 0
while S - 1 worker processes do the same for theirs. TRPO then runs here on the weighted sum:
each Fisher-vector product of the conjugate gradient and each line-search pass is one round of
messages (a flat vector out, a flat vector back; ~30 rounds per meta-batch), every part
computing its share at the same time. Only the meta-parameters, the tasks and their seeds go
out; episodes stay where they were sampled.

Reproducible: every part's tasks and random streams are those of the one-process run (task k
keeps seed ``seed_for(seed, ROLLOUT, batch, k)``), and the sums over parts are taken in part
order. So the numbers depend on S (the split changes the order of float additions, ~1e-7), not on
processes, timing or cores: ``processes=False`` computes the parts one after another in this
process and gives the same bits (``tests/test_shards.py``). S = 1 is the one-process meta-batch
(``learner.meta_batch``).

Workers are fresh Python processes (``_WORKER``; safe after torch has made threads, and on every
OS), talk over a local socket with a one-time key, ignore Ctrl-C (this process stops
them), exit when this process's end of the connection closes (e.g. it was killed) and are ended
when :class:`Parts` closes, also after an error or an interrupt.
"""

from __future__ import annotations

import os
import pickle
import secrets
import subprocess
import sys
import traceback
from multiprocessing.connection import Client
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from awake_tutorial.rl.metalearners.base import Stopwatch
from awake_tutorial.rl.metalearners.trpo import OuterProblem, weighted_sum
from awake_tutorial.rl.policies import flatten, unflatten

Build = Callable  # config -> (learner, sampler): a module-level function (it is sent to the workers)


def episode_summary(episodes) -> dict[str, list[float]]:
    """Per-task means of ``episodes`` (BatchEpisodes) as lists: "return", "length", "success"."""
    return {key: value.tolist() for key, value in episodes.summary().items()}


def part_sizes(num_tasks: int, num_parts: int) -> list[int]:
    """Tasks per part, in order: as equal as can be, the first parts one larger (numpy.array_split)."""
    return [len(p) for p in np.array_split(np.arange(num_tasks), num_parts)]


class Part:
    """One part of a meta-batch: a learner and a sampler of its own, and the outer problem of its tasks."""

    def __init__(self, learner, sampler):
        self.learner, self.sampler, self.problem = learner, sampler, None

    def batch(self, tasks, seeds, theta: np.ndarray | None = None, stopwatch: Stopwatch | None = None) -> dict:
        """Sample and adapt ``tasks`` (their streams seeded by ``seeds``) at meta-parameters ``theta``
        (flat; None: the learner's own) and state their outer problem. Returns what the record needs:
        the summaries before and after adaptation, per task."""
        if theta is not None:
            current = self.learner.meta_parameters()
            self.learner.set_meta_parameters(unflatten(torch.from_numpy(theta), current))
        stopwatch = stopwatch or Stopwatch()
        train, valid, adapted = self.learner.sample_and_adapt(self.sampler.streams(tasks, seeds), len(tasks), stopwatch)
        with stopwatch("outer"):  # stating the problem is part of the outer step
            self.problem = self.learner.outer_problem(train, valid, adapted)
        return {"loss": self.problem.loss, "gradient": self.problem.gradient.numpy(),
                "before": episode_summary(train[0]), "after": episode_summary(valid), "seconds": stopwatch.seconds}

    def handle(self, op: str, arg):
        """A request by name: "batch" (tasks, seeds, theta), "fisher" v, "evaluate" flat params,
        "evaluate_many" candidates; vectors as numpy arrays both ways."""
        if op == "batch":
            return self.batch(*arg)
        if op == "fisher":
            return self.problem.fisher(torch.from_numpy(arg)).numpy()
        if op == "evaluate":
            return self.problem.evaluate(torch.from_numpy(arg))
        if op == "evaluate_many":
            return tuple(t.numpy() for t in self.problem.evaluate_many(torch.from_numpy(arg)))
        raise ValueError(f"unknown request {op!r}")


class LocalPart:
    """A part computed in this process, with the interface of :class:`WorkerPart` (request, then reply)."""

    def __init__(self, part: Part):
        self.part, self.result = part, None

    def request(self, op: str, arg) -> None:
        self.result = self.part.handle(op, arg)

    def reply(self):
        return self.result

    def close(self) -> None:
        pass


# A worker process's first lines: stdlib only, so it answers at once (its imports come after). It ignores
# Ctrl-C (the training process stops it), listens with the key read from stdin (on the platform's local
# socket: a Unix socket, or a named pipe on Windows; TCP's send delays cost ~40 ms a message), prints its
# address, takes one connection and serves it. Not multiprocessing's spawn: that re-runs the caller's
# main script in the worker, which a learner's script without ``if __name__ == "__main__"`` does not survive.
_WORKER = ("import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
           "from multiprocessing.connection import Listener; "
           "listener = Listener(authkey=bytes.fromhex(sys.stdin.readline().strip())); "
           "print(listener.address, flush=True); sys.stdout = sys.stderr; "  # nobody reads the pipe after the address
           "connection = listener.accept(); listener.close(); "
           "from awake_tutorial.runs.shards import serve; serve(connection)")


def _encode(tag: str, value) -> bytes:
    """A message (tag, value) as bytes: an array or a tuple of arrays raw after a small pickled header (the
    Fisher products and line-search passes, ~30 a meta-batch: 22 kB raw cross in ~20 us, pickled in ~70-130 us);
    anything else pickled."""
    arrays = value if isinstance(value, tuple) else (value,)
    if arrays and all(isinstance(a, np.ndarray) for a in arrays):
        header = pickle.dumps((tag, isinstance(value, tuple), [(a.dtype.str, a.shape) for a in arrays]))
        return b"".join([b"A", len(header).to_bytes(4, "little"), header, *(np.ascontiguousarray(a).data for a in arrays)])
    return b"P" + pickle.dumps((tag, value))


def _decode(message: bytes):
    """(tag, value) from :func:`_encode`'s bytes (arrays writable, copied out of the message)."""
    if message[:1] == b"P":
        return pickle.loads(message[1:])
    size = int.from_bytes(message[1:5], "little")
    tag, is_tuple, layout = pickle.loads(message[5:5 + size])
    arrays, offset = [], 5 + size
    for dtype, shape in layout:
        count = int(np.prod(shape))
        arrays.append(np.frombuffer(message, dtype, count, offset).reshape(shape).copy())
        offset += count * np.dtype(dtype).itemsize
    return tag, tuple(arrays) if is_tuple else arrays[0]


def serve(connection) -> None:
    """A worker process: its (config, build) first, then answer requests until "stop" or until the
    training process's end of the connection closes (e.g. it was killed)."""
    config, (build, threads) = _decode(connection.recv_bytes())
    torch.set_num_threads(threads)  # the training process's: sums split by thread round alike
    part = Part(*build(config))
    while True:
        try:
            op, arg = _decode(connection.recv_bytes())
        except (EOFError, OSError):  # the training process is gone
            return
        if op == "stop":  # nothing to flush or save: end at once, not after ~0.3 s of interpreter teardown
            os._exit(0)
        try:
            connection.send_bytes(_encode("ok", part.handle(op, arg)))
        except Exception:
            connection.send_bytes(_encode("error", traceback.format_exc()))


class WorkerPart:
    """A part computed in a worker process (``python -c _WORKER``), through a local socket."""

    def __init__(self, config, build: Build, index: int):
        self.index = index
        package_root = str(Path(__file__).resolve().parents[2])  # the worker imports this awake_tutorial
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)
        authkey = secrets.token_bytes(16)
        self.process.stdin.write(authkey.hex().encode() + b"\n")
        self.process.stdin.close()
        address = self.process.stdout.readline().decode().strip()
        if not address:
            self.process.wait(timeout=10)
            raise RuntimeError(f"the worker process of meta-batch part {index} did not start (exit code "
                               f"{self.process.returncode}); set meta_batch_shards: 1 to train in one process.")
        self.connection = Client(address, authkey=authkey)
        self.connection.send_bytes(_encode(config, (build, torch.get_num_threads())))

    def _ended(self) -> RuntimeError:
        return RuntimeError(f"the worker process of meta-batch part {self.index} ended (exit code "
                            f"{self.process.poll()}); set meta_batch_shards: 1 to train in one process.")

    def request(self, op: str, arg) -> None:
        try:
            self.connection.send_bytes(_encode(op, arg))
        except OSError:
            raise self._ended() from None

    def reply(self):
        try:
            status, value = _decode(self.connection.recv_bytes())
        except (EOFError, OSError):
            raise self._ended() from None
        if status == "error":
            raise RuntimeError(f"meta-batch part {self.index} failed in its worker process:\n{value}")
        return value

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.connection.send_bytes(_encode("stop", None))
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):  # e.g. interrupted in the middle of a request
                self.process.kill()
                self.process.wait()
        self.connection.close()
        self.process.stdout.close()


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Parts:
    """The parts of every meta-batch of one training: part 0 is the training's own learner, parts
    1..S-1 run in worker processes (``processes=False``, and by default on one core: in this
    process, one after another; same numbers). Use as a context manager: the workers end with it.

    Args:
        learner, sampler: this process's (part 0; the learner's policy is the one trained). The learner
            states its outer problem and updates from one (``outer_problem``, ``update``: the MAML family).
        config: the validated config (``meta_batch_shards`` S, and what ``build`` needs).
        build: config -> (learner, sampler) for the other parts, a module-level function.
    """

    def __init__(self, learner, sampler, config, build: Build, processes: bool | None = None):
        self.learner, self.count = learner, config.meta_batch_shards
        if processes is None:  # one core: the parts one after another here, same numbers (100 meta-batches
            processes = usable_cores() > 1  # on one core: 14 s, with a worker sharing the core 18 s, unsplit 12 s)
        self.local = Part(learner, sampler)
        self.others = []
        try:
            for index in range(1, self.count):
                self.others.append(WorkerPart(config, build, index) if processes else LocalPart(Part(*build(config))))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Parts":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for part in self.others:
            part.close()
        self.others = []

    def _all(self, op: str, arg, local: Callable):
        """[part 0's value, then each other part's]: the others get the request first, so all compute at once."""
        for part in self.others:
            part.request(op, arg)
        return [local()] + [part.reply() for part in self.others]

    def meta_batch(self, tasks: Sequence, seeds: Sequence[int], stopwatch: Stopwatch) -> tuple[dict, dict]:
        """One meta-batch of ``tasks`` (K) with per-task stream ``seeds``: every part samples and adapts
        its tasks, then one TRPO step on the weighted sum of their problems. Returns (summaries
        {"before", "after"} per task in task order, the TRPO log)."""
        sizes = part_sizes(len(tasks), self.count)
        bounds = np.cumsum([0, *sizes])
        theta = flatten(self.learner.meta_parameters()).detach().numpy()
        for part, start, end in zip(self.others, bounds[1:-1], bounds[2:]):
            part.request("batch", (list(tasks[start:end]), list(seeds[start:end]), theta))
        results = [self.local.batch(list(tasks[:sizes[0]]), list(seeds[:sizes[0]]), stopwatch=stopwatch)]
        with stopwatch("waiting"):  # for the other parts' sampling and inner loops
            results += [part.reply() for part in self.others]
        weights = [size / len(tasks) for size in sizes]
        local = self.local.problem

        def combined(op, local_call):
            def call(x):
                values = self._all(op, x.numpy(), lambda: local_call(x))
                if isinstance(values[0], tuple):  # (losses, KLs)
                    return tuple(weighted_sum([_tensor(v[i]) for v in values], weights) for i in range(2))
                return weighted_sum([_tensor(v) for v in values], weights)
            return call

        evaluate_many = None if local.evaluate_many is None else combined("evaluate_many", local.evaluate_many)
        problem = OuterProblem(weighted_sum([r["loss"] for r in results], weights),
                               weighted_sum([_tensor(r["gradient"]) for r in results], weights),
                               combined("fisher", local.fisher), combined("evaluate", local.evaluate),
                               evaluate_many, local.per_pass)
        with stopwatch("outer"):
            log = self.learner.update(problem)
        summaries = {when: {key: [x for r in results for x in r[when][key]] for key in results[0][when]}
                     for when in ("before", "after")}
        return summaries, log


def _tensor(value):
    """A part's reply as a tensor (numpy arrays; floats, e.g. one trial step's loss, stay floats)."""
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value
