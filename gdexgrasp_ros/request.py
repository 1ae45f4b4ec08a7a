"""The synthesis request at the pipeline's entry, and its validation.

ROS-free: the action server converts a goal (plus the latest cloud / instruction it
received) into raw arrays and strings, and this module decides whether the request is
well-formed, answering with the action's error codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ErrorCode, GraspError

HAND_MODELS = ("open_hand", "mano")
MAX_GRASPS_LIMIT = 64
MAX_INSTRUCTION_CHARS = 2000


@dataclass
class RawRequest:
    """What the caller supplied, before defaults and validation (None = not supplied)."""

    points: np.ndarray | None  # (N, 3) or organised (H, W, 3), metres, may contain NaN
    frame_id: str = ""
    labels: np.ndarray | None = None  # per-point part labels carried by the cloud, if any
    normals: np.ndarray | None = None  # per-point normals carried by the cloud (the points' shape), if any
    instruction: str | None = None
    object_category: str = ""
    target_frame: str = ""
    max_grasps: int = 0
    hand_model: str = ""
    robot_hand: str = ""
    timeout: float = 0.0
    viewpoint: np.ndarray | None = None  # sensor position in the cloud's frame (None: the frame's origin)
    part_names: tuple[str, ...] = ()  # names of the label ids carried by the cloud
    cloud_kind: str = ""  # "camera" | "complete" when the caller knows (fused views); "" = the configured kind
    cloud_source: str = ""  # where the cloud came from, for the result's rationale (e.g. "fused 3 views")


@dataclass
class SynthesisRequest:
    """A validated request: finite points, an instruction, defaults applied."""

    points: np.ndarray  # (N, 3) float64, finite, metres
    frame_id: str
    instruction: str
    labels: np.ndarray | None = None  # (N,) aligned with points
    # (N, 3) unit, aligned with points: normals that came with the cloud, trusted as given (None: estimated)
    normals: np.ndarray | None = None
    organized_shape: tuple[int, int] | None = None  # (H, W) of the source cloud when organised
    object_category: str = ""
    target_frame: str = ""
    max_grasps: int = 5
    hand_model: str = "open_hand"
    robot_hand: str = "leap_hand"
    timeout: float = 120.0
    # The sensor's position in the cloud's frame: for a camera cloud its optical centre, the
    # frame's origin unless the cloud was moved into another frame.
    viewpoint: np.ndarray = field(default_factory=lambda: np.zeros(3))
    part_names: tuple[str, ...] = ()  # names of the label ids (label i is part_names[i])
    # time.monotonic() when the goal arrived: its time limit counts from here (None: from synthesize()).
    received: float | None = None
    cloud_kind: str = ""  # "" = the synthesizer's configured cloud_kind
    cloud_source: str = ""


@dataclass
class RequestDefaults:
    max_grasps: int = 5
    hand_model: str = "open_hand"
    robot_hand: str = "leap_hand"
    timeout: float = 120.0
    robot_hands: tuple[str, ...] = ("leap_hand", "allegro_hand")
    hand_models: tuple[str, ...] = HAND_MODELS  # the hands this server can load (mano needs its file)


def validate_request(raw: RawRequest, defaults: RequestDefaults | None = None) -> SynthesisRequest:
    """Check a raw request and apply defaults; raise GraspError with the matching code."""
    d = defaults or RequestDefaults()
    instruction = _validate_instruction(raw.instruction)
    max_grasps = _validate_count(raw.max_grasps, d.max_grasps)
    hand_model = raw.hand_model or d.hand_model
    if hand_model not in HAND_MODELS:
        raise GraspError(ErrorCode.INVALID_GOAL, f"unknown hand_model '{hand_model}'; expected one of {HAND_MODELS}")
    if hand_model not in d.hand_models:
        raise GraspError(ErrorCode.INVALID_GOAL, f"hand_model '{hand_model}' is not available here "
                         f"(available: {', '.join(d.hand_models)}); 'mano' needs the mano_model_path parameter")  # fmt: skip
    robot_hand = raw.robot_hand or d.robot_hand
    allowed_robots = ("none",) + tuple(d.robot_hands)
    if robot_hand not in allowed_robots:
        raise GraspError(ErrorCode.INVALID_GOAL, f"unknown robot_hand '{robot_hand}'; configured: {allowed_robots}")
    timeout = _validate_timeout(raw.timeout, d.timeout)
    points, labels, organized, finite = _validate_points(raw.points, raw.labels)
    return SynthesisRequest(
        points=points,
        frame_id=raw.frame_id,
        instruction=instruction,
        labels=labels,
        normals=_validate_normals(raw.normals, raw.points, finite),
        organized_shape=organized,
        object_category=raw.object_category.strip().lower(),
        target_frame=raw.target_frame,
        max_grasps=max_grasps,
        hand_model=hand_model,
        robot_hand=robot_hand,
        timeout=timeout,
        viewpoint=_validate_viewpoint(raw.viewpoint),
        part_names=_validate_part_names(raw.part_names),
        cloud_kind=_validate_cloud_kind(raw.cloud_kind),
        cloud_source=raw.cloud_source,
    )


def _validate_cloud_kind(kind: str) -> str:
    if kind not in ("", "camera", "complete"):
        raise GraspError(ErrorCode.INVALID_GOAL, f"cloud_kind must be 'camera', 'complete' or empty, got '{kind}'")
    return kind


def _validate_viewpoint(viewpoint) -> np.ndarray:
    if viewpoint is None:
        return np.zeros(3)
    v = np.asarray(viewpoint, dtype=np.float64).reshape(-1)
    if v.shape != (3,) or not np.isfinite(v).all():
        raise GraspError(ErrorCode.INVALID_GOAL, f"viewpoint must be 3 finite numbers, got {viewpoint!r}")
    return v


def _validate_part_names(names) -> tuple[str, ...]:
    out = tuple(str(n).strip() for n in names)
    if any(not n for n in out):
        raise GraspError(ErrorCode.INVALID_GOAL, f"part names must be non-empty, got {list(names)!r}")
    return out


def _validate_instruction(text: str | None) -> str:
    if text is None or not text.strip():
        raise GraspError(
            ErrorCode.NO_INSTRUCTION,
            "the goal has no instruction and no instruction was received on the instruction topic",
        )
    text = text.strip()
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise GraspError(ErrorCode.INVALID_GOAL, f"instruction longer than {MAX_INSTRUCTION_CHARS} characters")
    return text


def _validate_count(value: int, default: int) -> int:
    n = int(value) if value else int(default)
    if not 1 <= n <= MAX_GRASPS_LIMIT:
        raise GraspError(ErrorCode.INVALID_GOAL, f"max_grasps must be in 1..{MAX_GRASPS_LIMIT}, got {n}")
    return n


def _validate_timeout(value: float, default: float) -> float:
    t = float(value)
    if math.isnan(t) or t < 0.0 or math.isinf(t):
        raise GraspError(ErrorCode.INVALID_GOAL, f"timeout must be a finite number of seconds >= 0, got {value}")
    return t if t > 0.0 else float(default)


def _validate_normals(normals, points, finite: np.ndarray) -> np.ndarray | None:
    """The cloud's normals for its finite points, unit length; INVALID_GOAL unless each of them is
    finite and non-zero (points that are NaN may have NaN normals: they are dropped together)."""
    if normals is None:
        return None
    arr = np.asarray(normals, dtype=np.float64)
    shape = np.shape(points)
    if arr.shape != shape:
        raise GraspError(ErrorCode.INVALID_GOAL, f"normals must have the points' shape {shape}, got {arr.shape}")
    kept = arr.reshape(-1, 3)[finite]
    length = np.linalg.norm(kept, axis=1)
    bad = ~(np.isfinite(length) & (length > 1e-12))
    if bad.any():
        raise GraspError(ErrorCode.INVALID_GOAL, f"{int(bad.sum())} of the cloud's {len(kept)} finite points have a "
                         "normal that is not finite or is zero; send finite, non-zero normals or none (then they "
                         "are estimated)")  # fmt: skip
    return kept / length[:, None]


def _validate_points(points, labels):
    if points is None:
        raise GraspError(
            ErrorCode.NO_CLOUD,
            "the goal has no cloud and no cloud was received on the cloud topic",
        )
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 3:
        raise GraspError(ErrorCode.INVALID_GOAL, f"points must have shape (N, 3) or (H, W, 3), got {pts.shape}")
    organized = pts.shape[:2] if pts.ndim == 3 else None
    flat = pts.reshape(-1, 3)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.any():
        raise GraspError(ErrorCode.EMPTY_CLOUD, f"the cloud has no finite points ({flat.shape[0]} points in total)")
    flat_labels = None
    if labels is not None:
        flat_labels = np.asarray(labels).reshape(-1)
        if flat_labels.shape[0] != flat.shape[0]:
            raise GraspError(
                ErrorCode.INVALID_GOAL,
                f"{flat_labels.shape[0]} labels for {flat.shape[0]} points",
            )
        flat_labels = flat_labels[finite]
    return flat[finite], flat_labels, organized, finite
