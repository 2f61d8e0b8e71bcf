"""The course notebooks and their solutions notebooks (``notebooks/solutions/``): .py
(jupytext percent, the source of truth) and .ipynb stay in sync, the .ipynb are committed
without outputs, and notebooks stay thin (no algorithm code, except in graded-exercise
cells: "exercise-stub" in a learner notebook, "solution" in a solutions notebook).

A learner notebook holds no solution: each stub is graded right below it by
``exercises.graded`` (the learner's own function, nothing redefines it in between), and
its solution lives in the solutions notebook of the same name, followed by an ``assert``
of the same checker. Running them all is nbval's job: ``pytest --nbval-lax notebooks/``
(it collects ``notebooks/solutions/`` too).
"""

import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTION_DIR = NOTEBOOK_DIR / "solutions"
NAMES = [
    "01_awake_steering_problem",
    "02_ppo_single_task",
    "03_inner_loop_adaptation",
    "04_meta_training",
    "05_pretrained_meta_policy",
    "06_comparison",
    "07_control_room",
    "08_capstone",
    "09_black_box_meta_rl",
]
# Algorithm code belongs in awake_tutorial; a notebook only calls it.
FORBIDDEN_IN_CODE = ["torch.autograd", "backward(", "lstsq", "torch.optim", "torch.func",
                     "np.linalg.solve", "np.linalg.inv", "lsq_linear", "conjugate_gradient("]
# The explicit marker that lets a cell hold algorithm code: the learner's stub and its solution.
EXERCISE_TAGS = {"exercise-stub", "solution"}
# every notebook file: the learner's and its solutions
ALL = [NOTEBOOK_DIR / name for name in NAMES] + [SOLUTION_DIR / name for name in NAMES]
ALL_IDS = NAMES + [f"solutions/{name}" for name in NAMES]


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell_type, source) of every cell, as jupytext reads the file."""
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def code_of(name: str, exercises: bool = True, directory: Path = NOTEBOOK_DIR) -> list[str]:
    """Sources of the code cells; without the graded-exercise cells if ``exercises`` is False."""
    notebook = jupytext.read(directory / f"{name}.py")
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"
            and (exercises or not EXERCISE_TAGS & set(cell.metadata.get("tags", [])))]


def test_every_notebook_has_both_files_and_its_solutions_and_nothing_else_is_numbered():
    for directory in (NOTEBOOK_DIR, SOLUTION_DIR):
        numbered = {p.stem for p in directory.glob("[0-9][0-9]_*.*") if p.suffix in (".py", ".ipynb")}
        assert numbered == set(NAMES), f"{directory}: one file pair per course notebook, same names"
        for name in NAMES:
            assert (directory / f"{name}.py").exists(), f"{directory / name}.py missing"
            assert (directory / f"{name}.ipynb").exists(), f"{directory / name}.ipynb missing: run jupytext --sync"


@pytest.mark.parametrize("path", ALL, ids=ALL_IDS)
def test_py_and_ipynb_have_the_same_cells(path):
    py, ipynb = cells(path.with_suffix(".py")), cells(path.with_suffix(".ipynb"))
    assert len(py) == len(ipynb), f"{path}: cell counts differ; run `jupytext --sync {path}.py`"
    for i, (a, b) in enumerate(zip(py, ipynb)):
        assert a == b, f"{path}: cell {i} differs between .py and .ipynb; run jupytext --sync"


@pytest.mark.parametrize("path", ALL, ids=ALL_IDS)
def test_ipynb_is_paired_and_stored_without_outputs(path):
    name = path.name
    raw = json.loads(path.with_suffix(".ipynb").read_text())
    assert raw["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: a code cell has stored outputs"
            assert cell["execution_count"] is None, f"{name}: a code cell has an execution count"


@pytest.mark.parametrize("directory", [NOTEBOOK_DIR, SOLUTION_DIR], ids=["learner", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_notebooks_contain_no_algorithm_code(name, directory):
    # calling a checker is not algorithm code: `exercises.check_conjugate_gradient(` is allowed
    code = re.sub(r"exercises\.check_\w+\(", "", "\n".join(code_of(name, exercises=False, directory=directory)))
    for pattern in FORBIDDEN_IN_CODE:
        assert pattern not in code, f"{name}: `{pattern}` in a code cell; call awake_tutorial instead"
    tree = ast.parse("\n".join(code_of(name, directory=directory)))  # also: every code cell is valid Python
    classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    assert not classes, f"{name}: defines classes {classes}; put them in awake_tutorial"


@pytest.mark.parametrize("directory", [NOTEBOOK_DIR, SOLUTION_DIR], ids=["learner", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_first_code_cell_prints_the_mode_banner(name, directory):
    assert "print(mode_banner())" in code_of(name, directory=directory)[0]


@pytest.mark.parametrize("name", NAMES[1:])
def test_training_budgets_go_through_quick_budget(name):
    code = "\n".join(code_of(name))
    assert "budget(" in code
    # a literal number of batches/steps passed straight to training would ignore quick mode
    assert not re.search(r"(num_batches|total_timesteps)\s*=\s*\d", code), \
        f"{name}: a budget given as a literal; use budget(full, quick)"


@pytest.mark.parametrize("name", NAMES)
def test_learner_notebooks_hold_no_solution(name):
    """No solution cell, no collapsed answers, no code in the markdown: the solutions notebook
    holds them, and the learner notebook says where it is."""
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    for cell in notebook.cells:
        assert "solution" not in cell.metadata.get("tags", []), f"{name}: a solution cell in the learner notebook"
        if cell.cell_type == "markdown":
            assert "<details>" not in cell.source, f"{name}: collapsed answers belong to solutions/{name}"
            assert "```python" not in cell.source, f"{name}: solution code in markdown"
    assert f"solutions/{name}.ipynb" in notebook.cells[0].source, f"{name}: the head says where its solutions are"


def stubs_of(name: str) -> list[tuple[int, str]]:
    """(cell index, function name) of every exercise stub of a learner notebook."""
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return [(i, re.search(r"^def (\w+)\(", cell.source, re.M).group(1)) for i, cell in enumerate(notebook.cells)
            if "exercise-stub" in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("name", NAMES)
def test_graded_exercises_grade_the_learners_own_function(name):
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    stubs = stubs_of(name)
    assert len(stubs) >= (2 if name[:2] in ("01", "03", "04") else 1), f"{name}: too few graded exercises"
    for i, function in stubs:
        assert "raise NotImplementedError(" in notebook.cells[i].source
        check = notebook.cells[i + 1]
        assert check.cell_type == "code" and re.search(
            rf"^{function} = exercises\.graded\(exercises\.check_\w+, {function}\b", check.source, re.M), \
            f"{name}: the cell after the stub of {function} grades it with exercises.graded"
        defining = [j for j, cell in enumerate(notebook.cells) if cell.cell_type == "code"
                    and re.search(rf"^def {function}\(", cell.source, re.M)]
        assert defining == [i], f"{name}: only the stub defines {function} (nothing redefines the learner's code)"


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_has_a_checked_solution_in_its_solutions_notebook(name):
    notebook = jupytext.read(SOLUTION_DIR / f"{name}.py")
    learner = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    for i, function in stubs_of(name):
        checker = re.search(rf"^{function} = exercises\.graded\(exercises\.(check_\w+)", learner.cells[i + 1].source,
                            re.M).group(1)
        found = [j for j, cell in enumerate(notebook.cells) if "solution" in cell.metadata.get("tags", [])
                 and re.search(rf"^def {function}\(", cell.source, re.M)]
        assert len(found) == 1, f"solutions/{name}: one solution cell for {function}"
        assert notebook.cells[found[0] + 1].source.startswith(f"assert exercises.{checker}({function}"), \
            f"solutions/{name}: the cell after the solution of {function} asserts {checker}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_head_objectives_time_equations_and_quiz(name):
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    head = markdown[0]
    for heading in ("### Learning objectives", "**Prerequisites:**", "**Time:**"):
        assert heading in head, f"{name}: the first cell needs `{heading}`"
    assert re.search(r"\*\*Time:\*\*.*min", head), f"{name}: state the learner's time in minutes"
    text = "\n".join(markdown)
    assert "$$" in text, f"{name}: the key equations are written out next to the code"
    start = next(i for i, cell in enumerate(notebook.cells) if "## Self-check quiz" in cell.source)
    quiz = [cell for cell in notebook.cells[start + 1:] if cell.cell_type == "code"
            and cell.source.startswith("exercises.quiz(")]
    assert 3 <= len(quiz) <= 5, f"{name}: the quiz has 3-5 multiple-choice questions, found {len(quiz)}"
    for cell in quiz:  # collapsed in JupyterLab (the answers are in the code), readable in a plain viewer
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, f"{name}: quiz code collapsed"
        assert "answer=" in cell.source


def test_glossary_lists_every_config_key_and_the_scoring_convention():
    import dataclasses

    from awake_tutorial.config import Config, PPOConfig, RL2Config

    page = (NOTEBOOK_DIR / "README.md").read_text()
    for field in dataclasses.fields(Config):
        if field.name not in ("ppo", "rl2"):
            assert f"| `{field.name}` |" in page, f"notebooks/README.md: config key `{field.name}` missing"
    for section, cls in (("ppo", PPOConfig), ("rl2", RL2Config)):
        assert f"| `{section}.*` |" in page, f"notebooks/README.md: section `{section}` missing"
        for field in dataclasses.fields(cls):
            assert f"`{field.name}`" in page, f"notebooks/README.md: {section} key `{field.name}` missing"
    for heading in ("## The scoring convention", "## Glossary", "## Troubleshooting", "## Further reading"):
        assert heading in page
