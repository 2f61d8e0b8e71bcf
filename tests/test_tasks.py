"""Task API: construction, validation, the task distribution and the shipped evaluation tasks."""

import subprocess
import sys

import numpy as np
import pytest

from awake_tutorial.physics import tasks
from awake_tutorial.physics.lattice_model import default_lattice
from awake_tutorial.physics.tasks import Task
from tolerances import assert_same_tasks


def test_from_response_defaults_vertical_to_horizontal_and_freezes():
    matrix = np.tril(np.arange(100.0).reshape(10, 10))
    task = Task.from_response(matrix, task_id=7)
    assert task.id == 7 and task.quad_scales == {}
    np.testing.assert_array_equal(task.response_v, matrix)
    assert task.response("vertical") is task.response_v
    with pytest.raises(ValueError):
        task.response_h[0, 0] = 1.0  # read-only: a task cannot be changed behind the env's back


@pytest.mark.parametrize("bad, message", [
    (np.ones((10, 9)), r"shape \(10, 10\)"),
    (np.full((10, 10), np.nan), "NaN or inf"),
    (np.full((10, 10), np.inf), "NaN or inf"),
])
def test_bad_matrices_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        Task.from_response(bad)


def test_unknown_plane_is_an_error():
    with pytest.raises(ValueError, match="horizontal"):
        Task.from_response(np.eye(10)).response("diagonal")


def test_task_from_quad_scales():
    nominal = tasks.task_from_quad_scales({})
    assert nominal.quad_scales == {k: 1.0 for k in default_lattice().knob_names}
    changed = tasks.task_from_quad_scales({"kqd412347": 0.8}, task_id=3)
    assert changed.id == 3 and changed.quad_scales["kqd412347"] == 0.8
    assert not np.allclose(changed.response_h, nominal.response_h)
    with pytest.raises(KeyError, match="unknown quadrupole knob.*kqd9999"):
        tasks.task_from_quad_scales({"kqd9999": 1.0})
    with pytest.raises(ValueError, match="finite"):
        tasks.task_from_quad_scales({"kqd412347": float("nan")})


def test_sample_tasks_is_seeded_and_in_range():
    a, b, c = tasks.sample_tasks(6, seed=1), tasks.sample_tasks(6, seed=1), tasks.sample_tasks(6, seed=2)
    assert a == b and a != c
    assert [t.id for t in a] == list(range(6))
    scales = np.array([[t.quad_scales[k] for k in default_lattice().knob_names] for t in a])
    assert np.all((scales >= 0.75) & (scales <= 1.25))
    # each task's matrices are those of its own quad setting
    single = tasks.task_from_quad_scales(a[4].quad_scales, task_id=4)
    np.testing.assert_allclose(single.response_h, a[4].response_h, rtol=1e-12, atol=1e-12)
    assert tasks.sample_tasks(0, seed=0) == []


def test_evaluation_tasks_regenerate_to_float_tolerance(tmp_path):
    """Regenerating reproduces the shipped tasks: the knob scales exactly, the matrices to
    OPTICS_RTOL (other CPUs differ in the last bits; see tests/tolerances.py)."""
    shipped = tasks.load_evaluation_tasks()
    assert [t.id for t in shipped] == [0, 1, 2, 3, 4]
    assert shipped[0].quad_scales == {k: 1.0 for k in default_lattice().knob_names}
    path = tasks.write_evaluation_tasks(tmp_path)
    assert_same_tasks(tasks.load_tasks(path), shipped)


def perturbed(task_list, how):
    return [Task(id=t.id, quad_scales=t.quad_scales, response_h=how(t.response_h), response_v=how(t.response_v))
            for t in task_list]


def test_the_task_tolerance_admits_last_bit_noise_and_catches_real_changes():
    shipped = tasks.load_evaluation_tasks()

    def few_ulp(matrix):  # what another CPU does: every entry 3 ulp away
        out = matrix.copy()
        for _ in range(3):
            out = np.nextafter(out, np.inf)
        return out

    assert_same_tasks(perturbed(shipped, few_ulp), shipped)
    with pytest.raises(AssertionError):  # a change of the computation, however small
        assert_same_tasks(perturbed(shipped, lambda m: m * (1 + 1e-9)), shipped)
    with pytest.raises(AssertionError):
        assert_same_tasks(shipped[::-1], shipped)


def test_evaluation_task_lookup_and_missing_file(tmp_path):
    assert tasks.get_evaluation_task(2).id == 2
    with pytest.raises(KeyError, match=r"unknown task id 9.*\[0, 1, 2, 3, 4\]"):
        tasks.get_evaluation_task(9)
    with pytest.raises(FileNotFoundError, match="make-tasks"):
        tasks.load_tasks(tmp_path / "nothing.npz")


def test_saved_tasks_hold_no_pickle(tmp_path):
    path = tmp_path / "t.npz"
    tasks.save_tasks(tasks.sample_tasks(2, seed=0), path)
    with np.load(path, allow_pickle=False) as z:  # would raise if any array were an object array
        assert set(z.files) == {"ids", "knobs", "quad_scales", "response_h", "response_v"}


def test_loading_the_shipped_tasks_does_not_import_the_optics():
    """Why tasks.py defers its optics import: envs and the EPICS server load the shipped
    tasks, and must not pay for Cheetah and torch (~2.5 s) they never use."""
    code = ("import sys, awake_tutorial.envs, awake_tutorial.machine.server\n"
            "from awake_tutorial.physics.tasks import load_evaluation_tasks\n"
            "load_evaluation_tasks()\n"
            "assert not {'cheetah', 'torch', 'awake_tutorial.physics.optics'} & set(sys.modules), sorted(sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
