"""Golden files: the same seeds give the same numbers as before a refactor (issue 15).

The files in ``tests/data/golden/`` were recorded on the development machine before the
rollout engine was unified (``python tests/test_golden.py --record`` rewrites them; only
do that for an intended change of the numbers). Tolerance: rtol 1e-9, atol 1e-12: on the
machine that recorded them the numbers are bit-identical.

They guard refactors on the development machine, not results across machines: another CPU
(or BLAS, numpy, torch) differs in the last bits of float32/float64 kernels (see
tests/tolerances.py), and a rollout or a training run carries that difference on to every
later step. So ``machine.json`` records where the files were made, and on another machine
the test is skipped and says how to record them there before a refactor.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "data" / "golden"
RTOL, ATOL = 1e-9, 1e-12
MACHINE_FILE = GOLDEN / "machine.json"


def machine() -> dict:
    """What decides the last bits of the float kernels: CPU, its vector units, library versions."""
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor())
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))
    found = {"system": platform.system(), "machine": platform.machine(), "cpu": model,
             "vector_units": sorted(flags & {"avx", "avx2", "avx512f", "fma"}),
             "numpy": np.__version__, "torch": torch.__version__}
    # another CPU's kernels chosen by hand (.ci/run's second and third passes) make another machine
    kernels = {name: os.environ[name] for name in KERNEL_VARIABLES if os.environ.get(name)}
    return {**found, "kernels": kernels} if kernels else found


KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "MKL_ENABLE_INSTRUCTIONS")
TIMING_KEYS = ("timings", "wall_time")


def _plain(value):
    """JSON-ready copy: arrays and tensors to lists, numpy scalars to Python."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def training_log() -> list[dict]:
    """(a) A short seeded meta-training progress log, without timings."""
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.training import meta_train

    records = meta_train(load_config(num_batches=3, meta_batch_size=4, fast_batch_size=4)).records
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def compare_table() -> list[dict]:
    """(b) The quick-mode comparison table: 2 tasks, inverse, meta-1, measure-correct, 4 episodes."""
    from awake_tutorial.runs.compare import compare_methods
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.pretrained import load_pretrained
    from awake_tutorial.physics.tasks import load_evaluation_tasks

    return compare_methods(load_evaluation_tasks()[:2], ["inverse", "meta-1", "measure-correct"], episodes=4,
                           seed=0, meta_policy=load_pretrained("meta"), config=load_config())


def evaluate_results() -> dict:
    """(c) benchmark.evaluate for a sampling Gaussian policy and the inverse policy (with BPM noise too)."""
    from awake_tutorial.controllers import InverseResponsePolicy
    from awake_tutorial.envs import evaluate, per_task
    from awake_tutorial.runs.pretrained import load_pretrained
    from awake_tutorial.physics.tasks import load_evaluation_tasks

    tasks = load_evaluation_tasks()[:3]
    sampling = load_pretrained("meta").as_numpy_policy(deterministic=False, seed=3)
    return {"gaussian_sampling": evaluate(sampling, tasks, episodes=6, seed=2, max_steps=40),
            "inverse": evaluate(per_task(InverseResponsePolicy), tasks, episodes=6, seed=5),
            "inverse_bpm_noise": evaluate(per_task(InverseResponsePolicy), tasks, episodes=6, seed=5,
                                          bpm_noise=0.3)}


def sampler_episodes() -> dict:
    """(d) MultiTaskSampler episodes for fixed seeds: a seeded call, a continued one, BPM noise."""
    from awake_tutorial.rl.policies import GaussianMLPPolicy
    from awake_tutorial.envs import AwakeSteeringVectorEnv
    from awake_tutorial.rl.samplers import MultiTaskSampler
    from awake_tutorial.physics.tasks import sample_tasks

    policy = GaussianMLPPolicy(10, 10, (16, 16), seed=4)
    tasks = sample_tasks(3, seed=11)
    out = {}
    for name, sampler in (("plain", MultiTaskSampler(3, AwakeSteeringVectorEnv.factory(max_steps=25))),
                          ("bpm_noise", MultiTaskSampler(3, AwakeSteeringVectorEnv.factory(max_steps=25, bpm_noise=0.4)))):
        streams = sampler.streams(tasks, [1, 2, 3])
        for call in ("seeded", "continued"):  # the first round starts the streams, the second continues them
            ep = streams.sample(policy)
            out[f"{name}_{call}"] = {"observations": ep.observations, "actions": ep.actions,
                                     "rewards": ep.rewards, "lengths": ep.mask.sum(1),
                                     "success": ep.success.float()}
    return out


CASES = {"training_log": training_log, "compare_table": compare_table,
         "evaluate_results": evaluate_results, "sampler_episodes": sampler_episodes}


def _assert_close(got, want, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys differ"
        for k in want:
            _assert_close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert isinstance(got, (int, float)), f"{where}: {got!r} is not a number"
        assert math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(got) and math.isnan(want)), \
            f"{where}: {got!r} != golden {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != golden {want!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_numbers_as_golden(name):
    recorded_on = json.loads(MACHINE_FILE.read_text())
    if machine() != recorded_on:
        pytest.skip(f"the golden files guard refactors on the machine that recorded them ({recorded_on}); this "
                    f"is {machine()}, whose float kernels differ in the last bits. Before a refactor, record "
                    "them here with `python tests/test_golden.py --record`.")
    want = json.loads((GOLDEN / f"{name}.json").read_text())
    _assert_close(_plain(CASES[name]()), want, name)


def test_another_machine_skips_and_says_how_to_record(tmp_path, monkeypatch):
    other = tmp_path / "machine.json"
    other.write_text(json.dumps({**machine(), "cpu": "another CPU"}))
    monkeypatch.setattr(sys.modules[__name__], "MACHINE_FILE", other)
    with pytest.raises(pytest.skip.Exception, match="--record"):
        test_same_numbers_as_golden("evaluate_results")


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    from awake_tutorial.atomic import write_json_atomic

    for name, make in CASES.items():
        write_json_atomic(GOLDEN / f"{name}.json", _plain(make()))
        print("wrote", GOLDEN / f"{name}.json")
    write_json_atomic(MACHINE_FILE, machine())
    print("wrote", MACHINE_FILE)
