"""Every figure of the course, shared by the notebooks, the dashboard and the CLI
(the figures comparing methods live in :mod:`awake_tutorial.ui.plotting_compare`).

Functions take plain data (tasks, arrays, lists of record dicts as written to
``progress.jsonl``) and return a :class:`matplotlib.figure.Figure`; nothing is shown.
In a notebook the returned figure displays once; in a script use :func:`save_figure`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from awake_tutorial.envs.dynamics import SUCCESS_RMS  # success: RMS of the readings below this
from awake_tutorial.runs.folders import record_kind
from awake_tutorial.physics.tasks import Task

DENSE = 60  # curves with more points than this get no markers
COUNT_TICKS = {"integer": True, "steps": [1, 2, 5, 10]}  # x axes count batches or steps
BEFORE_AFTER = (("before", "before adaptation", "tab:gray"), ("after", "after adaptation", "tab:blue"))


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 4.0, height: float = 3.0, **kwargs):
    """A figure of ``nrows x ncols`` panels, ``width x height`` inches each.

    Made with pyplot (so Jupyter knows how to display it) and closed at once, so the
    inline backend does not show it a second time and scripts leak no open figures.
    """
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             layout="constrained", squeeze=False, **kwargs)
    plt.close(fig)
    return fig, axes


def save_figure(fig, path) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, e.g. .png), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


# --- tasks ------------------------------------------------------------------------


def _heatmap(ax, matrix: np.ndarray, limit: float, title: str):
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(title=title, xlabel="corrector", ylabel="BPM")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    return image


def plot_tasks(tasks: Sequence[Task], plane: str = "horizontal"):
    """Response matrices (m/rad) of several tasks side by side, on one colour scale."""
    tasks = list(tasks)
    if not tasks:
        raise ValueError("plot_tasks needs at least one task.")
    matrices = [task.response(plane) for task in tasks]
    limit = max(float(np.abs(m).max()) for m in matrices) or 1.0
    fig, axes = new_figure(1, len(tasks), width=3.4, height=3.2)
    for ax, task, matrix in zip(axes[0], tasks, matrices):
        image = _heatmap(ax, matrix, limit, f"task {task.id} ({plane})")
    fig.colorbar(image, ax=list(axes[0]), label="response (m/rad)", shrink=0.8)
    return fig


def plot_beamline(line: Mapping):
    """Element layout along s (m) and beta functions (m): ``line`` is ``optics.beamline(...)``."""
    fig, axes = new_figure(2, 1, width=9, height=1.8, sharex=True, gridspec_kw={"height_ratios": [1, 2.5]})
    ax_layout, ax_beta = axes[:, 0]
    for kind, marker, colour in (("bpm", "|", "tab:green"), ("corrector", "s", "tab:orange"),
                                 ("quadrupole", "D", "tab:blue"), ("bend_h", "^", "tab:red"),
                                 ("bend_v", "v", "tab:red")):
        s_kind = line["centres"].get(kind, np.zeros(0))
        ax_layout.plot(s_kind, np.zeros(len(s_kind)), marker, color=colour, ms=9, mew=2, label=kind)
    ax_layout.set(yticks=[], ylim=(-1, 1), title="TT43: element layout and beta functions")
    ax_layout.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05), frameon=False)
    for plane in ("x", "y"):
        ax_beta.plot(line["s"], line[f"beta_{plane}"], label=rf"$\beta_{plane}$")
    ax_beta.set(xlabel="s (m)", ylabel="beta (m)")
    ax_beta.legend()
    return fig


def plot_response_matrix(task: Task, planes: Sequence[str] = ("horizontal", "vertical")):
    """Heatmap of one task's response matrix per plane (m/rad): BPM reading per kick."""
    planes = [planes] if isinstance(planes, str) else list(planes)
    fig, axes = new_figure(1, len(planes), width=3.6, height=3.2)
    for ax, plane in zip(axes[0], planes):
        matrix = task.response(plane)
        limit = float(np.abs(matrix).max()) or 1.0
        image = _heatmap(ax, matrix, limit, f"task {task.id}: {plane}")
        fig.colorbar(image, ax=ax, label="m/rad", shrink=0.8)
    return fig


# --- one episode --------------------------------------------------------------------


def plot_episode(observations, actions, rewards, title: str | None = None):
    """Trace of one episode.

    Args:
        observations: (T+1, 10) BPM readings, 1.0 = 10 mm, the first one after reset.
        actions: (T, 10) corrector changes, 1.0 = 1e-4 rad.
        rewards: (T,) reward per step.
    """
    observations = np.asarray(observations, dtype=float)
    actions = np.asarray(actions, dtype=float).reshape(len(observations) - 1, -1)
    rewards = np.asarray(rewards, dtype=float).reshape(-1)
    steps = np.arange(len(observations))
    fig, axes = new_figure(3, 1, width=7.0, height=2.2, sharex=True)
    ax_obs, ax_act, ax_rew = axes[:, 0]
    colours = plt.cm.viridis(np.linspace(0, 1, observations.shape[1]))
    for i, colour in enumerate(colours):
        ax_obs.plot(steps, observations[:, i], ".-", color=colour, lw=0.8, label=f"BPM {i}")
        if i < actions.shape[1]:
            ax_act.plot(steps[1:], actions[:, i], ".-", color=colour, lw=0.8)
    rms = np.sqrt(np.mean(observations**2, axis=1))
    ax_obs.plot(steps, rms, "k-", lw=2.5, label="RMS")
    ax_obs.axhline(SUCCESS_RMS, color="k", ls="--", lw=1, label="success (RMS)")
    ax_obs.set(ylabel="reading (1 = 10 mm)", ylim=(-1.05, 1.05), title=title)
    ax_obs.legend(fontsize=6, ncol=6, loc="lower right")
    ax_act.set(ylabel="action (1 = 0.1 mrad)", ylim=(-1.05, 1.05))
    ax_rew.bar(steps[1:], rewards, color="tab:red")
    ax_rew.set(ylabel="reward", xlabel="step")
    return fig


# --- learning curves ----------------------------------------------------------------


def _values(records: Sequence[Mapping], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in records])


def _panel(ax, x, records, key, label, colour, band_key=None):
    """One curve ``records[key]`` against ``x``; shaded min..max over tasks if known."""
    ax.xaxis.set_major_locator(MaxNLocator(**COUNT_TICKS))
    ax.plot(x, _values(records, key), ".-" if len(x) <= DENSE else "-", color=colour, label=label)
    if band_key and all(r.get("per_task") for r in records):
        per_task = np.array([[t[band_key] for t in r["per_task"]] for r in records], dtype=float)
        ax.fill_between(x, per_task.min(axis=1), per_task.max(axis=1), color=colour, alpha=0.15)


METRICS = (("return", "mean return"), ("length", "episode length (steps)"),
           ("success", "success rate"))


def plot_meta_training(records: Sequence[Mapping]):
    """Meta-training curves from meta-batch records: return, episode length and success
    before/after the inner adaptation step (shaded: range over the tasks), and the
    outer step's KL divergence with accepted (o) / rejected (x) steps."""
    records = list(records)
    fig, axes = new_figure(2, 2, width=4.2, height=2.8)
    x = _values(records, "batch") + 1
    for ax, (metric, ylabel) in zip(axes.flat, METRICS):
        for when, label, colour in BEFORE_AFTER:
            key = f"{metric}_{when}"
            _panel(ax, x, records, key, label, colour, band_key=key)
        ax.set(xlabel="meta-batch", ylabel=ylabel)
    axes[1, 0].set_ylim(-0.05, 1.05)
    axes[0, 0].legend(fontsize=8)
    ax_kl = axes[1, 1]
    kl = _values(records, "kl")
    accepted = np.array([bool(r.get("step_accepted")) for r in records], dtype=bool)
    size = 6 if len(x) <= DENSE else 2
    if len(x) <= DENSE:
        ax_kl.plot(x, kl, "-", color="tab:purple", lw=0.8)
    ax_kl.plot(x[accepted], kl[accepted], "o", ms=size, color="tab:purple", label="step accepted")
    ax_kl.plot(x[~accepted], kl[~accepted], "x", ms=size + 2, color="tab:red", label="step rejected")
    ax_kl.set(xlabel="meta-batch", ylabel="KL(new || old)")
    ax_kl.xaxis.set_major_locator(MaxNLocator(**COUNT_TICKS))
    ax_kl.legend(fontsize=8)
    fig.suptitle(f"meta-training: {int(accepted.sum())}/{len(records)} outer steps accepted")
    return fig


def _grouped_curves(records, group_key, x_key, panels, xlabel, title):
    """One panel per ``(key, ylabel)`` in ``panels``; one line per task (``group_key``)."""
    records = list(records)
    fig, axes = new_figure(1, len(panels), width=3.8, height=3.0)
    groups = sorted({r.get(group_key) for r in records}, key=str)
    colours = plt.cm.tab10(np.arange(len(groups)) % 10)
    for group, colour in zip(groups, colours):
        mine = [r for r in records if r.get(group_key) == group]
        label = None if group is None else f"task {group}"
        for ax, (key, _) in zip(axes[0], panels):
            _panel(ax, _values(mine, x_key), mine, key, label, colour)
    for ax, (key, ylabel) in zip(axes[0], panels):
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if key == "success_rate":
            ax.set_ylim(-0.05, 1.05)
    if any(group is not None for group in groups):
        axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


RATE_PANELS = (("mean_return", "mean return"), ("mean_length", "episode length (steps)"),
               ("success_rate", "success rate"))


def plot_adaptation(records: Sequence[Mapping]):
    """Adaptation curves per task: return, episode length and success rate against the
    adaptation batch (one inner gradient step per batch)."""
    return _grouped_curves(records, "task_id", "batch", RATE_PANELS,
                           "adaptation batch", "adaptation to each task")


def plot_ppo_learning_curve(records: Sequence[Mapping]):
    """PPO learning curve from rollout records: return, episode length and success rate
    of the episodes finished in each rollout against environment steps."""
    return _grouped_curves(records, "task_id", "timesteps", RATE_PANELS,
                           "environment steps", "PPO learning curve")


# --- a run folder's standard figures --------------------------------------------------


FIGURES = {"meta": {"meta_training": plot_meta_training},
           "adapt": {"adaptation": plot_adaptation},
           "ppo": {"ppo_learning_curve": plot_ppo_learning_curve}}


def standard_figures(records: Sequence[Mapping]) -> dict:
    """Figure name -> Figure: the standard figures of one progress log."""
    return {name: plot(records) for name, plot in FIGURES[record_kind(records)].items()}
