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


# --- the task distribution object (issue 22.3) and the out-of-distribution set (issue 23) ---------


def test_the_default_distribution_draws_the_course_s_scales_bit_for_bit():
    from awake_tutorial.config import load_config

    expected = np.random.default_rng(7).uniform(0.75, 1.25, size=(5, 10))
    np.testing.assert_array_equal(tasks.TaskDistribution().sample_scales(5, seed=7), expected)
    np.testing.assert_array_equal(tasks.TaskDistribution.from_config(load_config()).sample_scales(5, 7), expected)
    np.testing.assert_array_equal(tasks.sample_quad_scales(5, seed=7), expected)


def test_a_wider_or_narrower_distribution_is_a_config_entry():
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.compare import heldout_tasks

    wide = tasks.TaskDistribution.from_config(load_config(task_distribution={"scale_low": 0.6, "scale_high": 1.4}))
    scales = wide.sample_scales(400, seed=0)
    assert scales.min() < 0.65 and scales.max() > 1.35 and 0.6 <= scales.min() and scales.max() <= 1.4
    knob = default_lattice().knob_names[3]
    config = load_config(task_distribution={"knobs": [knob]})
    (task,) = heldout_tasks(1, config)
    assert [k for k, s in task.quad_scales.items() if s != 1.0] == [knob]  # only that knob varies


def test_the_ood_set_leaves_the_training_range_and_has_its_faults():
    from awake_tutorial.config import load_config

    config = load_config()
    ood = tasks.TaskDistribution.from_config(config, "ood_tasks")
    scales = ood.sample_scales(50, seed=3)
    assert np.all(np.any((scales < 0.75) | (scales > 1.25), axis=1))  # every task is outside on a knob
    assert scales.min() >= 0.6 and scales.max() <= 1.4 and ood.bpm_noise == config.ood_tasks.bpm_noise > 0
    sampled, faults = ood.sample(3, seed=3, first_id=200), ood.faults(3, seed=3)
    plain = tasks.tasks_from_scales(scales[:3], range(200, 203))
    for task, clean, fault in zip(sampled, plain, faults):
        (dead,), ((j, gain),) = fault["dead_bpms"], fault["correctors"].items()
        assert np.all(task.response_h[dead] == 0) and np.all(task.response_v[dead] == 0)
        assert gain == pytest.approx(1.2) or gain == pytest.approx(0.8)
        np.testing.assert_allclose(task.response_h[:, j][np.arange(10) != dead],
                                   gain * clean.response_h[:, j][np.arange(10) != dead])
        assert task.quad_scales == clean.quad_scales


def test_bad_task_distributions_are_clear_errors():
    from awake_tutorial.config import TaskDistributionConfig, load_config

    with pytest.raises(ValueError, match="unknown knob"):
        tasks.TaskDistribution(TaskDistributionConfig(knobs=("nope",)))
    with pytest.raises(ValueError, match="swap them"):
        load_config(task_distribution={"scale_low": 1.3})
    with pytest.raises(ValueError, match="never leaves"):
        tasks.TaskDistribution(TaskDistributionConfig(outside_low=0.5, outside_high=1.5))
    with pytest.raises(ValueError, match="unknown config key 'ood_tasks.dead_bpm'"):
        load_config(ood_tasks={"dead_bpm": 1})
    assert load_config(ood_tasks={"bpm_noise": 0.3}).ood_tasks.scale_low == 0.6  # a partial entry keeps the rest


def test_meta_training_draws_its_tasks_from_the_config_s_distribution(monkeypatch):
    from awake_tutorial.config import load_config
    from awake_tutorial.runs import training

    seen = []

    def spy(config, key="task_distribution"):
        seen.append(getattr(config, key))
        return tasks.TaskDistribution(getattr(config, key))

    monkeypatch.setattr(training.TaskDistribution, "from_config", staticmethod(spy))
    knob = default_lattice().knob_names[0]
    config = load_config(num_batches=1, meta_batch_size=2, fast_batch_size=2, max_steps=10,
                         task_distribution={"knobs": [knob], "scale_low": 0.9})
    training.meta_train(config)
    assert seen == [config.task_distribution] and seen[0].knobs == (knob,)
