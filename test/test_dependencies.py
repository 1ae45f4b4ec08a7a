"""Dependencies point one way: ROS nodes -> pipeline -> stages -> geometry; metrics judge grasps.

Every module of gdexgrasp_ros is parsed with `ast` (nothing is imported), relative imports are
resolved (level + module, and `from pkg import submodule` to the submodule), and each import,
at module level or inside a function, is checked against the layering rules below.
"""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

import pytest
from conftest import ROOT

PACKAGE = "gdexgrasp_ros"
ROS_PACKAGES = {"rclpy", "gdexgrasp_msgs", "sensor_msgs", "std_msgs", "geometry_msgs", "visualization_msgs",
                "trajectory_msgs", "builtin_interfaces", "tf2_ros", "action_msgs", "sensor_msgs_py"}  # fmt: skip
STAGES = ("stage1", "stage2", "stage3")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted and absolute
    path: str  # the importing file, relative to the repository
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def module_names(package_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py under the package (a package is its __init__)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(module: str, source: str, is_package: bool, known: set[str], path: str = "") -> list[Import]:
    """Every import in `source` (the module `module`), resolved to absolute dotted names."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(here) - 1:
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append(Import(module, sub if sub in known else target, path, node.lineno))
    return list(dict.fromkeys(found))  # `from a import x, y` is one import of a


def package_imports(root: pathlib.Path = ROOT) -> list[Import]:
    mods = module_names(root / PACKAGE)
    out = []
    for name, path in mods.items():
        rel = str(path.relative_to(root))
        out += imports_of(name, path.read_text(), path.name == "__init__.py", set(mods), rel)
    return out


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _pkg(*names: str) -> list[str]:
    return [f"{PACKAGE}.{n}" for n in names]


@dataclass(frozen=True)
class Rule:
    """Modules under `importers` may not import anything under `forbidden`, nor (when `only_allowed`
    is given) anything of the package outside `only_allowed`."""

    name: str
    importers: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    only_allowed: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()  # importers the rule does not apply to

    def violations(self, imports: list[Import]) -> list[str]:
        bad = []
        for imp in imports:
            if not _within(imp.module, self.importers) or _within(imp.module, self.exempt):
                continue
            if _within(imp.target, self.forbidden):
                bad.append(f"{imp} ({self.name})")
            elif self.only_allowed and _within(imp.target, [PACKAGE]) and not _within(imp.target, self.only_allowed):
                bad.append(f"{imp} ({self.name})")
        return bad


RULES = {
    "metrics": Rule("metrics judge grasps: no stages, pipeline or nodes", tuple(_pkg("metrics")),
                    forbidden=tuple(_pkg(*STAGES, "pipeline", "nodes"))),
    "hand": Rule("the hand models know no viz, stages, pipeline, nodes, metrics or objects", tuple(_pkg("hand")),
                 forbidden=tuple(_pkg("viz", *STAGES, "pipeline", "nodes", "metrics", "objects"))),
    "geometry": Rule("geometry is the bottom layer: it imports only geometry", tuple(_pkg("geometry")),
                     only_allowed=tuple(_pkg("geometry"))),
    "affordance_types": Rule("affordance_types is a leaf", tuple(_pkg("affordance_types")),
                             only_allowed=tuple(_pkg("affordance_types"))),
    "stages": Rule("stages never import the pipeline or the nodes", tuple(_pkg(*STAGES)),
                   forbidden=tuple(_pkg("pipeline", "nodes"))),
    "ros": Rule("only the ROS nodes import ROS (rclpy, message packages, tf2_ros)", (PACKAGE,),
                forbidden=tuple(sorted(ROS_PACKAGES)), exempt=tuple(_pkg("nodes"))),
    "nodes": Rule("the nodes are the top layer: nothing else imports them", (PACKAGE,),
                  forbidden=tuple(_pkg("nodes")), exempt=tuple(_pkg("nodes"))),
    "benchmark": Rule("the benchmark judges the library from outside: nothing else imports it", (PACKAGE,),
                      forbidden=tuple(_pkg("benchmark")), exempt=tuple(_pkg("benchmark"))),
}  # fmt: skip


@pytest.fixture(scope="module")
def imports():
    found = package_imports()
    assert len({i.module for i in found}) > 40, "the package was not found or barely parsed"
    return found


@pytest.mark.parametrize("rule", list(RULES))
def test_layering(rule, imports):
    bad = RULES[rule].violations(imports)
    assert not bad, "layering violated:\n" + "\n".join(bad)


def _closure(start: str, imports: list[Import]) -> dict[str, Import | None]:
    """Modules of the package importing `start` runs (with each one's parent packages), and how each was reached."""
    edges: dict[str, list[Import]] = {}
    for imp in imports:
        edges.setdefault(imp.module, []).append(imp)
    reached: dict[str, Import | None] = {start: None}
    todo = [start]
    while todo:
        mod = todo.pop()
        parents = [".".join(mod.split(".")[:i]) for i in range(1, mod.count(".") + 1)]
        nxt = [(p, None) for p in parents] + [(i.target, i) for i in edges.get(mod, []) if _within(i.target, [PACKAGE])]
        for target, how in nxt:
            if target not in reached:
                reached[target] = how
                todo.append(target)
    return reached


def test_importing_the_hand_package_never_loads_viz_or_the_stages(imports):
    """Nothing that `import gdexgrasp_ros.hand` loads reaches viz or a stage."""
    reached = _closure(f"{PACKAGE}.hand", imports)
    bad = [f"{name} (via {how})" for name, how in reached.items() if _within(name, RULES["hand"].forbidden)]
    assert not bad, "importing gdexgrasp_ros.hand loads:\n" + "\n".join(bad)


def test_affordances_are_defined_once():
    definitions = {}
    for name, path in module_names(ROOT / PACKAGE).items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, ast.Name) and t.id == "AFFORDANCES" for t in targets):
                definitions[name] = f"{path.relative_to(ROOT)}:{node.lineno}"
    assert list(definitions) == [f"{PACKAGE}.affordance_types"], (
        f"AFFORDANCES must be assigned in exactly one module, affordance_types; assigned at {definitions}"
    )


# -- the checker itself ----------------------------------------------------------------------------
KNOWN = set(_pkg("viz", "viz.raster", "viz.hand_render", "stage3", "stage3.losses", "geometry", "geometry.sdf"))


def test_relative_imports_resolve_by_level_and_module():
    src = ("from ..stage3.losses import force_closure_loss\nfrom . import quality\nfrom .. import geometry\n"
           "from ..geometry import sdf\nimport rclpy.node\nfrom ... import x\n")  # fmt: skip
    with pytest.raises(ValueError, match="beyond the top-level package"):
        imports_of(f"{PACKAGE}.metrics.contact", src, False, KNOWN)
    got = [i.target for i in imports_of(f"{PACKAGE}.metrics.contact", src.rsplit("from ...", 1)[0], False, KNOWN)]
    assert got == _pkg("stage3.losses", "metrics", "geometry", "geometry.sdf") + ["rclpy.node"]
    # In a package's __init__, "." is the package itself.
    got = [i.target for i in imports_of(f"{PACKAGE}.viz", "from .raster import Canvas\nfrom . import raster\n",
                                        True, KNOWN)]  # fmt: skip
    assert got == _pkg("viz.raster", "viz.raster")


@pytest.mark.parametrize(("module", "source", "rules"), [
    (f"{PACKAGE}.metrics.contact", "from ..stage3.losses import force_closure_loss\n", {"metrics"}),
    (f"{PACKAGE}.hand.postures", "def f():\n    from ..viz import raster\n", {"hand"}),
    (f"{PACKAGE}.hand.base", "from ..viz.hand_render import main\n", {"hand"}),
    (f"{PACKAGE}.geometry.sdf", "from ..hand import base\n", {"geometry"}),
    (f"{PACKAGE}.affordance_types", "from .hand import postures\n", {"affordance_types"}),
    (f"{PACKAGE}.stage2.part_init", "from ..nodes.spin import spin\n", {"stages", "nodes"}),
    (f"{PACKAGE}.viz.markers", "from visualization_msgs.msg import Marker\n", {"ros"}),
    (f"{PACKAGE}.pipeline", "import gdexgrasp_ros.nodes\n", {"nodes"}),
])  # fmt: skip
def test_a_violation_is_reported_with_module_and_import(module, source, rules):
    found = imports_of(module, source, False, KNOWN, path="x.py")
    fired = {key for key, rule in RULES.items() if rule.violations(found)}
    assert fired == rules
    for key in rules:
        (message,) = RULES[key].violations(found)
        assert f"{module} imports {found[0].target}" in message and RULES[key].name in message
