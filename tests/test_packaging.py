"""Setup files stay consistent: full pins, Binder equals the project, CI runs the README command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    result = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path.name}: '{line}' is not pinned with =="
        result[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version
    return result


def test_every_requirement_is_pinned_and_torch_is_the_cpu_pin():
    requirements = pins(ROOT / "requirements.txt")
    assert requirements["torch"] == "2.13.0"
    assert "torch[opt-einsum]==2.13.0" in (ROOT / "requirements.txt").read_text()
    for package in ["cheetah-accelerator", "gymnasium", "stable-baselines3", "jupyterlab", "nbval", "jupytext"]:
        assert package in requirements


def test_binder_pins_equal_project_pins():
    assert pins(ROOT / "binder" / "requirements.txt") == pins(ROOT / "requirements.txt")
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "set -e" in ci


def test_jupyterlab_news_popup_is_disabled_by_the_project_for_make_lab_and_binder():
    # the same plugin, at the environment's own level (never the learner's home folder)
    command = "jupyter labextension disable --level=sys_prefix @jupyterlab/apputils-extension:announcements"
    assert command in (ROOT / "binder" / "postBuild").read_text()
    assert command in (ROOT / "Makefile").read_text().replace("$(VENV)/bin/", "")


def test_the_supported_python_is_the_tested_one():
    tested = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"python={tested}" in (ROOT / "environment.yml").read_text()
    assert f'requires-python = ">={tested}"' in (ROOT / "pyproject.toml").read_text()
    assert f"Python {tested}" in (ROOT / "README.md").read_text()
