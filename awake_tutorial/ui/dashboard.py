"""Live training dashboards for JupyterLab (ipywidgets), used as training callbacks.

    dashboard = MetaTrainingDashboard(config.num_batches)
    dashboard.display()
    meta_train(config, callback=dashboard)

A dashboard shows a progress bar, a one-line status, a Stop button and the figure of
:mod:`awake_tutorial.ui.plotting` for the records so far. Calling it with a record (or a
list of records) updates it and returns True once Stop was clicked, which ends training
cleanly after the current batch.

Figures are rendered to PNG and fed to one ``ipywidgets.Image``, so the output is a
single widget updated in place (no flicker, no pile of figures). Redraws are throttled:
at most every ``min_interval`` seconds, and never more than ~20 % of the wall time,
plus a final one. Outside a Jupyter kernel (scripts, CI) ``display()`` does nothing
and no figure is rendered, so a dashboard costs nothing there.

The Stop button is handled while the training cell is still running because JupyterLab
>= 4.4 sends widget messages to a kernel subshell (ipykernel >= 7, see
:func:`route_clicks_to_frontend_subshell`). In front-ends without subshells (VS Code, Notebook
< 7.4) the click only arrives after the cell: interrupt the kernel there instead.
"""

from __future__ import annotations

import io
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets

from awake_tutorial.ui import plotting
from awake_tutorial.runs.folders import PROGRESS_FILE, read_new_records, record_kind, run_finished

RENDER_SHARE = 0.2  # at most this fraction of the wall time goes into drawing figures


def in_jupyter_kernel() -> bool:
    """True when running inside a Jupyter kernel (a front-end may show widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (96 dpi, screen size)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


# ipykernel versions whose private comm routing route_clicks_to_frontend_subshell overrides
# (tests/test_dashboard.py fails when a new ipykernel changes it: then check and extend)
SUBSHELL_ROUTING_IPYKERNEL = (7,)


def route_clicks_to_frontend_subshell(widget) -> bool:
    """Let the front-end's messages to ``widget`` be handled while a cell is running.

    JupyterLab >= 4.4 sends widget messages on a kernel subshell (its own thread), but
    ipykernel 7 hands a comm's incoming message to the shell that last *sent* on the comm,
    which is the busy main shell here: a click would wait for training to end. Neither
    ipykernel nor ipywidgets has a public switch for this (ipykernel 7.4 decides in the
    private ``BaseComm._reply_subshell_for``), so this one function overrides that hook on
    this widget's comm only, and only on the ipykernel versions in
    :data:`SUBSHELL_ROUTING_IPYKERNEL`, keeping the subshell the front-end chose. Right for
    a widget that expects no reply (a button). Returns whether it did.
    """
    comm = getattr(widget, "comm", None)
    try:
        major = int(version("ipykernel").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return False
    if major not in SUBSHELL_ROUTING_IPYKERNEL or not hasattr(comm, "_reply_subshell_for"):
        return False
    comm._reply_subshell_for = lambda data, default: default
    return True


class Dashboard:
    """Progress bar + status + Stop button + live figure, fed with records.

    Args:
        total: value of the progress bar when training is complete (batches or steps).
        plot: records -> matplotlib Figure (a function of :mod:`awake_tutorial.ui.plotting`).
        title: shown left of the progress bar.
        min_interval: shortest time between two redraws of the figure, s.
    Subclasses say how far a record is (:meth:`position`) and what to print (:meth:`status`).
    """

    def __init__(self, total: int, plot: Callable, title: str, min_interval: float = 0.5):
        if int(total) < 1:
            raise ValueError(f"total must be >= 1 (batches or steps), got {total!r}.")
        self.total = int(total)
        self.plot = plot
        self.min_interval = float(min_interval)
        self.records: list[dict] = []
        self.stop_requested = False
        self.live = False  # render figures? set by display() inside a Jupyter kernel
        self.renders = 0  # number of figures drawn so far
        self._dirty = False  # records arrived since the last redraw
        self._last_render = -float("inf")  # time.monotonic() of the last redraw
        self._render_seconds = 0.0  # duration of the last redraw
        self.progress = widgets.IntProgress(value=0, min=0, max=self.total, description=title,
                                            style={"description_width": "initial"})
        self.label = widgets.Label(value="waiting for the first batch ...")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="end training after the current batch")
        self.stop_button.on_click(self._on_stop)
        route_clicks_to_frontend_subshell(self.stop_button)
        # hidden until the first figure: an empty Image shows as a broken-image icon
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        self.widget = widgets.VBox([widgets.HBox([self.progress, self.stop_button]), self.label,
                                    self.image])

    # --- what subclasses define ---
    def position(self, record: Mapping) -> int:
        """Progress bar value after ``record`` (default: batches done)."""
        return int(record["batch"]) + 1

    def status(self, records: Sequence[Mapping]) -> str:
        """One line about the newest records."""
        return f"{self.progress.value}/{self.total}"

    # --- the callback ---
    def __call__(self, record_or_records) -> bool:
        """Add one record (dict) or several (list); True = the user asked to stop."""
        new = [record_or_records] if isinstance(record_or_records, Mapping) else list(record_or_records)
        if new:
            self.records.extend(new)
            self._dirty = True
            self.progress.value = min(self.total, max(self.position(r) for r in new))
            self.label.value = self.status(new)
        finished = self.progress.value >= self.total or self.stop_requested
        self._maybe_render(force=finished)
        if finished:
            self.stop_button.disabled = True
            self.stop_button.description = "Stopped" if self.stop_requested else "Done"
        return self.stop_requested

    def _on_stop(self, _button=None) -> None:
        # Runs in a kernel subshell thread while training runs: only set flags.
        self.stop_requested = True
        self.stop_button.description = "Stopping ..."
        self.stop_button.disabled = True

    # --- drawing ---
    def _maybe_render(self, force: bool = False) -> None:
        if not self.live or not self._dirty:
            return
        wait = max(self.min_interval, self._render_seconds / RENDER_SHARE)
        if force or time.monotonic() - self._last_render >= wait:
            self.refresh()

    def figure(self):
        """The figure of all records so far (for saving or a static display)."""
        return self.plot(self.records)

    def refresh(self) -> None:
        """Redraw the figure now."""
        start = time.monotonic()
        self.image.value = figure_png(self.figure())
        self.image.layout.display = None
        self._render_seconds = time.monotonic() - start
        self._last_render = time.monotonic()
        self.renders += 1
        self._dirty = False

    def close(self) -> None:
        """Final redraw and disable the Stop button (call when training ended early)."""
        self._maybe_render(force=True)
        self.stop_button.disabled = True

    # --- showing ---
    def display(self) -> "Dashboard":
        """Show the dashboard in the notebook (no-op outside a Jupyter kernel)."""
        if in_jupyter_kernel():
            from IPython.display import display

            display(self)
            self.live = True
        return self

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # Front-ends without widgets (and saved notebooks) show this constant line
        # instead of the widget tree.
        bundle["text/plain"] = (f"{type(self).__name__}: live progress, Stop button and figure "
                                "(shown in JupyterLab)")
        return bundle


class MetaTrainingDashboard(Dashboard):
    """Dashboard for :func:`awake_tutorial.runs.training.meta_train` (one record per meta-batch)."""

    def __init__(self, num_batches: int, min_interval: float = 0.5):
        super().__init__(num_batches, plotting.plot_meta_training, "meta-batch", min_interval)

    def status(self, records):
        r = records[-1]
        step = "accepted" if r.get("step_accepted") else "rejected"
        return (f"batch {r['batch'] + 1}/{self.total}: return {r['return_before']:.1f} -> "
                f"{r['return_after']:.1f}, success {r['success_before']:.0%} -> "
                f"{r['success_after']:.0%}, KL {r.get('kl') or 0:.2g} ({step}), "
                f"{r.get('wall_time', 0):.0f} s")


class AdaptationDashboard(Dashboard):
    """Dashboard for :func:`awake_tutorial.runs.training.adapt` (one list of records per batch,
    one record per task)."""

    def __init__(self, task_ids: Sequence[int], num_batches: int, min_interval: float = 0.5):
        super().__init__(num_batches, plotting.plot_adaptation, "adaptation batch", min_interval)
        self.task_ids = list(task_ids)
        if self.task_ids:
            self.label.value = f"adapting to tasks {self.task_ids}: waiting for the first batch ..."

    def status(self, records):
        parts = ", ".join(f"task {r['task_id']}: {r['mean_length']:.1f} steps, "
                          f"{r['success_rate']:.0%}" for r in records)
        return f"batch {records[-1]['batch'] + 1}/{self.total}: {parts}"


class PPODashboard(Dashboard):
    """Dashboard for :func:`awake_tutorial.runs.ppo.train_ppo` (one record per rollout)."""

    def __init__(self, total_timesteps: int, min_interval: float = 0.5):
        super().__init__(total_timesteps, plotting.plot_ppo_learning_curve, "PPO steps",
                         min_interval)

    def position(self, record):
        return int(record["timesteps"])

    def status(self, records):
        r = records[-1]
        return (f"{r['timesteps']}/{self.total} steps: return {r['mean_return']:.1f}, "
                f"length {r['mean_length']:.1f}, success {r['success_rate']:.0%}")


def dashboard_for(record: Mapping, min_interval: float = 0.5) -> Dashboard:
    """The dashboard that fits a progress record (meta-training, adaptation or PPO)."""
    kind = record_kind([record])
    if kind == "adapt":
        return AdaptationDashboard([], record["num_batches"], min_interval)
    if kind == "ppo":
        return PPODashboard(record["total_timesteps"], min_interval)
    return MetaTrainingDashboard(record["num_batches"], min_interval)


def watch(run_dir, poll_interval: float = 1.0, timeout: float | None = None,
          min_interval: float = 0.5) -> Dashboard | None:
    """Follow a run folder another process is writing (e.g. ``awake-tutorial meta-train``
    in a terminal) and show its live dashboard.

    Polls ``progress.jsonl`` every ``poll_interval`` s and feeds new complete records to
    the dashboard. Returns when the run has finished (see
    :func:`~awake_tutorial.runs.folders.run_finished`), when Stop is clicked (this stops
    *watching*, not the other process) or after ``timeout`` s. Returns the dashboard
    (its ``.records`` hold everything read), or None if no record arrived in time.
    """
    run_dir = Path(run_dir)
    box = widgets.VBox([widgets.Label(f"waiting for {run_dir / PROGRESS_FILE} ...")])
    live = in_jupyter_kernel()
    if live:
        from IPython.display import display

        display(box)
    dashboard, offset, records = None, 0, []
    start = time.monotonic()
    while True:
        new, offset = read_new_records(run_dir / PROGRESS_FILE, offset)
        if new and dashboard is None:
            dashboard = dashboard_for(new[0], min_interval)
            dashboard.live = live
            box.children = [dashboard.widget]
        records.extend(new)
        if dashboard is not None and (dashboard(new) or run_finished(run_dir, records)):
            break
        if timeout is not None and time.monotonic() - start >= timeout:
            break
        time.sleep(poll_interval)
    if dashboard is not None:
        dashboard.close()
    return dashboard
