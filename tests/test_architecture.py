"""The layers of the package, checked on its import graph (every import, also inside functions).

    physics (optics, tasks) <- envs (+ machine backends) <- rl (policies, episodes, samplers,
    metalearners) <- training and run folders <- UI (dashboard, plotting, cli)

The rules a maintainer keeps (README, Development): envs import no learner, metalearners
import nothing of AWAKE, training never draws, and no module imports itself back round
a cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "awake_tutorial"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """Package modules that ``name`` imports (``from pkg import submodule`` counts as the submodule)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            found |= submodules or {node.module}
            if len(submodules) < len(node.names):  # names that are not submodules come from the package
                found.add(node.module)
    return {m for m in found if m in MODULES and m != name and m != "awake_tutorial"}


GRAPH = {name: imports_of(name) for name in MODULES}


def in_layer(name: str, *prefixes: str) -> bool:
    return any(name == f"awake_tutorial.{p}" or name.startswith(f"awake_tutorial.{p}.") for p in prefixes)


LEARNERS = ("policies", "baseline", "episodes", "samplers", "metalearners", "training", "ppo", "runs",
            "pretrained", "compare", "dashboard", "plotting", "cli", "cli_tools", "cli_machine", "exercises")
AWAKE = ("optics", "tasks", "envs", "machine", "benchmark", "controllers", "samplers", "training", "compare")
DRAWING = ("plotting", "dashboard")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if in_layer(n, "envs", "optics", "tasks")))
def test_physics_and_envs_import_no_learner(name):
    assert not {m for m in GRAPH[name] if in_layer(m, *LEARNERS)}, GRAPH[name]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if in_layer(n, "metalearners")))
def test_metalearners_import_nothing_of_awake(name):
    assert not {m for m in GRAPH[name] if in_layer(m, *AWAKE)}, GRAPH[name]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if in_layer(n, "plotting", "plotting_compare",
                                                                       "dashboard")))
def test_the_ui_computes_no_physics(name):
    """Figures and dashboards draw what they are given; optics is computed below them."""
    assert not {m for m in GRAPH[name] if in_layer(m, "optics")}, GRAPH[name]


def test_training_never_draws():
    text = MODULES["awake_tutorial.training"].read_text()
    assert "matplotlib" not in text
    assert not {m for m in GRAPH["awake_tutorial.training"] if in_layer(m, *DRAWING)}


def test_no_import_cycles():
    """Depth-first search for a back edge; a package and its own submodules do not count."""
    def own(a, b):
        return b.startswith(a + ".") or a.startswith(b + ".")

    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if own(node, nxt):
                continue
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name)


def test_the_checker_sees_imports_inside_functions():
    assert "awake_tutorial.tasks" in GRAPH["awake_tutorial.envs.steering"]  # at the top
    assert "awake_tutorial.pretrained" in GRAPH["awake_tutorial.cli"]  # only inside a command


def test_the_sampler_gets_its_envs_from_a_factory():
    """The sampler imports no physics, no tasks and no env: ``make_envs(tasks)`` builds them."""
    assert not {m for m in GRAPH["awake_tutorial.samplers"] if in_layer(m, "optics", "tasks", "envs", "machine")}


ENGINE = {"step", "first_observation", "StartSampler", "check_actions", "draw_bpm_noise"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not in_layer(n, "envs")))
def test_only_the_envs_drive_the_dynamics(name):
    """One rollout engine: outside ``envs`` nobody steps ``envs.dynamics`` (constants are fine)."""
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "awake_tutorial.envs.dynamics":
            assert not {a.name for a in node.names} & ENGINE, (name, node.lineno)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "dynamics":
            assert node.attr not in ENGINE, (name, node.lineno)
