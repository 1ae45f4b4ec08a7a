"""GraspSynthesizer: the three G-DexGrasp stages on a validated SynthesisRequest.

preprocess (camera cloud -> object) -> stage 1: analysis (instruction -> affordance, part),
localization (part mask), retrieval (grasp prior) -> stage 2: generation (initial wrist poses)
-> stage 3: prior-guided optimization -> evaluation (metrics, ranking) -> retargeting.

Reports progress per stage, honours cancellation and the request's time limit, and raises
GraspError with the action's error codes. Until the prior database and the part-aware CVAE
exist, retrieval uses the affordance's canonical-posture prior and generation the part-facing
initialisation (the paper's "part random init"); the result's rationale says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from .errors import ErrorCode, GraspError
from .geometry.rotations import rot6d_to_matrix
from .hand import load_hand_model
from .metrics.contact import contact_mask
from .metrics.quality import GraspQuality, evaluate_grasp
from .objects.part_object import PartObject
from .objects.preprocess import CloudUnitsError, PreprocessConfig, estimate_normals, preprocess_cloud
from .request import SynthesisRequest
from .stage1.prior import GraspPrior, posture_prior
from .stage2.part_init import part_facing_poses
from .stage3.optimizer import ObjectContext, OptimizerConfig, PriorGuidedOptimizer

# progress(stage_name, fraction 0..1, live_candidates, best_loss)
ProgressCallback = Callable[[str, float, int, float], None]
CancelCheck = Callable[[], bool]

STAGES = (
    "preprocess",
    "analysis",
    "localization",
    "retrieval",
    "generation",
    "optimization",
    "evaluation",
    "retargeting",
)
# Share of the overall progress bar each stage stands for (the optimizer dominates).
_STAGE_SPAN = {"preprocess": (0.0, 0.03), "analysis": (0.03, 0.06), "localization": (0.06, 0.1),
               "retrieval": (0.1, 0.12), "generation": (0.12, 0.15), "optimization": (0.15, 0.9),
               "evaluation": (0.9, 0.97), "retargeting": (0.97, 1.0)}  # fmt: skip


@dataclass
class SynthesizerConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch CPU threads (process-wide; 0 keeps torch's default). One is the fastest on a small
    # robot computer shared with DDS and other nodes: the optimizer's tensors are small, and
    # OpenMP threads that compete for busy cores slowed an iteration 10-20x in our measurements.
    cpu_threads: int = 1
    num_candidates: int = 8  # K hands optimised together
    preprocess: bool = True  # run sensor-cloud preprocessing (plane removal, clustering, FPS)
    preprocess_config: PreprocessConfig = field(default_factory=PreprocessConfig)
    analyzer: str = "offline"
    analyzer_options: dict = field(default_factory=dict)
    localizer: str = "geometric"  # used when the cloud carries no part labels
    localizer_options: dict = field(default_factory=dict)
    # Points the geometric localizer analyses (of the object's dense voxel cloud). One camera
    # view localizes best at 2048 (benchmarks/localizer_iou.py --partial); complete clouds
    # (fused views, meshes) at 8192, which small parts such as triggers need.
    localizer_points: int = 2048
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    standoff: float = 0.02  # m, initial palm distance from the part
    up_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)  # "up" in the cloud's frame when no table is seen
    mano_model_path: str = ""
    retargeting_config_dir: str = ""  # "" = the package's config/retargeting
    seed: int = 0


@dataclass
class GraspCandidate:
    rotation: np.ndarray  # (3, 3) wrist rotation in the request frame
    translation: np.ndarray  # (3,) wrist position, metres
    joint_names: tuple[str, ...]
    joints: np.ndarray  # (D,) radians
    keypoints: np.ndarray  # (21, 3) MANO/OpenPose order
    vertices: np.ndarray  # (V, 3) hand surface, for markers and renders
    contact_points: np.ndarray  # (C, 3) hand points within 5 mm of the object
    quality: GraspQuality
    loss: float
    prior_cluster_id: int = -1
    robot: dict | None = None  # retargeting output (robot name, joint names/positions, pre-grasp, wrist poses)


@dataclass
class SynthesisResult:
    arrangement: dict = field(default_factory=dict)
    grasps: list[GraspCandidate] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    object_points: np.ndarray | None = None  # the processed object cloud the grasps refer to
    part_mask: np.ndarray | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got '{name}'") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got '{name}'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GraspError(ErrorCode.INVALID_GOAL, f"device '{name}' requested but CUDA is not available")
    return dev


class GraspSynthesizer:
    """The pipeline entry point used by the action server, tests and the demo."""

    def __init__(self, config: SynthesizerConfig | None = None, device: str | None = None):
        self.config = config or SynthesizerConfig()
        if device is not None:
            self.config.device = device
        self.device = resolve_device(self.config.device)
        if self.device.type == "cpu" and self.config.cpu_threads > 0:
            torch.set_num_threads(self.config.cpu_threads)
        self._hands: dict[str, object] = {}
        self._analyzer = None
        self._localizers: dict[str, object] = {}
        self._retargeters: dict[str, object] = {}

    def load_components(self) -> None:
        """Build the analyzer, the default localizer and the default hand now (a server calls this
        at start-up, so a bad backend or model path is reported before the first goal)."""
        self._get_analyzer()
        self._get_localizer(self.config.localizer)
        self._hand("open_hand")

    # -- public ------------------------------------------------------------------------------------
    def synthesize(self, request: SynthesisRequest, progress: ProgressCallback | None = None,
                   should_cancel: CancelCheck | None = None) -> SynthesisResult:  # fmt: skip
        run = _Run(request, progress, should_cancel)
        result = SynthesisResult()
        with run.stage("preprocess", result):
            obj = self._preprocess(request)
        with run.stage("analysis", result):
            arrangement = self._analyze(request, obj)
            result.arrangement = arrangement
        with run.stage("localization", result):
            mask = self._localize(obj, arrangement)
            result.object_points, result.part_mask = obj.points, mask
        hand = self._hand(request.hand_model)
        with run.stage("retrieval", result):
            prior = self._retrieve(hand, arrangement)
            arrangement["rationale"] = (
                arrangement.get("rationale", "") + "; prior: the affordance's canonical posture "
                "(no prior database yet); initial poses: facing the part (no CVAE weights yet)"
            )
        with run.stage("generation", result):
            r6, trans = self._generate(obj, mask, request)
        with run.stage("optimization", result):
            opt = PriorGuidedOptimizer(hand, self.config.optimizer).run(
                ObjectContext(obj, mask, self.device), prior, r6.to(self.device), trans.to(self.device),
                progress=run.sub_progress("optimization"), should_cancel=run.check,
            )  # fmt: skip
        with run.stage("evaluation", result):
            grasps = self._evaluate(hand, opt, obj, mask, prior, request.max_grasps)
        with run.stage("retargeting", result):
            self._retarget(grasps, request.robot_hand)
        result.grasps = grasps
        return result

    # -- stages ---------------------------------------------------------------------------------
    def _preprocess(self, request: SynthesisRequest) -> PartObject:
        pts = request.points
        labels = request.labels
        up = np.asarray(self.config.up_axis, dtype=float)
        # The sensor's position in the request frame (the frame origin for camera clouds).
        viewpoint = np.asarray(request.extras.get("viewpoint", np.zeros(3)), dtype=float)
        if self.config.preprocess:
            try:
                out = preprocess_cloud(pts, self.config.preprocess_config, labels=labels, viewpoint=viewpoint)
            except CloudUnitsError as err:
                raise GraspError(ErrorCode.INVALID_GOAL, str(err)) from err
            except ValueError as err:
                raise GraspError(ErrorCode.EMPTY_CLOUD, f"preprocessing found no object: {err}") from err
            points, normals, labels = out.points, out.normals, out.labels
            dense = (out.object_points, out.object_normals, out.object_rows)
            if out.plane is not None:  # the table's normal, towards the camera: the scene's up
                up = out.plane[:3]
        else:
            points, normals = pts, estimate_normals(pts, viewpoint)
            dense = None
        part_names = list(request.extras.get("part_names", []))
        if labels is not None and part_names:
            ids = np.asarray(labels, dtype=np.int64)
            ids[(ids < 0) | (ids >= len(part_names))] = -1
        else:
            ids, part_names = np.full(len(points), -1), []
        obj = PartObject(points, normals, ids, part_names, request.object_category, "request")
        obj.extras["up"] = up / np.linalg.norm(up)
        obj.extras["viewpoint"] = viewpoint
        if dense is not None and len(dense[0]) > len(points):
            obj.extras["dense"] = dense  # (points, normals, rows of obj.points): for the localizer
        return obj

    def _analyze(self, request: SynthesisRequest, obj: PartObject) -> dict:
        analyzer = self._get_analyzer()
        try:
            arr = analyzer.analyze(request.instruction, category=obj.category, part_names=obj.part_names or None)
        except GraspError:
            raise
        except Exception as err:  # noqa: BLE001 - every analyzer failure maps to one code
            raise GraspError(ErrorCode.ANALYSIS_FAILED, f"instruction analysis failed: {err}") from err
        return arr.to_msg_fields()

    def _localize(self, obj: PartObject, arrangement: dict) -> np.ndarray:
        from .stage1.localization import GeometricLocalizer

        name = "labels" if (obj.part_ids >= 0).any() else self.config.localizer
        localizer = self._get_localizer(name)
        part = arrangement["contact_part"]
        # Localizers reason about top / bottom with +z up: turn the object so the scene's up is +z.
        R_up = Rotation.align_vectors([[0.0, 0.0, 1.0]], [obj.extras["up"]])[0].as_matrix()
        # Small parts need the dense cloud (every voxel of the object), not the 2048 samples; the
        # geometric localizer thins it to the points it analyses (localizer_points).
        dense = obj.extras.get("dense") if isinstance(localizer, GeometricLocalizer) else None
        source = obj if dense is None else PartObject(dense[0], dense[1], np.full(len(dense[0]), -1), [],
                                                      obj.category, "request (dense)")  # fmt: skip
        upright = source.transformed(R_up, np.zeros(3))
        # transformed() copies extras as they were: restate the frame-dependent ones upright.
        upright.extras.pop("dense", None)
        upright.extras["up"] = np.array([0.0, 0.0, 1.0])
        upright.extras["viewpoint"] = R_up @ obj.extras["viewpoint"]  # what the sensor saw
        try:
            found = localizer.localize(upright, part)
        except Exception as err:  # noqa: BLE001
            raise GraspError(ErrorCode.PART_NOT_FOUND, f"could not find the {part}: {err}") from err
        mask = np.asarray(found.mask, dtype=bool)
        if dense is not None:
            mask = mask[dense[2]]
        if not mask.any():
            raise GraspError(ErrorCode.PART_NOT_FOUND, f"no point of the object was recognised as its {part}")
        arrangement["localizer_backend"] = found.backend
        return mask

    def _retrieve(self, hand, arrangement: dict) -> GraspPrior:
        return posture_prior(hand, arrangement["affordance"], arrangement["contact_part"])

    def _generate(self, obj: PartObject, mask: np.ndarray, request: SynthesisRequest):
        k = max(self.config.num_candidates, request.max_grasps)
        return part_facing_poses(obj.points, obj.normals, mask, k, self.config.standoff, self.config.seed)

    def _evaluate(self, hand, opt, obj: PartObject, mask: np.ndarray, prior: GraspPrior, count: int):
        with torch.no_grad():
            out = hand.forward(opt.rot6d, opt.trans, opt.joints)
        R = rot6d_to_matrix(opt.rot6d).cpu().numpy()
        grasps = []
        for k in opt.order.tolist():
            verts = out.vertices[k].cpu().numpy()
            quality = evaluate_grasp(verts, obj.points, obj.normals, mask)
            near, _ = contact_mask(verts, obj.points)
            grasps.append(GraspCandidate(
                rotation=R[k], translation=opt.trans[k].cpu().numpy(), joint_names=tuple(hand.joint_names),
                joints=opt.joints[k].cpu().numpy(), keypoints=out.keypoints[k].cpu().numpy(), vertices=verts,
                contact_points=verts[near], quality=quality, loss=float(opt.loss[k]),
                prior_cluster_id=prior.cluster_id,
            ))  # fmt: skip
        grasps.sort(key=lambda g: -g.quality.score)
        if not any(g.quality.contact_count > 0 for g in grasps):
            raise GraspError(ErrorCode.NO_GRASP_FOUND, "no candidate touches the object after optimization")
        return [g for g in grasps if g.quality.contact_count > 0][:count]

    def _retarget(self, grasps: list[GraspCandidate], robot: str) -> None:
        if robot in ("", "none"):
            return
        retargeter = self._get_retargeter(robot)
        for g in grasps:
            wrist = np.eye(4)
            wrist[:3, :3], wrist[:3, 3] = g.rotation, g.translation
            g.robot = retargeter.retarget(g.keypoints, wrist_pose=wrist)  # both in the request's frame

    # -- components (built once, on first use) -------------------------------------------------
    def _hand(self, name: str):
        if name not in self._hands:
            self._hands[name] = load_hand_model(name, self.config.mano_model_path, self.device)
        return self._hands[name]

    def _get_analyzer(self):
        if self._analyzer is None:
            from .stage1.analysis import make_analyzer

            self._analyzer = make_analyzer(self.config.analyzer, **self.config.analyzer_options)
        return self._analyzer

    def _get_localizer(self, name: str):
        if name not in self._localizers:
            from .stage1.localization import canonical_name, make_localizer

            options = dict(self.config.localizer_options) if name == self.config.localizer else {}
            if canonical_name(name) == "geometric":
                options.setdefault("analysis_points", self.config.localizer_points)
            self._localizers[name] = make_localizer(name, **options)
        return self._localizers[name]

    def _get_retargeter(self, robot: str):
        if robot not in self._retargeters:
            from .retarget.retargeter import load_retargeter

            self._retargeters[robot] = load_retargeter(robot, self.config.retargeting_config_dir or None)
        return self._retargeters[robot]


class _Run:
    """Progress, cancellation and the time limit of one synthesis."""

    def __init__(self, request: SynthesisRequest, progress, should_cancel):
        self.progress, self.should_cancel = progress, should_cancel
        self.deadline = time.monotonic() + request.timeout if request.timeout > 0 else None
        self.current = "preprocess"

    def check(self) -> bool:
        """Raise TIMEOUT past the deadline; True when the client asked to cancel."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise GraspError(ErrorCode.TIMEOUT, f"the goal ran past its time limit during {self.current}")
        return bool(self.should_cancel and self.should_cancel())

    def stage(self, name: str, result: SynthesisResult):
        return _StageTimer(self, name, result)

    def sub_progress(self, name: str):
        lo, hi = _STAGE_SPAN[name]

        def report(_sub: str, fraction: float, live: int, best: float) -> None:
            if self.progress is not None:
                self.progress(name, lo + (hi - lo) * fraction, live, best)

        return report


class _StageTimer:
    def __init__(self, run: _Run, name: str, result: SynthesisResult):
        self.run, self.name, self.result = run, name, result

    def __enter__(self):
        self.run.current = self.name
        if self.run.check():
            raise GraspError(ErrorCode.CANCELED, f"canceled before {self.name}")
        if self.run.progress is not None:
            self.run.progress(self.name, _STAGE_SPAN[self.name][0], 0, float("nan"))
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.result.timings[self.name] = time.perf_counter() - self.start
        return False
