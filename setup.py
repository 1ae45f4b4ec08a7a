"""ament_python package gdexgrasp_ros: the algorithm library plus thin ROS 2 nodes."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "gdexgrasp_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, PACKAGE + ".*"]),
    package_data={PACKAGE: ["stage1/data/*.jsonl", "assets/*", "assets/*/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", glob("launch/*.launch.py")),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml")),
        ("share/" + PACKAGE + "/config/prompts", glob("config/prompts/*")),
        ("share/" + PACKAGE + "/config/retargeting", glob("config/retargeting/*")),
        ("share/" + PACKAGE + "/urdf", glob("urdf/*.urdf")),
        ("share/" + PACKAGE + "/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    extras_require={"ray": ["ray>=2.9"]},  # build_priors --ray: the prior-database build on a Ray cluster
    zip_safe=True,
    maintainer="gdexgrasp maintainers",
    maintainer_email="maintainers@gdexgrasp.dev",
    description="Task-oriented dexterous grasp synthesis (G-DexGrasp) for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "grasp_synthesis_server = gdexgrasp_ros.nodes.grasp_synthesis_server:main",
            "gdexgrasp-hand = gdexgrasp_ros.viz.hand_render:main",
            "gdexgrasp-objects = gdexgrasp_ros.objects.gallery:main",
            "gdexgrasp-analyze = gdexgrasp_ros.stage1.analysis.cli:main",
            "gdexgrasp-build = gdexgrasp_ros.assets.cli:main",
            "gdexgrasp-bench = gdexgrasp_ros.benchmark.cli:main",
            "retargeting_node = gdexgrasp_ros.nodes.retargeting_node:main",
            "grasp_input_node = gdexgrasp_ros.nodes.grasp_input_node:main",
        ],
    },
)
