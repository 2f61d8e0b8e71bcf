"""Figures of awake_tutorial.ui.plotting: they show the data they are given, and nothing leaks."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from awake_tutorial.ui import plotting, plotting_compare
from awake_tutorial.runs.folders import record_kind
from awake_tutorial.physics.tasks import Task, load_evaluation_tasks


def meta_records(n=6):
    rng = np.random.default_rng(0)
    records = []
    for b in range(n):
        per_task = [{f"{m}_{w}": float(rng.uniform(-5, 5)) for m in ("return", "length", "success")
                     for w in ("before", "after")} for _ in range(3)]
        record = {"batch": b, "num_batches": n, "kl": 1e-3 * (b + 1), "step_accepted": b % 2 == 0,
                  "per_task": per_task}
        for key in per_task[0]:
            record[key] = float(np.mean([t[key] for t in per_task]))
        records.append(record)
    return records


def adapt_records(task_ids=(0, 3), n=4):
    return [{"kind": "adapt", "batch": b, "num_batches": n, "task_id": t, "mean_return": -10.0 + b + t,
             "mean_length": 20.0 - b, "success_rate": b / n, "wall_time": float(b)}
            for b in range(n) for t in task_ids]


def ppo_records(n=5):
    return [{"kind": "ppo", "task_id": 0, "timesteps": 2048 * (i + 1), "total_timesteps": 2048 * n,
             "mean_return": -20.0 + i, "mean_length": 10.0 - i, "success_rate": i / n} for i in range(n)]


def line_data(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line.get_xdata(), line.get_ydata()


def test_no_pyplot_figures_stay_open_and_png_is_written(tmp_path):
    before = plt.get_fignums()
    fig = plotting.plot_adaptation(adapt_records())
    assert plt.get_fignums() == before  # closed at once: the inline backend won't show it twice
    path = plotting.save_figure(fig, tmp_path / "new" / "folder" / "adaptation.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_meta_training_curves_show_the_records():
    records = meta_records()
    fig = plotting.plot_meta_training(records)
    ax_return, ax_length, ax_success, ax_kl = fig.axes[:4]
    x, y = line_data(ax_return, "after adaptation")
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_allclose(y, [r["return_after"] for r in records])
    _, y = line_data(ax_length, "before adaptation")
    np.testing.assert_allclose(y, [r["length_before"] for r in records])
    _, accepted = line_data(ax_kl, "step accepted")
    _, rejected = line_data(ax_kl, "step rejected")
    np.testing.assert_allclose(accepted, [1e-3, 3e-3, 5e-3])
    np.testing.assert_allclose(rejected, [2e-3, 4e-3, 6e-3])
    assert "3/6 outer steps accepted" in fig._suptitle.get_text()
    # the shaded band spans the per-task range of every batch
    band = ax_return.collections[-1].get_paths()[0].vertices[:, 1]
    lows = [min(t["return_after"] for t in r["per_task"]) for r in records]
    highs = [max(t["return_after"] for t in r["per_task"]) for r in records]
    assert np.isclose(band.min(), min(lows)) and np.isclose(band.max(), max(highs))


def test_adaptation_and_ppo_curves_have_one_line_per_task():
    fig = plotting.plot_adaptation(adapt_records(task_ids=(0, 3)))
    ax_return, ax_length, ax_success = fig.axes
    x, y = line_data(ax_return, "task 3")
    np.testing.assert_array_equal(x, [0, 1, 2, 3])
    np.testing.assert_allclose(y, [-7, -6, -5, -4])
    assert len(ax_success.get_lines()) == 2 and ax_success.get_ylim()[1] > 1
    fig = plotting.plot_ppo_learning_curve(ppo_records())
    x, y = line_data(fig.axes[1], "task 0")
    np.testing.assert_array_equal(x, 2048 * np.arange(1, 6))
    np.testing.assert_allclose(y, 10.0 - np.arange(5))


def test_task_heatmaps_share_one_colour_scale():
    tasks = load_evaluation_tasks()[:3]
    fig = plotting.plot_tasks(tasks)
    limit = max(np.abs(t.response_h).max() for t in tasks)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    for image, task in zip(images, tasks):
        assert image.get_clim() == pytest.approx((-limit, limit))
        np.testing.assert_array_equal(image.get_array(), task.response_h)
    fig = plotting.plot_response_matrix(Task.from_response(np.eye(10), -2 * np.eye(10), task_id=7))
    (h, v) = [ax.images[0] for ax in fig.axes if ax.images]
    assert v.get_array().min() == -2 and "task 7: vertical" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="at least one task"):
        plotting.plot_tasks([])


def test_episode_trace_shows_readings_rms_actions_and_rewards():
    obs = np.array([[0.5] * 10, [0.2] * 10, [0.05] * 10])
    actions = np.full((2, 10), -0.3)
    fig = plotting.plot_episode(obs, actions, [-2.0, -0.5], title="inverse policy")
    ax_obs, ax_act, ax_rew = fig.axes
    np.testing.assert_allclose(line_data(ax_obs, "RMS")[1], [0.5, 0.2, 0.05])
    assert len(ax_act.get_lines()) == 10
    np.testing.assert_allclose([p.get_height() for p in ax_rew.patches], [-2.0, -0.5])


def test_comparison_bars_are_the_evaluation_numbers_with_quartiles_never_below_zero():
    results = {m: [{"task_id": t, "mean_length": 3.0 + t + i, "success_rate": 1.0 - 0.25 * i,
                    "lengths": [1, 1, 1, 2, 100] if (m, t) == ("ppo", 0) else [2, 3, 4, 5]} for t in range(3)]
               for i, m in enumerate(["inverse", "ppo"])}
    fig = plotting_compare.plot_comparison(results)
    ax_len, ax_succ = fig.axes
    heights = [p.get_height() for p in ax_len.patches]
    assert heights == [3, 4, 5, 4, 5, 6]
    assert [p.get_height() for p in ax_succ.patches] == [1, 1, 1, 0.75, 0.75, 0.75]
    assert [t.get_text() for t in ax_len.get_legend().get_texts()] == ["inverse", "ppo"]
    # one interquartile line per bar, at the bar's centre; a skewed sample (mean 21 > Q3 = 2)
    # is drawn from Q1 to Q3, where a mean +- std bar would reach -18 steps
    segments = np.concatenate([c.get_segments() for c in ax_len.collections])
    centres = [p.get_x() + p.get_width() / 2 for p in ax_len.patches]
    np.testing.assert_allclose(segments[:, 0, 0], centres)
    np.testing.assert_allclose(segments[:, :, 1], [[2.75, 4.25]] * 3 + [[1, 2]] + [[2.75, 4.25]] * 2)
    assert segments[:, :, 1].min() >= 0
    # quartiles given (as compare.pooled_by_task writes them) draw the same lines
    given = {m: [{**r, "length_quartiles": np.percentile(r.pop("lengths"), [25, 50, 75]).tolist()} for r in rows]
             for m, rows in results.items()}
    ax_given = plotting_compare.plot_comparison(given).axes[0]
    np.testing.assert_allclose(np.concatenate([c.get_segments() for c in ax_given.collections]), segments)
    assert "interquartile" in ax_given.get_ylabel()
    with pytest.raises(ValueError, match="at least one method"):
        plotting_compare.plot_comparison({})


def summary_row(method, family, batches, machine_steps, steps, spread=0.5, sampled=None, task_set="evaluation"):
    key = "steps_failed_as_max"
    row = {"method": method, "family": family, "batches": batches, "task_set": task_set, "seeds": 4,
           "machine_steps": machine_steps, "machine_steps_min": machine_steps * 0.9,
           "machine_steps_max": machine_steps * 1.1, key: steps, f"{key}_min": steps - spread,
           f"{key}_max": steps + 2 * spread, f"sampled_{key}": sampled}
    if sampled is not None:
        row.update({f"sampled_{key}_min": sampled - 0.1, f"sampled_{key}_max": sampled + 0.1})
    return row


def test_steps_against_machine_steps_shows_each_family_at_its_cost():
    summary = [summary_row("meta-0", "meta", 0, 0, 9.0, sampled=8.0),
               summary_row("meta-4", "meta", 4, 300, 2.5, sampled=2.4),
               summary_row("meta-1", "meta", 1, 100, 3.0, sampled=3.2),
               summary_row("measure-correct", "measure-correct", 0, 11, 1.6),
               summary_row("fewest-steps", "fewest-steps", 0, 0, 1.5),
               summary_row("fewest-steps", "fewest-steps", 0, 0, 1.7, task_set="held-out")]
    fig = plotting_compare.plot_steps_vs_machine_steps(summary)
    ax_eval, ax_held = fig.axes
    assert ax_eval.get_xscale() == "symlog" and ax_eval.get_yscale() == "log"
    assert ax_eval.get_title() == "evaluation tasks (4 seeds)" and ax_held.get_title() == "held-out tasks (4 seeds)"
    x, y = line_data(ax_eval, "meta-policy")  # sorted by batches, joined
    np.testing.assert_allclose(x, [0, 100, 300])
    np.testing.assert_allclose(y, [9.0, 3.0, 2.5])
    (sampled,) = [line for line in ax_eval.get_lines() if line.get_color() == "tab:blue" and line.get_ls() == ":"]
    np.testing.assert_allclose(sampled.get_ydata(), [8.0, 3.2, 2.4])
    assert sampled.get_markerfacecolor() == "white"
    np.testing.assert_allclose(np.array(line_data(ax_eval, "measure then correct")), [[11], [1.6]])
    np.testing.assert_allclose(line_data(ax_held, "fewest steps (true R)")[1], [1.7])
    assert [t.get_text() for t in ax_eval.texts] == ["0", "1", "4"]  # batches, on the joined family only
    # error bars span min..max over seeds: never below zero
    bars = [seg for c in ax_eval.collections for seg in c.get_segments()]
    vertical = [seg for seg in bars if seg[0][0] == seg[1][0] and seg[0][1] != seg[1][1]]
    assert sorted((round(s[0][1], 6), round(s[1][1], 6)) for s in vertical if s[0][0] == 11) == [(1.1, 2.6)]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["meta-policy", "measure then correct", "fewest steps (true R)", "open: sampled actions"]
    with pytest.raises(ValueError, match="at least one summary row"):
        plotting_compare.plot_steps_vs_machine_steps([])


def test_standard_figures_pick_the_kind_of_log():
    assert set(plotting.standard_figures(meta_records())) == {"meta_training"}
    assert set(plotting.standard_figures(adapt_records())) == {"adaptation"}
    assert set(plotting.standard_figures(ppo_records())) == {"ppo_learning_curve"}
    with pytest.raises(ValueError, match="no complete record"):
        record_kind([])
    with pytest.raises(ValueError, match="unrecognized"):
        record_kind([{"foo": 1}])


def test_method_summary_shows_steps_over_fewest_and_success_per_task_set():
    summary = [{"method": m, "task_set": t, "steps_over_fewest": ratio * (2 if t == "heldout" else 1),
                "success_rate": success, "worst_success_rate": success / 2}
               for t in ("evaluation", "heldout")
               for m, ratio, success in (("ppo", 8.0, 0.5), ("inverse", 2.0, 1.0), ("fewest-steps", 1.0, 1.0))]
    fig = plotting_compare.plot_method_summary(summary)
    ax_ratio, ax_succ = fig.axes
    assert [p.get_height() for p in ax_ratio.patches] == [8, 2, 1, 16, 4, 2]
    assert ax_ratio.get_yscale() == "log" and [t.get_text() for t in ax_ratio.get_xticklabels()] == [
        "ppo", "inverse", "fewest-steps"]
    assert [p.get_height() for p in ax_succ.patches] == [0.5, 1, 1, 0.5, 1, 1]
    worst = np.concatenate([line.get_ydata() for line in ax_succ.get_lines()])
    np.testing.assert_allclose(worst, [0.25, 0.5, 0.5, 0.25, 0.5, 0.5])
    with pytest.raises(ValueError, match="at least one summary row"):
        plotting_compare.plot_method_summary([])


def test_beamline_figure_draws_the_given_line():
    line = {"s": np.array([0.0, 1.0, 2.0]), "beta_x": np.array([5.0, 6.0, 7.0]),
            "beta_y": np.array([4.0, 3.0, 2.0]), "centres": {"bpm": np.array([0.5]), "quadrupole": np.array([1.5])}}
    fig = plotting.plot_beamline(line)
    ax_layout, ax_beta = fig.axes[:2]
    np.testing.assert_array_equal(ax_beta.lines[0].get_ydata(), line["beta_x"])
    np.testing.assert_array_equal(ax_beta.lines[1].get_xdata(), line["s"])
    bpm = [ln for ln in ax_layout.lines if ln.get_label() == "bpm"][0]
    np.testing.assert_array_equal(bpm.get_xdata(), [0.5])
    plt.close(fig)
