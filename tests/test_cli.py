"""The awake-tutorial command line: real runs on tiny budgets, and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from awake_tutorial.paths import DATA_DIR
from awake_tutorial.config import load_config
from awake_tutorial.ui import cli
from awake_tutorial.controllers import InverseResponsePolicy
from awake_tutorial.envs import evaluate, per_task
from awake_tutorial.rl.policies import GaussianMLPPolicy
from awake_tutorial.runs.policy_files import save_policy
from awake_tutorial.physics.tasks import load_tasks
from tolerances import assert_same_tasks

TINY_META = ["--set", "meta_batch_size=2", "--set", "fast_batch_size=2", "--set", "num_steps=1",
             "--set", "max_steps=20"]
TINY_PPO = ["--set", "ppo={n_steps: 64, batch_size: 32, n_epochs: 1}", "--timesteps", "128"]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``awake-tutorial argv`` run in this process."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exit:  # argparse errors
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *words):
    lines = [line for line in err.splitlines() if "error" in line]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0]


def meta_record(b, n):
    return {"batch": b, "num_batches": n, "return_before": -9.0, "return_after": -5.0 + b,
            "length_before": 9.0, "length_after": 5.0, "success_before": 0.5, "success_after": 0.9,
            "kl": 1e-4, "step_accepted": True}


@pytest.mark.parametrize("argv, words", [
    (["nonsense"], ["invalid choice: 'nonsense'"]),
    ([], ["required: COMMAND"]),
    (["ppo", "--task-id", "0"], ["one of --train"]),
    (["ppo", "--task-id", "0", "--train", "--test"], ["one of --train"]),
    (["evaluate", "--policy", "inverse", "--tasks", "9"], ["unknown task id 9", "[0, 1, 2, 3, 4]"]),
    (["adapt", "--policy", "missing.pt"], ["missing.pt not found"]),
    (["evaluate", "--policy", "missing.zip"], ["missing.zip not found"]),
    (["meta-train", "--set", "fast_lrr=0.1"], ["unknown config key 'fast_lrr'", "fast_lr"]),
    (["meta-train", "--set", "fast_lr"], ["--set expects KEY=VALUE"]),
    (["meta-train", "--num-batches", "0"], ["'num_batches'", "integer >= 1"]),
    (["meta-train", "--resume"], ["--resume needs --run-dir"]),
    (["plot", "no_such_run"], ["does not exist"]),
])
def test_user_mistakes_give_one_line_and_status_2(capsys, argv, words):
    status, _, err = run(capsys, *argv)
    assert_one_line_error(status, err, *words)


def test_unwritable_or_used_run_folders_are_refused(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    status, _, err = run(capsys, "meta-train", "--run-dir", blocker / "run")
    assert_one_line_error(status, err, "cannot create the run folder")
    (tmp_path / "run" / "progress.jsonl").parent.mkdir()
    (tmp_path / "run" / "progress.jsonl").write_text("")
    status, _, err = run(capsys, "adapt", "--policy", "random", "--run-dir", tmp_path / "run")
    assert_one_line_error(status, err, "already holds a run", "--overwrite")


def test_plot_writes_the_figures_of_a_growing_run_folder(capsys, tmp_path):
    lines = [json.dumps(meta_record(b, 4)) for b in range(3)]
    (tmp_path / "progress.jsonl").write_text("\n".join(lines) + '\n{"batch": 3, "ret')
    status, out, _ = run(capsys, "plot", tmp_path, "--out", tmp_path / "figs")
    assert status == 0 and f"figure: {tmp_path / 'figs' / 'meta_training.png'}" in out
    assert (tmp_path / "figs" / "meta_training.png").read_bytes()[:4] == b"\x89PNG"
    status, _, err = run(capsys, "plot", tmp_path.parent)
    assert_one_line_error(status, err, "not a run folder")
    (tmp_path / "progress.jsonl").write_text('{"batch": 0, "ret')
    status, _, err = run(capsys, "plot", tmp_path)
    assert_one_line_error(status, err, "no complete record yet", "wait for the first batch")


def test_make_tasks_regenerates_the_shipped_tasks(capsys, tmp_path):
    status, out, _ = run(capsys, "make-tasks", "--out", tmp_path)
    assert status == 0 and str(tmp_path / "evaluation_tasks.npz") in out
    shipped = load_tasks(DATA_DIR / "evaluation_tasks.npz")
    assert_same_tasks(load_tasks(tmp_path / "evaluation_tasks.npz"), shipped)  # to OPTICS_RTOL


def test_evaluate_prints_a_table_and_writes_the_results(capsys, tmp_path):
    status, out, _ = run(capsys, "evaluate", "--policy", "inverse", "--tasks", "0", "3",
                         "--episodes", "4", "--seed", "1", "--out", tmp_path / "r.json")
    assert status == 0 and "task  steps  success  plain mean length" in out  # the course's score first
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["results"] == evaluate(per_task(InverseResponsePolicy), [0, 3], episodes=4, seed=1)
    save_policy(GaussianMLPPolicy(seed=0), tmp_path / "policy.pt")
    for policy in (tmp_path / "policy.pt", "random", "fewest-steps", "broyden", "inverse-nominal"):
        status, out, _ = run(capsys, "evaluate", "--policy", policy, "--tasks", "2", "--episodes", "2")
        assert status == 0 and out.splitlines()[-1].split()[0] == "2"


def test_evaluate_scores_a_gaussian_policy_as_compare_does(capsys, tmp_path):
    from awake_tutorial.runs.compare import compare_methods
    from awake_tutorial.config import load_config
    from awake_tutorial.physics.tasks import get_evaluation_task

    policy = GaussianMLPPolicy(seed=3)
    save_policy(policy, tmp_path / "policy.pt")
    args = ("evaluate", "--policy", tmp_path / "policy.pt", "--tasks", "1", "--episodes", "6", "--seed", "2")
    results = {}
    for extra in ((), ("--mean-action",)):
        status, _, _ = run(capsys, *args, *extra, "--out", tmp_path / "r.json")
        assert status == 0
        results[extra] = json.loads((tmp_path / "r.json").read_text())["results"][0]
    (meta_0,) = compare_methods([get_evaluation_task(1)], ["meta-0"], episodes=6, seed=2, meta_policy=policy,
                                config=load_config())
    sampled, mean_action = results[()], results[("--mean-action",)]  # compare: mean action first, sampled second
    assert (mean_action["mean_length"], mean_action["mean_return"]) == (meta_0["mean_length"], meta_0["mean_return"])
    assert np.mean(np.where(sampled["successes"], sampled["lengths"], 100)) == meta_0["sampled_steps_failed_as_max"]
    from awake_tutorial.runs.training import torch_threads

    with torch_threads(load_config().num_threads):  # as the CLI and compare run torch
        (mean,) = evaluate(policy.as_numpy_policy(), [1], episodes=6, seed=2)
    assert results[("--mean-action",)] == mean and results[()] != mean


def test_meta_train_plot_resume_and_adapt_on_tiny_budgets(capsys, tmp_path):
    run_dir = tmp_path / "meta"
    status, out, _ = run(capsys, "meta-train", "--num-batches", "1", "--seed", "2",
                         "--run-dir", run_dir, *TINY_META)
    assert status == 0 and "meta-training: 1 of 1 batches" in out
    assert {"config.yaml", "progress.jsonl", "policy.pt", "meta.json", "meta_training.png"} <= {
        p.name for p in run_dir.iterdir()}
    status, _, err = run(capsys, "meta-train", "--run-dir", run_dir, *TINY_META)
    assert_one_line_error(status, err, "already holds a run", "--resume")
    status, out, _ = run(capsys, "meta-train", "--num-batches", "2", "--seed", "2", "--resume",
                         "--run-dir", run_dir, *TINY_META)
    assert status == 0 and "meta-training: 2 of 2 batches" in out
    assert len((run_dir / "progress.jsonl").read_text().splitlines()) == 2
    status, out, _ = run(capsys, "adapt", "--policy", run_dir / "policy.pt", "--tasks", "0", "4",
                         "--num-batches", "2", "--run-dir", tmp_path / "adapt", *TINY_META)
    assert status == 0 and "adaptation of" in out
    assert [line.split()[0] for line in out.splitlines()[-4:-2]] == ["0", "4"]  # table rows
    saved = load_config(tmp_path / "adapt" / "config.yaml")  # meta-training's num_batches, unchanged
    assert saved.num_batches == load_config().num_batches == 500 and saved.meta_batch_size == 2
    assert json.loads((tmp_path / "adapt" / "adaptation.json").read_text())["adaptation_batches"] == 2
    status, out, _ = run(capsys, "plot", tmp_path / "adapt")
    assert status == 0 and "adaptation.png" in out


def test_ppo_train_then_test(capsys, tmp_path):
    model = tmp_path / "ppo.zip"
    status, out, _ = run(capsys, "ppo", "--train", "--task-id", "1", "--out", model, "--tasks", "1",
                         "--episodes", "3", *TINY_PPO)
    assert status == 0 and model.exists() and (tmp_path / "ppo_learning_curve.png").exists()
    assert json.loads(model.with_suffix(".json").read_text())["task_id"] == 1
    trained_table = out.splitlines()[-1]
    status, out, _ = run(capsys, "ppo", "--test", "--task-id", "1", "--out", model, "--tasks", "1",
                         "--episodes", "3")
    assert status == 0 and out.splitlines()[-1] == trained_table  # deterministic policy


def test_a_new_subcommand_is_one_module_and_one_line(capsys, monkeypatch):
    """The dispatcher imports the module named after the command: OPTIONS and run(args)."""
    import types

    from awake_tutorial.ui.cli.base import option

    module = types.ModuleType("awake_tutorial.ui.cli.hello_world")
    module.OPTIONS = (option("--name", default="AWAKE"),)
    module.run = lambda args: print(f"hello {args.name}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(cli.SUBCOMMANDS, "hello-world", "say hello")
    assert run(capsys, "hello-world", "--name", "CERN")[:2] == (0, "hello CERN\n")
    assert "say hello" in run(capsys, "--help")[1]


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("awake-tutorial")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name in ("meta-train", "adapt", "evaluate", "ppo", "plot", "make-tasks"):
        assert name in result.stdout


def test_help_loads_no_torch():
    """The dispatcher imports no command module for --help (cli's docstring): no torch,
    stable-baselines3, scipy or matplotlib; a command's own --help imports its module only."""
    heavy = "{'torch', 'stable_baselines3', 'scipy', 'matplotlib'}"
    code = ("import sys\nfrom awake_tutorial.ui import cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n"
            f"    pass\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))\n"
            "print(sorted(m for m in sys.modules if m.startswith('awake_tutorial.ui.cli.')))")
    result = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["[]", "['awake_tutorial.ui.cli.base']"]
    result = subprocess.run([sys.executable, "-c", code, "make-tasks", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert "'awake_tutorial.ui.cli.make_tasks'" in result.stdout.splitlines()[-1]
    assert "'awake_tutorial.ui.cli.compare'" not in result.stdout.splitlines()[-1]


def test_help_texts_are_plain_text(capsys):
    """No reStructuredText markup (``literal``, :func:`x`) leaks into --help."""
    pages = []
    for argv in (["--help"], *([name, "--help"] for name in cli.SUBCOMMANDS)):
        status, out, _ = run(capsys, *argv)
        assert status == 0
        pages.append(out)
    for page in pages:
        assert "``" not in page and ":func:" not in page and ":class:" not in page, page
    assert pages[0].splitlines()[2].startswith("awake-tutorial: the course's command line")
