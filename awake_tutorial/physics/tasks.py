"""Tasks of the course: one quadrupole setting of the AWAKE line = one steering problem.

A :class:`Task` carries the two orbit response matrices (BPM position per corrector
kick, m/rad, shape 10 x 10) that the environment uses. Tasks are made from quad
knob scale factors through the optics model (:mod:`awake_tutorial.physics.optics`) of the
shipped lattice (:func:`~awake_tutorial.physics.lattice_model.default_lattice`), many at
once, or straight from given matrices (:meth:`Task.from_response`). Random tasks come from a
:class:`TaskDistribution` (which knobs, what ranges, which lattice, which machine faults),
read from the config (``task_distribution``; ``ood_tasks`` for the out-of-distribution set).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from awake_tutorial.atomic import atomic_path, write_json_atomic
from awake_tutorial.config import Config, TaskDistributionConfig
from awake_tutorial.paths import DATA_DIR, data_file
from awake_tutorial.physics.faults import apply_faults, draw_faults
from awake_tutorial.physics.lattice_model import default_lattice

N_BPMS = 10
N_CORRECTORS = 10
EVALUATION_TASKS_FILE = "evaluation_tasks.npz"
EVALUATION_SEED = 2024  # seed of the 4 random evaluation tasks (task 0 is nominal)


def _check_matrix(matrix, name: str) -> np.ndarray:
    array = np.asarray(matrix, dtype=np.float64)
    if array.shape != (N_BPMS, N_CORRECTORS):
        raise ValueError(
            f"{name} must have shape ({N_BPMS}, {N_CORRECTORS}) (BPMs x correctors), "
            f"got {array.shape}; pass one 10 x 10 response matrix in m/rad."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; a response matrix must be finite.")
    array = array.copy()
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Task:
    """One steering task.

    Attributes:
        id: integer task id (evaluation tasks are 0..4, 0 = nominal optics).
        quad_scales: knob name -> scale factor of its nominal strength (empty if
            the task was made from matrices).
        response_h, response_v: orbit response matrices, m/rad, shape (10, 10),
            rows = BPMs (first BPM dropped), columns = correctors (last dropped).
    """

    id: int
    response_h: np.ndarray
    response_v: np.ndarray
    quad_scales: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "id", int(self.id))
        object.__setattr__(self, "response_h", _check_matrix(self.response_h, "response_h"))
        object.__setattr__(self, "response_v", _check_matrix(self.response_v, "response_v"))
        object.__setattr__(self, "quad_scales", dict(self.quad_scales))

    @classmethod
    def from_response(cls, response_h, response_v=None, task_id: int = 0) -> "Task":
        """A task from given matrices; ``response_v`` defaults to ``response_h``."""
        response_v = response_h if response_v is None else response_v
        return cls(id=task_id, response_h=response_h, response_v=response_v)

    def response(self, plane: str = "horizontal") -> np.ndarray:
        """The response matrix of one plane ("horizontal" or "vertical"), m/rad."""
        if plane == "horizontal":
            return self.response_h
        if plane == "vertical":
            return self.response_v
        raise ValueError(f"unknown plane {plane!r}; use 'horizontal' or 'vertical'.")

    def __eq__(self, other) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return (
            self.id == other.id
            and self.quad_scales == other.quad_scales
            and np.array_equal(self.response_h, other.response_h)
            and np.array_equal(self.response_v, other.response_v)
        )

    __hash__ = None  # mutable-looking arrays inside: tasks are compared, not hashed


def tasks_from_scales(scales: np.ndarray, ids: Sequence[int], lattice=None) -> list[Task]:
    """Tasks of knob settings ``scales`` (n, knobs) on ``lattice`` (default: the shipped one)."""
    # Deferred: importing the optics (Cheetah, torch) costs ~2.5 s, which loading the shipped
    # tasks (every env, the EPICS server) must not pay; only making new tasks needs it.
    from awake_tutorial.physics.optics import response_matrices

    lattice = default_lattice() if lattice is None else lattice
    response_h, response_v = response_matrices(lattice, scales)
    return [
        Task(
            id=task_id,
            response_h=response_h[i],
            response_v=response_v[i],
            quad_scales={k: float(s) for k, s in zip(lattice.knob_names, scales[i])},
        )
        for i, task_id in enumerate(ids)
    ]


def task_from_quad_scales(scales: Mapping[str, float], task_id: int = 0) -> Task:
    """The task of one quad setting. Knobs not named keep their nominal strength."""
    knobs = default_lattice().knob_names
    unknown = sorted(set(scales) - set(knobs))
    if unknown:
        raise KeyError(f"unknown quadrupole knob(s) {unknown}; known knobs are {list(knobs)}.")
    row = np.array([[float(scales.get(k, 1.0)) for k in knobs]])
    if not np.all(np.isfinite(row)):
        raise ValueError(f"quad scale factors must be finite, got {dict(scales)}.")
    return tasks_from_scales(row, [task_id])[0]


LATTICES = {"default": default_lattice}  # the config's lattice name -> the lattice


class TaskDistribution:
    """Where random tasks come from: each of ``knobs`` (default every knob of the lattice)
    scaled by U(scale_low, scale_high), the others nominal; with ``outside_low <
    outside_high`` every task has a knob outside [outside_low, outside_high]; per task
    ``dead_bpms`` BPMs reading 0 and ``miscalibrated_correctors`` correctors off by
    +-``calibration_error`` (:mod:`awake_tutorial.physics.faults`). ``bpm_noise`` (mm) is
    the noise of the envs that score the set, not part of a task.

    ``TaskDistribution.from_config(config)``: meta-training, held-out and comparison tasks;
    ``from_config(config, "ood_tasks")``: the out-of-distribution test set. A wider or
    shifted distribution is a config entry (YAML: ``task_distribution: {scale_high: 1.4}``).
    """

    def __init__(self, settings: TaskDistributionConfig | None = None):
        self.settings = s = TaskDistributionConfig() if settings is None else settings
        self.lattice = LATTICES[s.lattice]()
        names = self.lattice.knob_names
        unknown = sorted(set(s.knobs) - set(names))
        if unknown:
            raise ValueError(f"task distribution: unknown knob(s) {unknown}; the lattice's knobs are {list(names)}.")
        self.columns = [names.index(k) for k in (s.knobs or names)]  # the knobs that vary
        if s.outside_low < s.outside_high and s.outside_low <= s.scale_low and s.scale_high <= s.outside_high:
            raise ValueError(f"task distribution: U({s.scale_low}, {s.scale_high}) never leaves "
                             f"[{s.outside_low}, {s.outside_high}]; widen scale_low/scale_high.")

    @classmethod
    def from_config(cls, config: Config, key: str = "task_distribution") -> "TaskDistribution":
        """The distribution of ``config.<key>`` ("task_distribution" or "ood_tasks")."""
        return cls(getattr(config, key))

    def with_scale_range(self, low: float, high: float) -> "TaskDistribution":
        """The same distribution with every varying knob scaled by U(low, high) (e.g. the
        config's ``train_scale_range`` for meta-training)."""
        return TaskDistribution(dataclasses.replace(self.settings, scale_low=low, scale_high=high))

    @property
    def bpm_noise(self) -> float:
        """BPM noise std, mm, of the envs that score this distribution's tasks."""
        return self.settings.bpm_noise

    def sample_scales(self, n: int, seed: int) -> np.ndarray:
        """``n`` knob settings (n, knobs of the lattice) from ``default_rng(seed)``: the course's
        distribution is exactly ``uniform(0.75, 1.25, (n, 10))``; with an outside range, rows
        without a knob outside it are dropped and more are drawn."""
        if int(n) < 0:
            raise ValueError(f"number of tasks must be >= 0, got {n}.")
        s, rng, kept = self.settings, np.random.default_rng(seed), []
        while not kept or sum(map(len, kept)) < int(n):
            draw = rng.uniform(s.scale_low, s.scale_high, size=(int(n), len(self.columns)))
            if s.outside_low < s.outside_high:
                draw = draw[np.any((draw < s.outside_low) | (draw > s.outside_high), axis=1)]
            kept.append(draw)
        scales = self.lattice.nominal_scales(int(n))
        scales[:, self.columns] = np.concatenate(kept)[:int(n)]
        return scales

    def faults(self, n: int, seed: int) -> list[dict]:
        """The faults of the ``n`` tasks of ``sample(n, seed)``: {"dead_bpms", "correctors"}."""
        s = self.settings
        return draw_faults(n, seed, s.dead_bpms, s.miscalibrated_correctors, s.calibration_error)

    def sample(self, n: int, seed: int, first_id: int = 0) -> list[Task]:
        """``n`` tasks (ids ``first_id``, ...), the optics of all in one batched call."""
        scales = self.sample_scales(n, seed)
        if len(scales) == 0:
            return []
        tasks = tasks_from_scales(scales, range(first_id, first_id + len(scales)), self.lattice)
        if not (self.settings.dead_bpms or self.settings.miscalibrated_correctors):
            return tasks
        return [Task(t.id, apply_faults(t.response_h, f), apply_faults(t.response_v, f), t.quad_scales)
                for t, f in zip(tasks, self.faults(n, seed))]


def sample_quad_scales(n: int, seed: int, scale_range: Sequence[float] | None = None) -> np.ndarray:
    """``n`` knob settings of the course's distribution, shape (n, 10), each U(0.75, 1.25)
    (or U(``scale_range``))."""
    return _distribution(scale_range).sample_scales(n, seed)


def sample_tasks(n: int, seed: int, first_id: int = 0, scale_range: Sequence[float] | None = None) -> list[Task]:
    """``n`` tasks from the course's task distribution (the config's default), or with every
    knob scaled by U(``scale_range``)."""
    return _distribution(scale_range).sample(n, seed, first_id)


def _distribution(scale_range: Sequence[float] | None) -> "TaskDistribution":
    return TaskDistribution() if scale_range is None else TaskDistribution().with_scale_range(*scale_range)


# --- the fixed evaluation tasks -------------------------------------------------


def make_evaluation_tasks() -> list[Task]:
    """Task 0 = nominal optics, tasks 1..4 = ``sample_quad_scales(4, EVALUATION_SEED)``."""
    scales = np.vstack([default_lattice().nominal_scales(), sample_quad_scales(4, EVALUATION_SEED)])
    return tasks_from_scales(scales, range(len(scales)))


def save_tasks(tasks: Sequence[Task], path: Path) -> None:
    """Write tasks to an .npz (arrays only, no pickle), atomically."""
    knobs = default_lattice().knob_names
    path = Path(path)
    arrays = {
        "ids": np.array([t.id for t in tasks], dtype=np.int64),
        "knobs": np.array(knobs),
        "quad_scales": np.array([[t.quad_scales.get(k, np.nan) for k in knobs] for t in tasks]),
        "response_h": np.stack([t.response_h for t in tasks]),
        "response_v": np.stack([t.response_v for t in tasks]),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_tasks(path: Path) -> list[Task]:
    """Read tasks written by :func:`save_tasks`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"task file {path} not found; regenerate the evaluation tasks with "
            "`awake-tutorial make-tasks`."
        )
    with np.load(path, allow_pickle=False) as z:
        knobs = [str(k) for k in z["knobs"]]
        return [
            Task(
                id=int(i),
                response_h=rh,
                response_v=rv,
                quad_scales={k: float(s) for k, s in zip(knobs, scales) if np.isfinite(s)},
            )
            for i, scales, rh, rv in zip(z["ids"], z["quad_scales"], z["response_h"], z["response_v"])
        ]


def load_evaluation_tasks() -> list[Task]:
    """The 5 fixed evaluation tasks shipped in ``data/evaluation_tasks.npz``."""
    return load_tasks(data_file(EVALUATION_TASKS_FILE))


def get_evaluation_task(task_id: int) -> Task:
    """One evaluation task by id, with a clear error for an unknown id."""
    tasks = load_evaluation_tasks()
    ids = [t.id for t in tasks]
    if isinstance(task_id, bool) or not isinstance(task_id, (int, np.integer)) or task_id not in ids:
        raise KeyError(f"unknown task id {task_id!r}; evaluation task ids are {ids}.")
    return tasks[ids.index(int(task_id))]


def write_evaluation_tasks(directory: Path | None = None) -> Path:
    """Regenerate ``evaluation_tasks.npz`` (+ a readable .json of the knob scales).

    Deterministic: the knob scales come from a fixed seed, so they are identical
    everywhere; the matrices are bit-identical on the machine that made the shipped file
    and agree to ~1e-13 of their largest entry on other CPUs (float64 last bits).
    This is what ``awake-tutorial make-tasks`` runs.
    """
    directory = Path(directory) if directory is not None else DATA_DIR
    directory.mkdir(parents=True, exist_ok=True)
    evaluation = make_evaluation_tasks()
    path = directory / EVALUATION_TASKS_FILE
    save_tasks(evaluation, path)
    summary = [{"id": t.id, "quad_scales": t.quad_scales} for t in evaluation]
    write_json_atomic(path.with_suffix(".json"), summary)
    return path
