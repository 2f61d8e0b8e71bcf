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
