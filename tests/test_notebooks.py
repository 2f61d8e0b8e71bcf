"""The course notebooks: .py (jupytext percent, the source of truth) and .ipynb stay in sync,
the .ipynb are committed without outputs, and notebooks stay thin (no algorithm code).

Running the notebooks themselves is nbval's job: ``pytest --nbval-lax notebooks/``.
"""

import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "01_awake_steering_problem",
    "02_ppo_single_task",
    "03_inner_loop_adaptation",
    "04_meta_training",
    "05_pretrained_meta_policy",
    "06_comparison",
]
# Algorithm code belongs in awake_tutorial; a notebook only calls it.
FORBIDDEN_IN_CODE = ["torch.autograd", "backward(", "lstsq", "torch.optim", "torch.func",
                     "np.linalg.solve", "np.linalg.inv", "lsq_linear", "conjugate_gradient("]


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell_type, source) of every cell, as jupytext reads the file."""
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def code_of(name: str) -> list[str]:
    return [source for kind, source in cells(NOTEBOOK_DIR / f"{name}.py") if kind == "code"]


def test_every_notebook_has_both_files_and_nothing_else_is_numbered():
    numbered = {p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.*") if p.suffix in (".py", ".ipynb")}
    assert numbered == set(NAMES)
    for name in NAMES:
        assert (NOTEBOOK_DIR / f"{name}.py").exists(), f"{name}.py missing"
        assert (NOTEBOOK_DIR / f"{name}.ipynb").exists(), f"{name}.ipynb missing: run jupytext --sync"


@pytest.mark.parametrize("name", NAMES)
def test_py_and_ipynb_have_the_same_cells(name):
    py, ipynb = cells(NOTEBOOK_DIR / f"{name}.py"), cells(NOTEBOOK_DIR / f"{name}.ipynb")
    assert len(py) == len(ipynb), f"{name}: cell counts differ; run `jupytext --sync notebooks/{name}.py`"
    for i, (a, b) in enumerate(zip(py, ipynb)):
        assert a == b, f"{name}: cell {i} differs between .py and .ipynb; run jupytext --sync"


@pytest.mark.parametrize("name", NAMES)
def test_ipynb_is_paired_and_stored_without_outputs(name):
    raw = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    assert raw["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: a code cell has stored outputs"
            assert cell["execution_count"] is None, f"{name}: a code cell has an execution count"


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_contain_no_algorithm_code(name):
    code = "\n".join(code_of(name))
    for pattern in FORBIDDEN_IN_CODE:
        assert pattern not in code, f"{name}: `{pattern}` in a code cell; call awake_tutorial instead"
    tree = ast.parse(code)  # also: every code cell is valid Python
    classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    assert not classes, f"{name}: defines classes {classes}; put them in awake_tutorial"


@pytest.mark.parametrize("name", NAMES)
def test_first_code_cell_prints_the_mode_banner(name):
    assert "print(mode_banner())" in code_of(name)[0]


@pytest.mark.parametrize("name", NAMES[1:])
def test_training_budgets_go_through_quick_budget(name):
    code = "\n".join(code_of(name))
    assert "budget(" in code
    # a literal number of batches/steps passed straight to training would ignore quick mode
    assert not re.search(r"(num_batches|total_timesteps)\s*=\s*\d", code), \
        f"{name}: a budget given as a literal; use budget(full, quick)"


def test_comparison_notebook_hides_its_solutions():
    markdown = [s for kind, s in cells(NOTEBOOK_DIR / "06_comparison.py") if kind == "markdown"]
    solutions = [s for s in markdown if "<details>" in s]
    assert len(solutions) >= 3, "exercises need collapsed solutions (<details><summary>Solution</summary>)"
    assert all("<summary>Solution" in s and "</details>" in s for s in solutions)
