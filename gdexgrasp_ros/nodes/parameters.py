"""ROS parameters of the nodes, declared from one table per node with description, range and default.

Defaults come from the library's configuration dataclasses (SynthesizerConfig, OptimizerConfig,
PreprocessConfig, RequestDefaults), so a default lives in one place. Values are checked when the
node starts (a bad one stops it with a message, exit 1) and on every runtime change: a value out
of range is refused with the reason, and a parameter that is only read at start-up refuses any
change and says that the node must be restarted (instead of silently ignoring it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..config import HOLD_CHECK_MODES, PRESETS, SynthesizerConfig
from ..objects.preprocess import CLOUD_KIND_MODES, PreprocessConfig
from ..request import HAND_MODELS, MAX_GRASPS_LIMIT, RequestDefaults
from ..stage1.analysis import BACKENDS as ANALYZERS
from ..stage1.localization import BACKENDS as LOCALIZERS
from ..stage1.retrieval import RETRIEVERS
from ..stage2.generation import GENERATORS
from ..stage3.closing import ClosingConfig
from ..stage3.optimizer import OptimizerConfig
from .tf_helpers import TF_CACHE_S


class ConfigurationError(ValueError):
    """A parameter value the node cannot start with."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    low: float | None = None  # numeric range (inclusive)
    high: float | None = None
    choices: tuple[str, ...] = ()
    live: bool = False  # True: read at each use, may change at runtime; False: read at start-up


_SYN, _OPT, _PRE, _REQ = SynthesizerConfig(), OptimizerConfig(), PreprocessConfig(), RequestDefaults()
GOAL_POLICIES = ("queue", "reject", "preempt")
_BIG = 1_000_000
MAX_FUSE_VIEWS = 10  # clouds a server keeps for fusion (a 640x480 cloud is ~10 MB)

SERVER_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("cloud_topic", "object_cloud", "input cloud topic (sensor_msgs/PointCloud2)"),
    ParamSpec("instruction_topic", "instruction", "input instruction topic (std_msgs/String, transient local)"),
    ParamSpec("action_name", "synthesize_grasp", "the SynthesizeGrasp action's name"),
    ParamSpec("grasps_topic", "grasp", "the best grasp of each successful goal (HandGrasp)"),
    ParamSpec("autostart", True, "configure and activate at start-up (launchers set false and drive the lifecycle)"),
    ParamSpec("goal_policy", "queue", "a goal arriving while one runs: queue (FIFO, max_queued_goals), reject (BUSY) "
              "or preempt (the running goal ends CANCELED)", choices=GOAL_POLICIES, live=True),
    ParamSpec("max_queued_goals", 2, "goals waiting behind the running one (queue policy); more are BUSY", 0, 100,
              live=True),
    ParamSpec("result_timeout", 10.0, "seconds a finished goal's result is kept for its client", 1.0, 3600.0),
    ParamSpec("preset", _SYN.preset, "pipeline variant (paper Table 2)", choices=tuple(PRESETS)),
    ParamSpec("retriever", "", "stage 1 prior retriever ('' = the preset's)", choices=("", *RETRIEVERS)),
    ParamSpec("generator", "", "stage 2 pose generator ('' = the preset's)", choices=("", *GENERATORS)),
    ParamSpec("prior_database", "", "prior database file (priors.npz) for retriever 'database' ('' = the shipped one)"),
    ParamSpec("cvae_weights", "", "weights (.safetensors) for generator 'cvae' / 'object_cvae' ('' = the shipped ones)"),
    ParamSpec("max_grasps", _REQ.max_grasps, "grasps returned when the goal says 0", 1, MAX_GRASPS_LIMIT, live=True),
    ParamSpec("goal_timeout", _REQ.timeout, "seconds per goal when the goal says 0", 0.1, 86400.0, live=True),
    ParamSpec("hand_model", _REQ.hand_model, "hand for goals that say ''", choices=HAND_MODELS, live=True),
    ParamSpec("robot_hand", _REQ.robot_hand, "robot hand for goals that say '' ('none' skips)", live=True),
    ParamSpec("robot_hands", list(_REQ.robot_hands), "robot hands a goal may ask for", live=True),
    ParamSpec("label_names", [""], "part names of the cloud's integer label field, by id", live=True),
    ParamSpec("fuse_views", 1, "goals with an empty cloud: fuse the last N clouds on cloud_topic (1 = the latest "
              "one only)", 1, MAX_FUSE_VIEWS, live=True),
    ParamSpec("fuse_window", 5.0, "seconds before the newest cloud within which older clouds are fused (at most "
              "the 60 s of transforms the tf2 buffer keeps)", 0.0, TF_CACHE_S, live=True),
    ParamSpec("fuse_frame", "", "frame the fused cloud is built in ('' = the newest cloud's frame); a fixed frame "
              "makes tf2 move each cloud at its own stamp (a camera on a moving arm)", live=True),
    ParamSpec("device", _SYN.device, "auto (CUDA when present) | cpu | cuda | cuda:N"),
    ParamSpec("mano_model_path", _SYN.mano_model_path, "a MANO_RIGHT.pkl you downloaded (hand_model mano)"),
    ParamSpec("cpu_threads", _SYN.cpu_threads, "torch CPU threads (0 = torch's default)", 0, 256),
    ParamSpec("num_candidates", _SYN.num_candidates, "hands optimised together (at least max_grasps)", 1, 1024),
    ParamSpec("iterations_a", _OPT.iterations_a, "stage 3 sub-stage A iterations", 0, _BIG),
    ParamSpec("iterations_b", _OPT.iterations_b, "stage 3 sub-stage B iterations", 0, _BIG),
    ParamSpec("finger_closing", _OPT.closing, "after stage 3's sub-stages, close the fingers on the contact part"),
    ParamSpec("closing_squeeze_rad", _OPT.closing_settings.squeeze, "the closing finish's press: joints that "
              "touched the part flex on by at most this much (rad) ...", 0.0, 1.6),
    ParamSpec("closing_press_mm", _OPT.closing_settings.press_depth * 1000, "... and stop where a finger vertex "
              "would be this deep in the object (mm)", 0.0, 10.0),
    ParamSpec("unseen_back", _OPT.unseen_back, "camera views: stage 3 keeps fingers out of the object assumed behind "
              "the seen surface (L_back)"),
    ParamSpec("hold_check", _SYN.hold_check, "simulate each grasp on a surface reconstructed from the cloud; one whose "
              "object falls keeps half its ranking score: complete clouds, all (camera views too, on the back they "
              "assume) or off",
              choices=HOLD_CHECK_MODES),
    ParamSpec("hold_check_shift_mm", _SYN.hold_check_shift_mm, "the hold check also simulates each grasp with the "
              "hand moved this far along +-x, +-y, +-z and ranks by the share held (0 = as planned only)", 0.0, 5.0),
    ParamSpec("volume_ranking_cm3", _SYN.volume_ranking_cm3, "complete clouds: a grasp's ranking score is "
              "multiplied by exp(-V / this), V its intersection volume in cm^3 (0 = not ranked by volume)", 0.0, 1000.0),
    ParamSpec("grip_zone_cm", _SYN.grip_zone_cm, "handle and wrap grips: stages 2-3 aim the hand at the stretch of "
              "the part this long (cm) nearest the object's centre (0 = the whole part)", 0.0, 100.0),
    ParamSpec("preprocess", _SYN.preprocess, "camera clouds: plane removal, clustering, target selection, FPS"),
    ParamSpec("cloud_kind", _SYN.cloud_kind, "what goal clouds are: camera (one view; normals face the sensor), "
              "complete (mesh sample, fused views; normals point out) or auto (detected; the result's rationale "
              "says which)", choices=CLOUD_KIND_MODES),
    ParamSpec("target_selection", _PRE.target, "which cluster is the object", choices=("largest", "nearest", "label")),
    ParamSpec("millimetres", _PRE.millimetres, "a cloud in millimetres: error or convert", choices=("error", "convert")),
    ParamSpec("analyzer", _SYN.analyzer, "instruction analysis backend", choices=ANALYZERS),
    ParamSpec("analyzer_model", "", "chat model name (analyzer openai)"),
    ParamSpec("analyzer_base_url", "", "OpenAI-compatible server URL (analyzer openai)"),
    ParamSpec("analyzer_api_key_env", "OPENAI_API_KEY", "the NAME of the variable holding the API key"),
    ParamSpec("analyzer_timeout", 20.0, "seconds per chat request", 0.1, 3600.0),
    ParamSpec("analyzer_model_path", "", "local (vision-)language model (analyzer transformers)"),
    ParamSpec("localizer", _SYN.localizer, "part localizer for unlabelled clouds", choices=LOCALIZERS[1:]),
    ParamSpec("localizer_model_path", "", "local detector weights (localizer detector)"),
    ParamSpec("localizer_points", _SYN.localizer_points, "points the geometric localizer analyses", 16, _BIG),
)  # fmt: skip


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    text = spec.description + ("" if spec.live else " (read at start-up)")
    if spec.choices:
        text += f"; one of: {', '.join(spec.choices)}"
    d = ParameterDescriptor(description=text)
    if spec.low is not None and isinstance(spec.default, bool) is False:
        if isinstance(spec.default, int):
            d.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
        elif isinstance(spec.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high))]
    return d


def check_value(spec: ParamSpec, value: Any) -> str:
    """'' when the value is acceptable, else why not."""
    if isinstance(spec.default, bool) != isinstance(value, bool) or (
        isinstance(spec.default, (int, float)) and not isinstance(value, (int, float))
    ):
        return f"'{spec.name}' must be of the type of {spec.default!r}, got {value!r}"
    if spec.low is not None and not spec.low <= value <= spec.high:
        return f"'{spec.name}' must be in {spec.low}..{spec.high}, got {value}"
    if spec.choices and value not in spec.choices:
        return f"'{spec.name}' must be one of {', '.join(spec.choices)}, got '{value}'"
    return ""


def declare(node: Node, specs: Sequence[ParamSpec], cross_check: Callable[[dict], str] | None = None) -> dict:
    """Declare the parameters, check them (ConfigurationError on a bad value), guard runtime changes;
    returns the start-up values by name."""
    by_name = {s.name: s for s in specs}
    values = {}
    for spec in specs:
        try:
            values[spec.name] = node.declare_parameter(spec.name, spec.default, _descriptor(spec)).value
        except (ParameterException, TypeError, ValueError) as err:
            raise ConfigurationError(f"parameter '{spec.name}': {err}") from None
        reason = check_value(spec, values[spec.name])
        if reason:
            raise ConfigurationError(reason)
    reason = cross_check(values) if cross_check else ""
    if reason:
        raise ConfigurationError(reason)

    def on_set(params: list[Parameter]) -> SetParametersResult:
        for p in params:
            spec = by_name.get(p.name)
            if spec is None:
                continue
            if not spec.live and p.value != node.get_parameter(p.name).value:
                return SetParametersResult(successful=False, reason=f"'{p.name}' is read at start-up only: "
                                           "restart the node to change it")  # fmt: skip
            reason = check_value(spec, p.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        if cross_check:
            merged = {s.name: node.get_parameter(s.name).value for s in specs} | {p.name: p.value for p in params}
            reason = cross_check(merged)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return values


# -- the synthesis server -------------------------------------------------------------------------
def server_cross_check(v: dict) -> str:
    robots = [r for r in v["robot_hands"] if r]
    if v["robot_hand"] not in ("none", *robots):
        return f"robot_hand '{v['robot_hand']}' is not in robot_hands {robots} (or 'none')"
    if v["hand_model"] == "mano" and not v["mano_model_path"]:
        return "hand_model 'mano' needs mano_model_path (a MANO_RIGHT.pkl you downloaded)"
    return ""


def _file_option(path: str, component: str, takes_file: tuple[str, ...]) -> dict:
    """{"path": path} for a component that reads that file, when one is named; else nothing."""
    return {"path": path} if path and component in takes_file else {}


def synthesizer_config(v: dict) -> SynthesizerConfig:
    """The library configuration from the server's start-up parameter values."""
    analyzer_options: dict = {}
    if v["analyzer"] == "openai":
        analyzer_options = {"api_key_env": v["analyzer_api_key_env"], "timeout": v["analyzer_timeout"]}
        analyzer_options |= {k: v[f"analyzer_{k}"] for k in ("model", "base_url") if v[f"analyzer_{k}"]}
    elif v["analyzer"] == "transformers" and v["analyzer_model_path"]:
        analyzer_options = {"model_path": v["analyzer_model_path"]}
    localizer_options = {"model_path": v["localizer_model_path"]} if v["localizer"] == "detector" and \
        v["localizer_model_path"] else {}  # fmt: skip
    return SynthesizerConfig(
        preset=v["preset"], retriever=v["retriever"], generator=v["generator"],
        retriever_options=_file_option(v["prior_database"], v["retriever"] or PRESETS[v["preset"]].retriever, ("database",)),
        generator_options=_file_option(v["cvae_weights"], v["generator"] or PRESETS[v["preset"]].generator,
                                       ("cvae", "object_cvae")),
        device=v["device"], cpu_threads=v["cpu_threads"], num_candidates=v["num_candidates"],
        preprocess=v["preprocess"], cloud_kind=v["cloud_kind"],
        preprocess_config=PreprocessConfig(millimetres=v["millimetres"], target=v["target_selection"]),
        analyzer=v["analyzer"], analyzer_options=analyzer_options, localizer=v["localizer"],
        localizer_options=localizer_options, localizer_points=v["localizer_points"],
        optimizer=OptimizerConfig(iterations_a=v["iterations_a"], iterations_b=v["iterations_b"],
                                  closing=v["finger_closing"], unseen_back=v["unseen_back"],
                                  closing_settings=ClosingConfig(squeeze=v["closing_squeeze_rad"],
                                                                 press_depth=v["closing_press_mm"] / 1000)),
        mano_model_path=v["mano_model_path"], hold_check=v["hold_check"],
        hold_check_shift_mm=v["hold_check_shift_mm"], volume_ranking_cm3=v["volume_ranking_cm3"],
        grip_zone_cm=v["grip_zone_cm"],
    )  # fmt: skip


def request_defaults(node: Node) -> RequestDefaults:
    """What a goal's empty fields mean, from the current (live) parameter values."""
    p = lambda name: node.get_parameter(name).value  # noqa: E731
    hands = ("open_hand", "mano") if p("mano_model_path") else ("open_hand",)
    return RequestDefaults(max_grasps=p("max_grasps"), hand_model=p("hand_model"), robot_hand=p("robot_hand"),
                           timeout=p("goal_timeout"), robot_hands=tuple(r for r in p("robot_hands") if r),
                           hand_models=hands)  # fmt: skip


# -- the retargeting node ---------------------------------------------------------------------------
RETARGETING_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("robot_hand", "leap_hand", "config/retargeting/<robot_hand>.yaml"),
    ParamSpec("config_dir", "", "directory of the retargeting YAMLs ('' = the package's)"),
    ParamSpec("mode", "", "position | vector ('' = the robot config's mode)", choices=("", "position", "vector")),
    ParamSpec("pre_grasp_backoff", 0.08, "metres the wrist backs off along the approach", 0.0, 0.5, live=True),
    ParamSpec("pre_grasp_open_fraction", 0.6, "pre-grasp fingers: fraction of the way to open", 0.0, 1.0, live=True),
    ParamSpec("pre_grasp_time", 1.0, "hand_trajectory: seconds to the pre-grasp point", 0.0, 3600.0, live=True),
    ParamSpec("grasp_time", 2.5, "hand_trajectory: seconds to the grasp point", 0.001, 3600.0, live=True),
    ParamSpec("base_frame", "", "TF child frame of the robot hand ('' = the URDF root link)"),
    ParamSpec("fallback_frame", "world", "frame for grasps whose header.frame_id is empty", live=True),
    ParamSpec("publish_rate", 10.0, "Hz: joint_states / robot_wrist_pose / TF republishing", 0.1, 1000.0),
    ParamSpec("publish_tf", True, "grasp frame -> base_frame on TF (needs tf2_ros)"),
    ParamSpec("publish_robot_description", True, "publish the URDF (off when robot_state_publisher runs)"),
    ParamSpec("hand_mesh_markers", True, "human hand mesh in the markers (open_hand grasps)"),
    ParamSpec("grasp_topic", "grasp", "HandGrasp to retarget"),
    ParamSpec("cloud_topic", "object_cloud", "PointCloud2 drawn in the markers"),
    ParamSpec("joint_states_topic", "joint_states", "JointState for robot_state_publisher"),
    ParamSpec("trajectory_topic", "hand_trajectory", "JointTrajectory pre-grasp -> grasp"),
    ParamSpec("wrist_pose_topic", "robot_wrist_pose", "PoseStamped: robot base in the grasp frame"),
    ParamSpec("retargeted_topic", "retargeted_grasp", "HandGrasp with the robot fields filled"),
    ParamSpec("markers_topic", "markers", "MarkerArray"),
    ParamSpec("robot_description_topic", "robot_description", "the URDF (std_msgs/String, transient local)"),
)  # fmt: skip


def retargeting_cross_check(v: dict) -> str:
    if v["grasp_time"] <= v["pre_grasp_time"]:
        return f"grasp_time ({v['grasp_time']} s) must come after pre_grasp_time ({v['pre_grasp_time']} s)"
    return ""


# -- the grasp input node (topics -> SynthesizeGrasp goals) --------------------------------------------
GRASP_INPUT_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("cloud_topic", "object_cloud", "PointCloud2 (sensor-data QoS); the latest one goes into each goal"),
    ParamSpec("instruction_topic", "instruction", "std_msgs/String; each new, non-empty one sends a goal"),
    ParamSpec("use_latched_instruction", False, "also answer an instruction published before the node started "
              "(transient local subscription: the publisher must be transient local)"),
    ParamSpec("action_name", "synthesize_grasp", "the SynthesizeGrasp action server to call"),
    ParamSpec("grasps_topic", "ranked_grasps", "every grasp of a successful result, best first (HandGrasp)"),
    ParamSpec("status_topic", "status", "one JSON line per instruction (std_msgs/String)"),
    ParamSpec("debounce", 5.0, "seconds in which the last goal's instruction text is ignored", 0.0, 3600.0, live=True),
    ParamSpec("cloud_wait", 5.0, "seconds an instruction waits for a first cloud (then NO_CLOUD)", 0.0, 3600.0,
              live=True),
    ParamSpec("server_wait", 10.0, "seconds an instruction waits for the action server (then NO_SERVER)", 0.0,
              3600.0, live=True),
    ParamSpec("max_grasps", 0, "goal max_grasps (0 = the server's)", 0, MAX_GRASPS_LIMIT, live=True),
    ParamSpec("hand_model", "", "goal hand_model ('' = the server's)", choices=("", *HAND_MODELS), live=True),
    ParamSpec("robot_hand", "", "goal robot_hand ('' = the server's, 'none' skips retargeting)", live=True),
    ParamSpec("object_category", "", "goal object_category hint ('' = unknown)", live=True),
    ParamSpec("target_frame", "", "goal target_frame ('' = the cloud's frame)", live=True),
    ParamSpec("timeout", 0.0, "goal timeout in seconds (0 = the server's goal_timeout)", 0.0, 86400.0, live=True),
    ParamSpec("server_cloud", False, "send goals without a cloud: the server uses the clouds it received (and fuses "
              "them with its fuse_views)", live=True),
)  # fmt: skip
