"""The course notebooks: .py (jupytext percent, the source of truth) and .ipynb stay in sync,
the .ipynb are committed without outputs, and notebooks stay thin (no algorithm code,
except in graded-exercise cells, which carry the tag "exercise-stub" or "solution").

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
    "07_control_room",
    "09_black_box_meta_rl",
]
# Algorithm code belongs in awake_tutorial; a notebook only calls it.
FORBIDDEN_IN_CODE = ["torch.autograd", "backward(", "lstsq", "torch.optim", "torch.func",
                     "np.linalg.solve", "np.linalg.inv", "lsq_linear", "conjugate_gradient("]
# The explicit marker that lets a cell hold algorithm code: the learner's stub and its solution.
EXERCISE_TAGS = {"exercise-stub", "solution"}


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell_type, source) of every cell, as jupytext reads the file."""
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def code_of(name: str, exercises: bool = True) -> list[str]:
    """Sources of the code cells; without the graded-exercise cells if ``exercises`` is False."""
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"
            and (exercises or not EXERCISE_TAGS & set(cell.metadata.get("tags", [])))]


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
    # calling a checker is not algorithm code: `exercises.check_conjugate_gradient(` is allowed
    code = re.sub(r"exercises\.check_\w+\(", "", "\n".join(code_of(name, exercises=False)))
    for pattern in FORBIDDEN_IN_CODE:
        assert pattern not in code, f"{name}: `{pattern}` in a code cell; call awake_tutorial instead"
    tree = ast.parse("\n".join(code_of(name)))  # also: every code cell is valid Python
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
    solutions = [s for s in markdown if "<details>" in s and "<summary>Answers" not in s]  # not the quiz
    assert len(solutions) >= 3, "exercises need collapsed solutions (<details><summary>Solution</summary>)"
    assert all("<summary>Solution" in s and "</details>" in s for s in solutions)


def exercise_cells(name: str) -> list:
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return [(i, cell) for i, cell in enumerate(notebook.cells) if EXERCISE_TAGS & set(cell.metadata.get("tags", []))]


@pytest.mark.parametrize("name", NAMES)
def test_graded_exercises_have_stub_hidden_solution_and_check(name):
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    tagged = exercise_cells(name)
    stubs = [i for i, cell in tagged if "exercise-stub" in cell.metadata["tags"]]
    assert len(stubs) >= (2 if name[:2] in ("03", "04") else 1), f"{name}: too few graded exercises"
    for i in stubs:
        assert "raise NotImplementedError(" in notebook.cells[i].source
        solution = notebook.cells[i + 1]
        assert "solution" in solution.metadata.get("tags", []), f"{name}: a solution cell follows each stub"
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True, f"{name}: solutions are hidden"
        check = notebook.cells[i + 2]
        assert check.cell_type == "code" and "exercises.check_" in check.source, \
            f"{name}: the cell after a solution runs a checker (CI runs it on the solution)"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_head_objectives_time_equations_and_quiz(name):
    markdown = [s for kind, s in cells(NOTEBOOK_DIR / f"{name}.py") if kind == "markdown"]
    head = markdown[0]
    for heading in ("### Learning objectives", "**Prerequisites:**", "**Time:**"):
        assert heading in head, f"{name}: the first cell needs `{heading}`"
    assert re.search(r"\*\*Time:\*\*.*min", head), f"{name}: state the learner's time in minutes"
    text = "\n".join(markdown)
    assert "$$" in text, f"{name}: the key equations are written out next to the code"
    quiz = [s for s in markdown if s.startswith("## Self-check quiz") or "\n## Self-check quiz" in s]
    assert quiz, f"{name}: a `## Self-check quiz` heading"
    questions = re.findall(r"^\d\. ", quiz[0].split("## Self-check quiz")[1], re.M)
    assert 3 <= len(questions) <= 5, f"{name}: the quiz has 3-5 questions, found {len(questions)}"
    answers = markdown[markdown.index(quiz[0]) + 1]
    assert answers.startswith("<details><summary>Answers") and answers.endswith("</details>"), \
        f"{name}: the quiz answers follow in a collapsed <details> cell"


def test_glossary_lists_every_config_key_and_the_scoring_convention():
    import dataclasses

    from awake_tutorial.config import Config, PPOConfig

    page = (NOTEBOOK_DIR / "README.md").read_text()
    for field in dataclasses.fields(Config):
        if field.name != "ppo":
            assert f"| `{field.name}` |" in page, f"notebooks/README.md: config key `{field.name}` missing"
    for field in dataclasses.fields(PPOConfig):
        assert f"`{field.name}`" in page, f"notebooks/README.md: ppo key `{field.name}` missing"
    for heading in ("## The scoring convention", "## Glossary", "## Troubleshooting", "## Further reading"):
        assert heading in page
