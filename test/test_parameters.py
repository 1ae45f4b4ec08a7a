"""Node parameters: declared from one table, refused at start-up and at runtime with a reason."""

import uuid

import pytest
import rclpy
from conftest import ROOT
from rclpy.parameter import Parameter
from ros_helpers import server_start_log

from gdexgrasp_ros.config import SynthesizerConfig
from gdexgrasp_ros.nodes import parameters as P
from gdexgrasp_ros.stage3.optimizer import OptimizerConfig


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def _node(overrides: dict):
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return rclpy.create_node(f"param_test_{uuid.uuid4().hex[:6]}", parameter_overrides=params)


def test_defaults_come_from_the_library_configuration(ros):
    node = _node({})
    try:
        values = P.declare(node, P.SERVER_PARAMETERS, P.server_cross_check)
        assert values["iterations_a"] == OptimizerConfig().iterations_a
        assert values["num_candidates"] == SynthesizerConfig().num_candidates and values["preset"] == "full"
        cfg = P.synthesizer_config(values)
        assert cfg.optimizer.iterations_b == OptimizerConfig().iterations_b and cfg.preset == "full"
        assert values["cloud_kind"] == cfg.cloud_kind == SynthesizerConfig().cloud_kind == "auto"
        assert P.synthesizer_config(values | {"cloud_kind": "complete"}).cloud_kind == "complete"
        assert values["finger_closing"] is True and cfg.optimizer.closing
        assert not P.synthesizer_config(values | {"finger_closing": False}).optimizer.closing
        assert values["closing_press_mm"] == pytest.approx(cfg.optimizer.closing_settings.press_depth * 1000)
        assert values["closing_squeeze_rad"] == cfg.optimizer.closing_settings.squeeze
        harder = P.synthesizer_config(values | {"closing_press_mm": 3.0, "closing_squeeze_rad": 0.06})
        assert harder.optimizer.closing_settings.press_depth == pytest.approx(0.003)
        assert harder.optimizer.closing_settings.squeeze == 0.06
        assert values["grip_zone_cm"] == cfg.grip_zone_cm == SynthesizerConfig().grip_zone_cm
        assert P.synthesizer_config(values | {"grip_zone_cm": 0.0}).grip_zone_cm == 0.0
        assert values["unseen_back"] is True and cfg.optimizer.unseen_back
        assert not P.synthesizer_config(values | {"unseen_back": False}).optimizer.unseen_back
        assert values["hold_check"] == cfg.hold_check == "complete"
        assert P.synthesizer_config(values | {"hold_check": "off"}).hold_check == "off"
        db = P.synthesizer_config(values | {"retriever": "database", "prior_database": "/data/priors.npz"})
        assert db.retriever == "database" and db.retriever_options == {"path": "/data/priors.npz"}
        cvae = P.synthesizer_config(values | {"generator": "object_cvae", "cvae_weights": "/data/w.safetensors"})
        assert cvae.generator_options == {"path": "/data/w.safetensors"}
        unused = P.synthesizer_config(values | {"generator": "part_random", "cvae_weights": "/data/w.safetensors"})
        assert unused.generator_options == {}, "a file only goes to the component that reads it"
        described = node.describe_parameters(["iterations_a", "max_grasps"])
        assert described[0].integer_range[0].from_value == 0 and described[1].integer_range[0].to_value == 64
    finally:
        node.destroy_node()


@pytest.mark.parametrize("name, value, says", [
    ("iterations_a", -5, "iterations_a"),
    ("num_candidates", 0, "num_candidates"),
    ("cpu_threads", -2, "cpu_threads"),
    ("goal_timeout", -1.0, "goal_timeout"),
    ("max_grasps", 1000, "max_grasps"),
    ("preset", "ours", "preset"),
    ("hand_model", "robotiq", "hand_model"),
    ("robot_hand", "shadow_hand", "robot_hands"),
    ("hand_model", "mano", "mano_model_path"),
    ("iterations_a", "abc", "iterations_a"),
    ("cloud_kind", "mesh", "cloud_kind"),
])  # fmt: skip
def test_bad_start_values_are_refused_with_the_parameter_named(ros, name, value, says):
    node = _node({name: value})
    try:
        with pytest.raises(P.ConfigurationError, match=says):
            P.declare(node, P.SERVER_PARAMETERS, P.server_cross_check)
    finally:
        node.destroy_node()


def test_runtime_changes_are_checked_and_restart_only_ones_say_so(ros):
    node = _node({})
    try:
        P.declare(node, P.SERVER_PARAMETERS, P.server_cross_check)
        ok, bad, restart, cross = node.set_parameters([
            Parameter("max_grasps", value=3), Parameter("max_grasps", value=-5),
            Parameter("iterations_a", value=5), Parameter("robot_hand", value="shadow_hand"),
        ])  # fmt: skip
        assert ok.successful and node.get_parameter("max_grasps").value == 3
        assert not bad.successful and bad.reason
        assert not restart.successful and "restart" in restart.reason
        assert not cross.successful and "robot_hands" in cross.reason
        assert node.get_parameter("iterations_a").value == OptimizerConfig().iterations_a
        assert P.request_defaults(node).max_grasps == 3, "request defaults are read live"
    finally:
        node.destroy_node()


def test_retargeting_parameters_are_cross_checked(ros):
    node = _node({"grasp_time": 0.5, "pre_grasp_time": 1.0})
    try:
        with pytest.raises(P.ConfigurationError, match="grasp_time"):
            P.declare(node, P.RETARGETING_PARAMETERS, P.retargeting_cross_check)
    finally:
        node.destroy_node()


def test_the_server_exits_1_with_a_message_on_a_mistyped_parameter():
    rc, log = server_start_log(["-p", "iterations_a:=abc"])
    assert rc == 1 and "iterations_a" in log and "Traceback" not in log, log


def test_the_retargeting_node_exits_1_with_a_message_on_contradicting_times():
    rc, log = server_start_log(["-p", "grasp_time:=0.5"], node="retargeting_node")
    assert rc == 1 and "grasp_time" in log and "Traceback" not in log, log


def test_the_config_file_reaches_namespaced_nodes_and_sets_only_declared_parameters():
    import yaml

    from gdexgrasp_ros.nodes.launch_local import NODES

    tables = {"grasp_synthesis_server": P.SERVER_PARAMETERS, "retargeting_node": P.RETARGETING_PARAMETERS,
              "grasp_input_node": P.GRASP_INPUT_PARAMETERS}  # fmt: skip
    config = yaml.safe_load((ROOT / "config" / "gdexgrasp.yaml").read_text())
    # A plain "<node>" key only reaches a node in the root namespace; the launchers use one.
    assert set(config) == {f"/**/{name}" for name in tables} == {f"/**/{name}" for _, name in NODES}
    for name, specs in tables.items():
        by_name = {s.name: s for s in specs}
        for key, value in config[f"/**/{name}"]["ros__parameters"].items():
            assert key in by_name, f"{name}: the config file sets '{key}', which the node does not declare"
            assert not P.check_value(by_name[key], value), P.check_value(by_name[key], value)
