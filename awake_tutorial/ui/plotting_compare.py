"""Figures comparing the methods of the course (data: :mod:`awake_tutorial.runs.compare`).

Like :mod:`awake_tutorial.ui.plotting`, each function takes plain data (evaluation results
or summary rows) and returns a :class:`matplotlib.figure.Figure`; nothing is shown.
Every spread drawn here cannot go below zero steps: interquartile ranges of episode
lengths, or the min..max range of per-seed means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, ScalarFormatter

from awake_tutorial.runs.compare import STEPS  # the headline score (failures count as max_steps)
from awake_tutorial.runs.methods import REGISTRY, family_of, resolve
from awake_tutorial.ui.plotting import _values, new_figure, save_figure



def families() -> dict[str, tuple[str, str, str]]:
    """Family of methods (the "family" of a summary row) -> (legend label, colour, marker),
    read from the registry when a figure is drawn (an entry added at run time is drawn too)."""
    return {family: (m.label, m.colour, m.marker) for family, m in REGISTRY.items()}


def registry_order(methods):
    """Method names in the registry's order (family, then batches); others last, as given."""
    rank = {family: i for i, family in enumerate(REGISTRY)}

    def key(name):
        family, batches = family_of(name)
        return rank.get(family, len(rank)), batches
    return sorted(methods, key=key)


def _grouped_bars(ax, categories, groups: Mapping[str, Sequence[float]]) -> np.ndarray:
    """At each category, one bar per group, side by side (NaN values leave a gap).
    Returns the bar centres, shape (groups, categories)."""
    width = 0.8 / len(groups)
    centres = []
    for i, (label, values) in enumerate(groups.items()):
        x = np.arange(len(categories)) + (i - (len(groups) - 1) / 2) * width
        ax.bar(x, values, width, label=label)
        centres.append(x)
    ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    return np.array(centres)


def _quartiles(result: Mapping) -> tuple[float, float] | None:
    """(25 %, 75 %) quantiles of the episode lengths: from "length_quartiles" (25, 50, 75 %)
    or from the "lengths" themselves; None if neither is known."""
    if result.get("length_quartiles") is not None:
        return result["length_quartiles"][0], result["length_quartiles"][2]
    if result.get("lengths"):
        return tuple(np.percentile(result["lengths"], [25, 75]))
    return None


def plot_comparison(results: Mapping[str, Sequence[Mapping]], title: str | None = None):
    """Methods side by side on the evaluation tasks.

    Args:
        results: method name -> output of :func:`awake_tutorial.envs.evaluate`
            (one dict per task with "task_id", "mean_length", "success_rate" and, for
            the spread, "lengths" or "length_quartiles" as
            :func:`awake_tutorial.runs.compare.pooled_by_task` gives).
    Bars: mean episode length (steps) with the interquartile range of the episode
    lengths as a black line (never below 0), and the success rate.
    """
    if not results:
        raise ValueError("plot_comparison needs at least one method's results.")
    task_ids = sorted({r["task_id"] for rows in results.values() for r in rows})
    tables = {method: {r["task_id"]: r for r in rows} for method, rows in results.items()}

    def column(key):
        return {m: _values([t.get(i, {}) for i in task_ids], key) for m, t in tables.items()}

    fig, axes = new_figure(1, 2, width=min(7.0, 2.0 + 0.3 * len(task_ids) * len(results)), height=3.2)
    ax_len, ax_succ = axes[0]
    centres = _grouped_bars(ax_len, task_ids, column("mean_length"))
    for x_method, table in zip(centres, tables.values()):
        for x, task_id in zip(x_method, task_ids):
            q1_q3 = _quartiles(table.get(task_id, {}))
            if q1_q3 is not None:
                ax_len.vlines(x, *q1_q3, color="k", lw=1.5)
    _grouped_bars(ax_succ, task_ids, column("success_rate"))
    spread = any(_quartiles(r) is not None for rows in results.values() for r in rows)
    for ax, ylabel in ((ax_len, "episode length (steps)" + ("\nblack: interquartile range" if spread else "")),
                       (ax_succ, "success rate")):
        ax.set(xlabel="evaluation task", ylabel=ylabel)
    ax_succ.set_ylim(0, 1.05)
    ax_len.legend(fontsize=8)
    fig.suptitle(title or "methods compared (lower length is better)")
    return fig


def plot_method_summary(summary: Sequence[Mapping]):
    """Every method on each task set (rows of :func:`awake_tutorial.runs.compare.summarize`):
    mean steps over the fewest-steps planner's (1 = the physical limit, log scale) and
    success rate (black tick: the worst task of the set)."""
    methods = registry_order(dict.fromkeys(r["method"] for r in summary))
    task_sets = list(dict.fromkeys(r["task_set"] for r in summary))
    if not methods:
        raise ValueError("plot_method_summary needs at least one summary row.")
    tables = {t: {r["method"]: r for r in summary if r["task_set"] == t} for t in task_sets}

    def column(key):
        return {f"{t} tasks": _values([tables[t].get(m, {}) for m in methods], key) for t in task_sets}

    fig, axes = new_figure(1, 2, width=min(7.0, 2.0 + 0.35 * len(methods) * len(task_sets)), height=3.4)
    ax_ratio, ax_succ = axes[0]
    _grouped_bars(ax_ratio, methods, column("steps_over_fewest"))
    ax_ratio.axhline(1.0, color="k", ls="--", lw=1, label="fewest steps (limit)")
    ax_ratio.set(yscale="log", ylabel="steps / fewest steps")
    centres = _grouped_bars(ax_succ, methods, column("success_rate"))
    for x, worst in zip(centres, column("worst_success_rate").values()):
        ax_succ.plot(x, worst, "k_", ms=10)
    ax_succ.set(ylabel="success rate", ylim=(0, 1.05))
    for label in ax_ratio.get_xticklabels() + ax_succ.get_xticklabels():
        label.set(rotation=30, horizontalalignment="right")
    ax_ratio.legend(fontsize=8)
    fig.suptitle("every method: steps needed and success")
    return fig


def _points(ax, rows: Sequence[Mapping], prefix: str, label: str | None, colour: str, marker: str, filled: bool):
    """One family's points (machine steps, steps) with min..max-over-seeds error bars."""
    x = np.array([r["machine_steps"] for r in rows], dtype=float)
    y = np.array([r[f"{prefix}{STEPS}"] for r in rows], dtype=float)
    x_range = np.array([[r["machine_steps_min"], r["machine_steps_max"]] for r in rows], dtype=float).T
    y_range = np.array([[r[f"{prefix}{STEPS}_min"], r[f"{prefix}{STEPS}_max"]] for r in rows], dtype=float).T
    ax.errorbar(x, y, xerr=np.abs(x_range - x), yerr=np.abs(y_range - y), fmt="none", ecolor=colour,
                elinewidth=1, capsize=2, alpha=0.8)
    ax.plot(x, y, marker=marker, ls="-" if filled else ":", color=colour, ms=7, label=label,
            mfc=colour if filled else "white")
    return x, y


def plot_steps_vs_machine_steps(summary: Sequence[Mapping], task_sets: Sequence[str] | None = None):
    """Steps per episode (y, failures counted as max_steps) against the machine steps spent
    on the task before acting (x, log scale with 0 at the left), one panel per task set.

    Rows of :func:`awake_tutorial.runs.compare.summarize` ("family", "batches", "machine_steps",
    ``steps_failed_as_max``, their ``_min``/``_max`` over seeds, ``sampled_`` twins). Filled markers: the headline (mean
    action, or the deterministic controller); open markers: the same Gaussian policy
    sampling its actions. Error bars: min..max over seeds of each seed's mean over tasks.
    Methods of one family (e.g. ``meta-0`` ... ``meta-4``) are joined and labelled with
    their number of adaptation batches.
    """
    task_sets = list(dict.fromkeys(r["task_set"] for r in summary)) if task_sets is None else list(task_sets)
    if not task_sets:
        raise ValueError("plot_steps_vs_machine_steps needs at least one summary row.")
    fig, axes = new_figure(1, len(task_sets), width=5.2, height=4.2, sharey=True)
    for ax, task_set in zip(axes[0], task_sets):
        mine = [r for r in summary if r["task_set"] == task_set]
        for family, (label, colour, marker) in families().items():
            rows = sorted((r for r in mine if r["family"] == family), key=lambda r: r["batches"])
            if not rows:
                continue
            x, y = _points(ax, rows, "", label, colour, marker, filled=True)
            if rows[0].get(f"sampled_{STEPS}") is not None:
                _points(ax, rows, "sampled_", None, colour, marker, filled=False)
            if len(rows) > 1:
                for r, xi, yi in zip(rows, x, y):
                    ax.annotate(str(r["batches"]), (xi, yi), xytext=(4, 4), textcoords="offset points",
                                fontsize=7, color=colour)
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 50, 100]))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlim(-0.2, 3e5)
        seeds = max((r.get("seeds", 1) for r in mine), default=1)
        ax.set(xlabel="machine steps spent on the task before acting", title=f"{task_set} tasks ({seeds} seeds)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0, 0].set_ylabel("steps per episode to 1 mm (failure = max_steps)")
    axes[0, 0].plot([], [], "o", color="gray", mfc="white", label="open: sampled actions")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=7)
    fig.suptitle("steps per episode against machine steps spent (numbers: adaptation batches; bars: min..max over seeds)",
                 fontsize=10)
    return fig


def plot_noise_study(summary: Sequence[Mapping], episodes: int, max_steps: int):
    """Steps per episode (failures = ``max_steps``) and success rate against BPM noise, one line
    per method (rows of :func:`awake_tutorial.runs.noise_study.summarize_noise`), coloured as
    its family in the registry, dashed for the methods given the true matrix; bars: std over seeds."""
    if not summary:
        raise ValueError("plot_noise_study needs at least one summary row.")
    fig, axes = new_figure(1, 2, width=5.5, height=4.2)
    ax_len, ax_succ = axes[0]
    markers = iter("osv^D<>phX*")
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["bpm_noise"])
        entry, batches = resolve(method)
        style = dict(color=entry.colour, linestyle="--" if entry.knows_response else "-", capsize=3,
                     marker=entry.marker if not entry.batches else next(markers), label=method,
                     alpha=1.0 if not entry.batches else 0.5 + 0.5 * (batches + 1) / (max(entry.batches) + 1))
        noise = [r["bpm_noise"] for r in rows]
        ax_len.errorbar(noise, [r[STEPS] for r in rows], yerr=[r[f"{STEPS}_std"] or 0 for r in rows], **style)
        ax_succ.errorbar(noise, [100 * r["success_rate"] for r in rows],
                         yerr=[100 * (r["success_rate_std"] or 0) for r in rows], **style)
    ax_len.set(xlabel="BPM noise std (mm)", ylabel=f"steps per episode (a failure counts {max_steps})",
               yscale="log", title="steps to reach < 1 mm measured RMS")
    ax_succ.set(xlabel="BPM noise std (mm)", ylabel="success rate (%)", ylim=(-5, 105),
                title="episodes that reach < 1 mm measured RMS")
    ax_len.legend(fontsize=7)
    for ax in (ax_len, ax_succ):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Evaluation tasks, {episodes} episodes per task and seed, mean actions; mean over "
                 f"{summary[0]['seeds']} seeds, bars: std over seeds (dashed: given the true matrix)", fontsize=10)
    return fig


def save_comparison_figures(summary: Sequence[Mapping], out_dir) -> dict[str, Path]:
    """The figures of a comparison folder, drawn from its summary rows
    (:func:`awake_tutorial.runs.compare.summarize`): ``comparison.png``
    (:func:`plot_method_summary`) and ``comparison_machine_steps.png``
    (:func:`plot_steps_vs_machine_steps`) in ``out_dir``, beside the tables that
    :func:`awake_tutorial.runs.compare.write_results` writes. Returns their paths as
    {"png": ..., "machine_steps_png": ...}; the figures are closed, not shown."""
    figures = {"png": (plot_method_summary, "comparison.png"),
               "machine_steps_png": (plot_steps_vs_machine_steps, "comparison_machine_steps.png")}
    paths = {}
    for key, (plot, name) in figures.items():
        fig = plot(summary)
        paths[key] = save_figure(fig, Path(out_dir) / name)
        plt.close(fig)
    return paths
