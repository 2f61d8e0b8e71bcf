"""Live dashboards, headless (no front-end needed); the progress-log reader: test_run_folders."""

import json
import threading
import time

import pytest

from awake_tutorial.ui import dashboard as dash

PNG = b"\x89PNG\r\n\x1a\n"


def meta_record(b, n=5):
    return {"batch": b, "num_batches": n, "return_before": -30.0, "return_after": -20.0 + b,
            "length_before": 50.0, "length_after": 40.0 - b, "success_before": 0.1,
            "success_after": 0.2, "kl": 1e-3, "step_accepted": True, "wall_time": 1.0 * b}


def adapt_batch(b, task_ids=(0, 1), n=3):
    return [{"kind": "adapt", "batch": b, "num_batches": n, "task_id": t, "mean_return": -5.0,
             "mean_length": 10.0 - b, "success_rate": 0.5, "wall_time": 0.1} for t in task_ids]


# --- dashboards ---------------------------------------------------------------------


def test_headless_dashboard_tracks_progress_silently(capsys):
    board = dash.MetaTrainingDashboard(5).display()  # not in a kernel: shows nothing
    assert not board.live
    for b in range(5):
        assert board(meta_record(b)) is False
    assert board.progress.value == 5 and len(board.records) == 5
    assert "batch 5/5" in board.label.value and "-30.0 -> -16.0" in board.label.value
    assert board.renders == 0 and bytes(board.image.value) == b""  # no figure drawn for nobody
    assert capsys.readouterr().out == ""


def test_live_redraws_are_throttled_and_the_last_one_is_final():
    board = dash.MetaTrainingDashboard(40, min_interval=60.0)
    board.live = True
    for b in range(40):
        board(meta_record(b, n=40))
    # first record draws, the next 38 are throttled, reaching the total forces a last draw
    assert board.renders == 2
    assert bytes(board.image.value).startswith(PNG)
    board.close()  # nothing new since the last draw: no extra draw
    assert board.renders == 2 and board.stop_button.disabled


def test_redraws_follow_the_interval(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(dash.time, "monotonic", lambda: clock[0])
    board = dash.PPODashboard(10_000, min_interval=0.5)
    board.live = True
    for i in range(10):
        clock[0] += 0.2  # a rollout every 0.2 s -> a redraw at most every 0.5 s
        board({"kind": "ppo", "task_id": 0, "timesteps": 100 * (i + 1), "mean_return": -1.0,
               "mean_length": 2.0, "success_rate": 1.0})
    assert board.renders == 4  # t = 0.2, 0.8, 1.4, 2.0
    assert board.progress.value == 1000 and "1000/10000 steps" in board.label.value


def test_stop_button_stops_training_cleanly():
    board = dash.MetaTrainingDashboard(100, min_interval=60.0)
    board.live = True
    assert board(meta_record(0, 100)) is False
    board.stop_button.click()  # what a click in JupyterLab triggers
    assert board.stop_button.description == "Stopping ..."
    assert board(meta_record(1, 100)) is True
    assert board.renders == 2  # the stop forces a final figure


def test_adaptation_dashboard_takes_a_batch_of_records():
    board = dash.AdaptationDashboard([0, 1], num_batches=3)
    for b in range(3):
        assert board(adapt_batch(b)) is False
    assert board.progress.value == 3 and len(board.records) == 6
    assert "task 1: 8.0 steps, 50%" in board.label.value
    fig = board.figure()
    assert len(fig.axes[0].get_lines()) == 2


TINY = dict(meta_batch_size=2, fast_batch_size=2, num_steps=1, max_steps=20)


def test_stop_ends_meta_training_cleanly(tmp_path):
    from awake_tutorial.config import load_config
    from awake_tutorial.runs.training import meta_train

    board = dash.MetaTrainingDashboard(10)
    board.live = True

    def click_during_batch_2(record):
        if record["batch"] == 1:
            board.stop_button.click()
        return board(record)

    result = meta_train(load_config(num_batches=10, **TINY), tmp_path, click_during_batch_2)
    assert len(result.records) == 2 and board.records == result.records
    assert json.loads((tmp_path / "meta.json").read_text())["status"] == "stopped"
    assert board.stop_button.description == "Stopped" and board.renders == 2


def test_adaptation_dashboard_is_an_adapt_callback():
    from awake_tutorial.config import load_config
    from awake_tutorial.physics.tasks import load_evaluation_tasks
    from awake_tutorial.runs.training import adapt

    tasks = load_evaluation_tasks()[:2]
    board = dash.AdaptationDashboard([t.id for t in tasks], num_batches=2)
    result = adapt(None, tasks, 2, load_config(**TINY), callback=board)
    assert board.records == result.records and board.progress.value == 2
    assert board.stop_button.description == "Done"


def test_text_fallback_is_one_short_line():
    board = dash.MetaTrainingDashboard(3)
    bundle = board._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("MetaTrainingDashboard:") and "\n" not in bundle["text/plain"]


def test_bad_total_is_a_clear_error():
    with pytest.raises(ValueError, match="total must be >= 1"):
        dash.MetaTrainingDashboard(0)


# --- watch ------------------------------------------------------------------------------


def write_run(run_dir, records, pause):
    """What a training process does: append complete lines, sometimes in two writes."""
    with open(run_dir / "progress.jsonl", "a") as f:
        for record in records:
            text = json.dumps(record) + "\n"
            f.write(text[:10])
            f.flush()
            time.sleep(pause)
            f.write(text[10:])
            f.flush()
    (run_dir / "meta.json").write_text(json.dumps({"kind": "meta_train", "status": "finished"}))


def test_watch_follows_a_growing_run_folder_until_it_finishes(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"kind": "meta_train", "status": "running"}))
    records = [meta_record(b, n=6) for b in range(6)]
    writer = threading.Thread(target=write_run, args=(tmp_path, records, 0.02))
    writer.start()
    board = dash.watch(tmp_path, poll_interval=0.01, timeout=30)
    writer.join()
    assert isinstance(board, dash.MetaTrainingDashboard)
    assert board.records == records and board.progress.value == 6


def test_watch_gives_up_after_the_timeout(tmp_path):
    start = time.monotonic()
    assert dash.watch(tmp_path / "not_yet", poll_interval=0.01, timeout=0.1) is None
    assert time.monotonic() - start < 5


def test_the_subshell_workaround_still_fits_ipykernel():
    """route_clicks_to_frontend_subshell overrides ipykernel 7's private comm routing hook.
    This fails when ipykernel changes it (renamed, new signature, no longer consulted by the
    shell-channel thread, new major version): then check the Stop button in JupyterLab and
    update the function and SUBSHELL_ROUTING_IPYKERNEL."""
    import inspect
    from importlib.metadata import version

    from ipykernel.comm.comm import BaseComm
    from ipykernel.kernelbase import Kernel

    assert int(version("ipykernel").split(".")[0]) in dash.SUBSHELL_ROUTING_IPYKERNEL
    assert list(inspect.signature(BaseComm._reply_subshell_for).parameters) == ["self", "data", "default"]
    assert "_reply_subshell_for" in inspect.getsource(Kernel.shell_channel_thread_main)

    class Widget:
        comm = BaseComm(target_name="jupyter.widget")  # no kernel: opening it sends nothing

    Widget.comm._reply_subshell_id = None  # the main shell sent on it last (as display() does)
    assert Widget.comm._reply_subshell_for({}, "front-end subshell") is None  # routed to the busy main shell
    assert dash.route_clicks_to_frontend_subshell(Widget())
    assert Widget.comm._reply_subshell_for({}, "front-end subshell") == "front-end subshell"
    assert not dash.route_clicks_to_frontend_subshell(object())  # no comm (e.g. closed): nothing to do


@pytest.mark.slow
def test_stop_click_over_a_subshell_reaches_a_busy_kernel():
    """Emulate JupyterLab >= 4.4: the click arrives on a kernel subshell while the cell runs."""
    jupyter_client = pytest.importorskip("jupyter_client")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        code = (
            "import time\n"
            "from awake_tutorial.ui.dashboard import MetaTrainingDashboard\n"
            "d = MetaTrainingDashboard(400, min_interval=60).display()\n"
            "rec = lambda b: dict(batch=b, num_batches=400, return_before=-3., return_after=-2.,\n"
            "    length_before=5., length_after=4., success_before=.1, success_after=.2, kl=.01)\n"
            "for b in range(400):\n"
            "    time.sleep(0.05)\n"
            "    if d(rec(b)):\n"
            "        print('stopped at batch', b); break\n"
        )
        msg_id = kc.execute(code)
        button, clicked, outputs = None, False, []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_open" and content["data"]["state"].get("_model_name") == "ButtonModel":
                button = content["comm_id"]
            if msg["parent_header"].get("msg_id") == msg_id:
                if kind in ("stream", "error"):
                    outputs.append(content.get("text") or content.get("evalue"))
                if kind == "status" and content["execution_state"] == "idle":
                    break
            if button and not clicked:
                kc.control_channel.send(kc.session.msg("create_subshell_request", {}))
                subshell = kc.control_channel.get_msg(timeout=10)["content"]["subshell_id"]
                click = kc.session.msg("comm_msg", {"comm_id": button, "data": {
                    "method": "custom", "content": {"event": "click"}}})
                click["header"]["subshell_id"] = subshell
                kc.shell_channel.send(click)
                clicked = True
        assert outputs and outputs[0].startswith("stopped at batch"), outputs
        assert int(outputs[0].split()[-1]) < 200  # long before the 400 batches (20 s) end
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.slow
def test_watch_follows_the_cli_in_another_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("awake-tutorial")
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [script, "meta-train", "--num-batches", "4", "--run-dir", run_dir, "--set", "meta_batch_size=2",
         "--set", "fast_batch_size=2", "--set", "num_steps=1", "--set", "max_steps=20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        board = dash.watch(run_dir, poll_interval=0.05, timeout=120)
    finally:
        assert process.wait(timeout=120) == 0
    assert [r["batch"] for r in board.records] == [0, 1, 2, 3]
    assert board.progress.value == 4 and board.stop_button.description == "Done"


@pytest.mark.slow
def test_headless_notebook_gets_one_output_and_the_final_figure():
    """nbval / nbclient: one widget output, no printed flood, final figure in the widget state."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    code = ("from awake_tutorial.ui.dashboard import MetaTrainingDashboard\n"
            "d = MetaTrainingDashboard(30, min_interval=0).display()\n"
            "for b in range(30):\n"
            "    d(dict(batch=b, num_batches=30, return_before=-3., return_after=-2., length_before=5.,\n"
            "           length_after=4., success_before=.1, success_after=.2, kl=.01))\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    (output,) = notebook.cells[0].outputs
    assert output.output_type == "display_data"
    assert "application/vnd.jupyter.widget-view+json" in output.data
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (image,) = [m for m in state.values() if m["model_name"] == "ImageModel"]
    assert image["buffers"], "the last figure is saved with the notebook"
