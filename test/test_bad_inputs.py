"""A battery of bad inputs sent to the real action server over DDS: each kind gets the right code,
a message that says what is wrong, and the server stays up for the next goal."""

import copy
import uuid

import numpy as np
import pytest
import rclpy
from conftest import ROOT
from gdexgrasp_msgs.action import SynthesizeGrasp
from rclpy.action import ActionClient
from ros_helpers import spinning_node, start_node, stop_node, wait_for
from sensor_msgs.msg import PointField
from std_msgs.msg import Header

from gdexgrasp_ros.demo import INSTRUCTION, default_scene
from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud

R = SynthesizeGrasp.Result
RNG = np.random.default_rng(0)


def _box(n=400):
    return RNG.uniform(-0.05, 0.05, size=(n, 3)) + [0.0, 0.0, 0.6]


def _cloud(points=None, **kw):
    return arrays_to_cloud(_box() if points is None else points, Header(frame_id="camera"), **kw)


def _edited(**fields):
    msg = copy.deepcopy(_cloud())
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def _field(name, **changes):
    msg = copy.deepcopy(_cloud())
    for f in msg.fields:
        if f.name == name:
            for k, v in changes.items():
                setattr(f, k, v)
    return msg


def _without(name):
    msg = copy.deepcopy(_cloud())
    msg.fields = [f for f in msg.fields if f.name != name]
    return msg


def _byteswapped():
    msg = copy.deepcopy(_cloud())
    msg.is_bigendian = True  # the data is little-endian
    return msg


def _scene_cloud(scale=1.0):
    s = default_scene()
    return arrays_to_cloud(s.cloud.points * scale, Header(frame_id="camera_optical_frame"))


def _garbage(seed):
    return bytes(np.random.default_rng(seed).integers(0, 256, 200, dtype=np.uint8)).decode("utf-8", "replace")


def _unicode(seed):
    cps = np.random.default_rng(seed).integers(0x2000, 0xD7FF, 60)
    return "".join(chr(int(c)) for c in cps)


G = SynthesizeGrasp.Goal
# (kind, goal factory, expected code, a word the message must contain)
KINDS = [
    ("cloud without x", lambda: G(cloud=_without("x"), instruction=INSTRUCTION), R.INVALID_GOAL, "x"),
    ("cloud without z", lambda: G(cloud=_without("z"), instruction=INSTRUCTION), R.INVALID_GOAL, "z"),
    ("field past point_step", lambda: G(cloud=_field("z", offset=40), instruction=INSTRUCTION), R.INVALID_GOAL, "z"),
    ("x declared int8", lambda: G(cloud=_field("x", datatype=PointField.INT8), instruction=INSTRUCTION),
     R.INVALID_GOAL, "int8"),
    ("x declared uint16", lambda: G(cloud=_field("x", datatype=PointField.UINT16), instruction=INSTRUCTION),
     R.INVALID_GOAL, "x"),
    ("unknown datatype", lambda: G(cloud=_field("y", datatype=0), instruction=INSTRUCTION), R.INVALID_GOAL, "y"),
    ("x with count 3", lambda: G(cloud=_field("x", count=3), instruction=INSTRUCTION), R.INVALID_GOAL, "x"),
    ("overlapping fields", lambda: G(cloud=_field("y", offset=0), instruction=INSTRUCTION), R.INVALID_GOAL, "overlap"),
    ("point_step 0", lambda: G(cloud=_edited(point_step=0), instruction=INSTRUCTION), R.INVALID_GOAL, "point_step"),
    ("point_step too small", lambda: G(cloud=_edited(point_step=8), instruction=INSTRUCTION), R.INVALID_GOAL, "z"),
    ("row_step too small", lambda: G(cloud=_edited(row_step=12), instruction=INSTRUCTION), R.INVALID_GOAL,
     "row_step"),
    ("data truncated", lambda: G(cloud=_edited(data=bytes(_cloud().data)[:-5]), instruction=INSTRUCTION),
     R.INVALID_GOAL, "data"),
    ("data too long", lambda: G(cloud=_edited(data=bytes(_cloud().data) + bytes(16)), instruction=INSTRUCTION),
     R.INVALID_GOAL, "data"),
    ("width larger than the data", lambda: G(cloud=_edited(width=800), instruction=INSTRUCTION), R.INVALID_GOAL,
     "sizes"),
    ("height 2 with one row of data", lambda: G(cloud=_edited(height=2), instruction=INSTRUCTION), R.INVALID_GOAL,
     "sizes"),
    ("is_bigendian on little-endian data", lambda: G(cloud=_byteswapped(), instruction=INSTRUCTION),
     R.INVALID_GOAL, "is_bigendian"),
    ("fractional float labels", lambda: G(cloud=_cloud(labels=None), instruction=INSTRUCTION), None, None),
    ("all-NaN cloud", lambda: G(cloud=_cloud(np.full((50, 3), np.nan)), instruction=INSTRUCTION), R.EMPTY_CLOUD,
     "finite"),
    ("all-inf cloud", lambda: G(cloud=_cloud(np.full((50, 3), np.inf)), instruction=INSTRUCTION), R.EMPTY_CLOUD,
     "finite"),
    ("empty cloud, none received", lambda: G(instruction=INSTRUCTION), R.NO_CLOUD, "cloud"),
    ("camera scene in millimetres", lambda: G(cloud=_scene_cloud(1000.0), instruction=INSTRUCTION), R.INVALID_GOAL,
     "millimetres"),
    ("a 15 mm part in millimetres", lambda: G(cloud=_cloud(RNG.uniform(0, 15, (2048, 3))), instruction=INSTRUCTION),
     R.INVALID_GOAL, "millimetres"),
    ("a single point", lambda: G(cloud=_cloud(np.array([[0.0, 0.0, 0.5]])), instruction=INSTRUCTION),
     R.EMPTY_CLOUD, "object"),
    ("a bare table", lambda: G(cloud=_cloud(np.c_[RNG.uniform(-0.3, 0.3, (3000, 2)), np.full(3000, 0.7)]),
                               instruction=INSTRUCTION), R.EMPTY_CLOUD, "plane"),
    ("empty instruction, none received", lambda: G(cloud=_cloud()), R.NO_INSTRUCTION, "instruction"),
    ("whitespace instruction", lambda: G(cloud=_cloud(), instruction=" \t\n "), R.NO_INSTRUCTION, "instruction"),
    ("instruction of 5000 characters", lambda: G(cloud=_cloud(), instruction="hold the mug " * 400),
     R.INVALID_GOAL, "2000"),
    ("binary garbage instruction", lambda: G(cloud=_scene_cloud(), instruction=_garbage(1)), R.ANALYSIS_FAILED, ""),
    ("more binary garbage", lambda: G(cloud=_scene_cloud(), instruction=_garbage(2)), R.ANALYSIS_FAILED, ""),
    ("random unicode", lambda: G(cloud=_scene_cloud(), instruction=_unicode(3)), R.ANALYSIS_FAILED, ""),
    ("emoji only", lambda: G(cloud=_scene_cloud(), instruction="\U0001F600\U0001F44D\U0001F375"), R.ANALYSIS_FAILED,
     ""),
    ("punctuation only", lambda: G(cloud=_scene_cloud(), instruction="?!... ;;"), R.ANALYSIS_FAILED, ""),
    ("a part the kettle lacks: trigger", lambda: G(cloud=_scene_cloud(), object_category="kettle",
                                                   instruction="hold the kettle by its trigger"),
     R.PART_NOT_FOUND, "handle"),
    ("a part the kettle lacks: blade", lambda: G(cloud=_scene_cloud(), object_category="kettle",
                                                 instruction="grab the kettle by the blade"), R.PART_NOT_FOUND, "handle"),
    ("negative timeout", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, timeout=-1.0), R.INVALID_GOAL, "timeout"),
    ("NaN timeout", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, timeout=float("nan")), R.INVALID_GOAL,
     "timeout"),
    ("infinite timeout", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, timeout=float("inf")), R.INVALID_GOAL,
     "timeout"),
    ("max_grasps 1000", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, max_grasps=1000), R.INVALID_GOAL,
     "max_grasps"),
    ("unknown hand model", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, hand_model="robotiq"), R.INVALID_GOAL,
     "hand_model"),
    ("mano without a model file", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, hand_model="mano"),
     R.INVALID_GOAL, "mano_model_path"),
    ("unknown robot hand", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, robot_hand="shadow_hand"),
     R.INVALID_GOAL, "robot_hand"),
    ("unreachable target frame", lambda: G(cloud=_cloud(), instruction=INSTRUCTION, target_frame="base_link"),
     R.TRANSFORM_FAILED, "base_link"),
    ("a time limit of 1 ms", lambda: G(cloud=_scene_cloud(), instruction=INSTRUCTION, object_category="kettle",
                                       timeout=0.001), R.TIMEOUT, "time limit"),
]  # fmt: skip
KINDS = [k for k in KINDS if k[2] is not None]


@pytest.fixture(scope="module")
def server():
    ns = f"/gdexgrasp_bad_{uuid.uuid4().hex[:8]}"
    proc = start_node("gdexgrasp_ros.nodes.grasp_synthesis_server", ns, str(ROOT / "config" / "gdexgrasp.yaml"),
                      ["-p", "iterations_a:=20", "-p", "iterations_b:=20", "-p", "robot_hand:=none"])  # fmt: skip
    node, executor = spinning_node("bad_input_client", ns)
    client = ActionClient(node, SynthesizeGrasp, "synthesize_grasp")
    wait_for(client.server_is_ready, 60.0, "the action server", proc)
    yield client, proc
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()
    log = stop_node(proc)
    assert proc.returncode == 0 and "Traceback" not in log, log


def _send(client, proc, goal):
    fut = client.send_goal_async(goal)
    wait_for(fut.done, 30.0, "goal acceptance", proc)
    res = fut.result().get_result_async()
    wait_for(res.done, 120.0, "the result", proc)
    return res.result().result


def test_the_battery_has_at_least_forty_kinds():
    assert len(KINDS) >= 40


@pytest.mark.parametrize(("kind", "goal", "code", "word"), KINDS, ids=[k[0] for k in KINDS])
def test_each_bad_input_gets_its_code_and_a_reason(server, kind, goal, code, word):
    client, proc = server
    result = _send(client, proc, goal())
    assert result.error_code == code, f"{kind}: {result.error_code} {result.error_string}"
    assert result.error_string and word.lower() in result.error_string.lower(), result.error_string
    assert proc.poll() is None, "the server must survive every bad goal"


def test_a_good_goal_still_succeeds_after_the_battery(server):
    client, proc = server
    s = default_scene()
    labels = np.where(s.cloud.object_index == 0, s.cloud.part_ids, -1)
    cloud = arrays_to_cloud(s.cloud.points, Header(frame_id="camera_optical_frame"), labels)
    result = _send(client, proc, G(cloud=cloud, instruction=INSTRUCTION, object_category="kettle", max_grasps=1))
    assert result.error_code == R.SUCCESS, result.error_string
    assert result.timings and result.grasps
