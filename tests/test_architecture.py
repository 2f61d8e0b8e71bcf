"""The layers of the package, checked on its import graph (every import, also inside functions).

    awake_tutorial/          atomic, paths, quick, config (+ config_rules), episode_loop: the foundation, imports no layer
    physics/                 optics, tasks
    envs/                    the steering envs, their rollout engine and the score
    controllers/, machine/   classical controllers; the simulated line served over EPICS
    rl/                      policies, episodes, samplers, metalearners: nothing of AWAKE,
                             the sampler gets its envs from a factory
    runs/                    training loops, run folders, pretrained files, comparisons
    ui/, exercises/          dashboard, plotting, CLI; the notebooks' checkers

Arrows point down only: a layer imports the foundation and the layers below it, never one
beside or above it (rl sees no physics and no env: the runs layer hands it a factory). The
rules a maintainer keeps (README, Development): envs import no learner, metalearners import
nothing of AWAKE, training never draws, the UI computes no physics, and no import cycle.
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


LAYERS = {"physics": 1, "envs": 2, "controllers": 3, "machine": 3, "rl": 3, "runs": 4, "ui": 5, "exercises": 5}
ROOT_MODULES = {"atomic", "paths", "quick", "config", "config_rules", "episode_loop"}  # the foundation, rank 0


def layer(name: str) -> str:
    """The layer of a module: its subpackage, or "foundation"."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "foundation"


def test_every_module_has_a_layer():
    """A new module goes into a layer's folder; only the foundation sits at the top."""
    loose = sorted(n for n in MODULES if n.count(".") == 1 and n.split(".")[1] not in {*LAYERS, *ROOT_MODULES})
    assert not loose, f"modules outside every layer: {loose}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name):
    """A module imports its own layer, the foundation and lower layers, nothing beside or above."""
    rank = LAYERS.get(layer(name), 0)
    upward = {m for m in GRAPH[name] if layer(m) != layer(name) and LAYERS.get(layer(m), 0) >= rank}
    assert not upward, f"{name} imports {sorted(upward)} (beside or above its layer)"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == "rl"))
def test_rl_imports_nothing_of_awake(name):
    """Envs import no learner, metalearners (and all of rl) import nothing of AWAKE."""
    assert not {m for m in GRAPH[name] if layer(m) in ("physics", "envs", "controllers", "machine")}, GRAPH[name]
    assert "config" not in {m.split(".")[-1] for m in GRAPH[name]}, "the learner reads the config it is given"


@pytest.mark.parametrize("name", ["awake_tutorial.ui.plotting", "awake_tutorial.ui.plotting_compare",
                                  "awake_tutorial.ui.dashboard"])
def test_the_ui_computes_no_physics(name):
    """Figures and dashboards draw what they are given; optics is computed below them."""
    assert not {m for m in GRAPH[name] if in_layer(m, "physics.optics")}, GRAPH[name]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == "runs"))
def test_training_never_draws(name):
    assert "matplotlib" not in MODULES[name].read_text()
    assert not {m for m in GRAPH[name] if layer(m) == "ui"}


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
    assert "awake_tutorial.physics.tasks" in GRAPH["awake_tutorial.envs.steering"]  # at the top
    assert "awake_tutorial.physics.optics" in GRAPH["awake_tutorial.physics.tasks"]  # only inside a function


def test_the_sampler_gets_its_envs_from_a_factory():
    """The sampler imports no physics, no tasks and no env: ``make_envs(tasks)`` builds them."""
    assert not {m for m in GRAPH["awake_tutorial.rl.samplers"] if in_layer(m, "physics", "envs", "machine")}


ENGINE = {"step", "first_observation", "StartSampler", "check_actions", "draw_bpm_noise"}
ENGINE_MODULES = {"dynamics", "starts"}  # awake_tutorial.envs.<these> hold the engine


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not in_layer(n, "envs")))
def test_only_the_envs_drive_the_dynamics(name):
    """One rollout engine: outside ``envs`` nobody steps ``envs.dynamics`` nor draws ``envs.starts``
    (constants are fine)."""
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in {f"awake_tutorial.envs.{m}" for m in ENGINE_MODULES}:
            assert not {a.name for a in node.names} & ENGINE, (name, node.lineno)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ENGINE_MODULES:
            assert node.attr not in ENGINE, (name, node.lineno)


INNER_LOOP = {"inner_step", "inner_loop", "policy_gradient", "reinforce_gradient"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) in ("runs", "ui")))
def test_the_learner_owns_the_inner_loop(name):
    """Training and the UI adapt through the learner (``adapt_step``), never by calling the inner
    step themselves; and they reach the fast path only through the config (``fast_path``)."""
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not {a.name for a in node.names} & INNER_LOOP, (name, node.lineno)
            assert not in_layer(node.module, "rl.fast"), (name, node.lineno)


def test_the_env_steps_one_backend_without_branching_on_it():
    """reset and step measure through ``self.backend`` (simulation or machine), never ask which."""
    tree = ast.parse(MODULES["awake_tutorial.envs.steering"].read_text())
    env = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AwakeSteeringEnv")
    for method in (n for n in env.body if isinstance(n, ast.FunctionDef) and n.name in ("reset", "step")):
        attributes = {a.attr for a in ast.walk(method) if isinstance(a, ast.Attribute)}
        assert "backend" in attributes and "machine" not in attributes, method.name


# names that are also something else: the shipped policies' names (runs/pretrained.SHIPPED),
# the CLI's `ppo` subcommand and its `--policy random`, the config's `ppo` and `rl2` sections and
# wall_penalty "reference". Every other method name lives in the registry alone.
SHARED_NAMES = {"meta", "reference", "ppo", "random", "rl2"}


def test_a_method_name_is_a_string_literal_in_one_module_only():
    """The method registry (runs/methods.py) declares each method once: no other module of the
    package spells a method's name; they read it from the registry."""
    from awake_tutorial.runs.methods import REGISTRY

    names = {n for m in REGISTRY.values() for n in (m.family, *m.names())} - SHARED_NAMES
    assert {"broyden", "inverse-nominal", "measure-correct", "fewest-steps", "meta-1"} <= names
    for name, path in MODULES.items():
        if name == "awake_tutorial.runs.methods":
            continue
        literals = {n.value for n in ast.walk(ast.parse(path.read_text()))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not literals & names, (name, sorted(literals & names))


def test_a_learner_name_is_a_string_literal_in_the_registry_only():
    """The learner registry (rl/metalearners/registry.py) names every meta-learner; the config
    spells only its default and the migration of the old ``meta_sgd`` key (older run folders)."""
    from awake_tutorial.rl.metalearners import LEARNERS

    assert {"maml-trpo", "meta-sgd-trpo"} <= set(LEARNERS)
    allowed = {"awake_tutorial.rl.metalearners.registry", "awake_tutorial.config"}
    for name, path in MODULES.items():
        literals = {n.value for n in ast.walk(ast.parse(path.read_text()))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if name not in allowed:
            assert not literals & set(LEARNERS), (name, sorted(literals & set(LEARNERS)))


# --- issue 22: one seam for the fast path, one set of defaults ---

SEAM = "awake_tutorial.rl.engine"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not in_layer(n, "rl.fast")))
def test_the_fast_path_is_imported_only_through_the_seam(name):
    """rl/fast is imported by rl/engine alone: the textbook path (policies, samplers, learners)
    imports nothing from it, and gets the fast pieces handed in by the engine."""
    if name != SEAM:
        assert not {m for m in GRAPH[name] if in_layer(m, "rl.fast")}, (name, GRAPH[name])


def test_the_fast_path_imports_no_learner():
    """rl/fast takes tensors and settings: it imports the policy and the episodes, never a learner."""
    for name in (n for n in MODULES if in_layer(n, "rl.fast")):
        assert not {m for m in GRAPH[name] if in_layer(m, "rl.metalearners")}, (name, GRAPH[name])


def _mentions_fast_path(node) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "fast_path" or isinstance(n, ast.Attribute) and n.attr == "fast_path"
               for n in ast.walk(node))


def test_the_fast_path_switch_is_read_in_one_place():
    """Only the seam branches on ``fast_path`` (the config validates it; everyone else passes it on)."""
    branching = {name for name, path in MODULES.items() for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.If, ast.IfExp)) and _mentions_fast_path(node.test)}
    assert branching <= {SEAM, "awake_tutorial.config"}, branching


def test_no_package_level_import_cycle():
    """Between packages too (rl.fast and rl.metalearners once imported each other and worked only
    by import order): collapse every module into its package and look for a cycle; a package and
    its own subpackages do not count."""
    def package(name):
        return name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]

    def own(a, b):
        return a == b or b.startswith(a + ".") or a.startswith(b + ".")

    edges = {}
    for name, targets in GRAPH.items():
        edges.setdefault(package(name), set()).update(package(t) for t in targets if not own(package(name), package(t)))
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                raise AssertionError("package cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("symbol", ["PLANES", "NONLINEARITIES", "Params", "WEIGHTINGS"])
def test_shared_names_are_defined_once(symbol):
    """One definition each; the other modules import it."""
    where = [name for name, path in MODULES.items() for node in ast.parse(path.read_text()).body
             if isinstance(node, (ast.Assign, ast.AnnAssign))
             and symbol in {t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                            if isinstance(t, ast.Name)}]
    assert len(where) == 1, where
