"""GraspSynthesizer: the three G-DexGrasp stages on a validated SynthesisRequest.

preprocess (camera cloud -> object) -> stage 1: analysis (instruction -> Arrangement),
localization (-> LocalizationResult), retrieval (-> GraspPrior) -> stage 2: generation
(-> InitialPoses) -> stage 3: prior-guided optimization -> evaluation (metrics; the hold check,
metrics.hold_check; ranking) -> retargeting. Typed results cross every stage boundary and are
kept in the SynthesisResult.

The configuration's preset (config.PRESETS) picks each stage's component, so the paper's
ablations run through this same code. Reports progress per stage, honours cancellation and
the request's time limit, and raises GraspError with the action's error codes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from .config import PRESETS, SynthesizerConfig
from .errors import ErrorCode, GraspError
from .geometry.normals import point_spacing
from .geometry.rotations import rot6d_to_matrix
from .geometry.visibility import ViewVolume
from .hand import load_hand_model
from .metrics.contact import contact_mask, on_part
from .metrics.hold_check import CHECK_ERRORS, HoldCheck, hold_factor
from .metrics.quality import GraspQuality, evaluate_grasp
from .metrics.simulation import HELD_M
from .objects.part_geometry import grip_zone
from .objects.part_object import PartObject
from .objects.preprocess import CloudUnitsError, estimate_normals, preprocess_cloud, resolve_cloud_kind_of
from .request import SynthesisRequest
from .stage1.analysis.base import Arrangement
from .stage1.localization.base import DenseCloud, LocalizationResult, SceneView
from .stage1.prior import GraspPrior
from .stage2.generation import GenerationInput, InitialPoses
from .stage3.optimizer import ObjectContext, OptimizationResult, PriorGuidedOptimizer

if TYPE_CHECKING:
    from .retarget.retargeter import RetargetResult

__all__ = ["PRESETS", "STAGES", "GraspCandidate", "GraspSynthesizer", "SynthesisResult", "SynthesizerConfig"]

# progress(stage_name, fraction 0..1, live_candidates, best_loss)
ProgressCallback = Callable[[str, float, int, float], None]
CancelCheck = Callable[[], bool]

# Grips that carry the object's weight: aimed at the part's stretch nearest the centre (SynthesizerConfig.grip_zone_cm).
GRIP_ZONE_AFFORDANCES = ("handle-grip", "wrap-around-grip")
STAGES = ("preprocess", "analysis", "localization", "retrieval", "generation", "optimization", "evaluation",
          "retargeting")  # fmt: skip
# Share of the overall progress bar each stage stands for (the optimizer dominates).
_STAGE_SPAN = {"preprocess": (0.0, 0.03), "analysis": (0.03, 0.06), "localization": (0.06, 0.1),
               "retrieval": (0.1, 0.12), "generation": (0.12, 0.15), "optimization": (0.15, 0.9),
               "evaluation": (0.9, 0.97), "retargeting": (0.97, 1.0)}  # fmt: skip


@dataclass
class PreparedObject:
    """The object as the stages see it: its sample points (labelled when the cloud was), how the
    scene was seen, and the dense voxel cloud the samples were drawn from (when there is one)."""

    obj: PartObject
    view: SceneView
    dense: DenseCloud | None = None
    cloud_kind: str = "camera"  # "camera" | "complete": what the cloud was taken to be
    cloud_note: str = ""  # how the kind was decided and where the normals came from


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
    robot: RetargetResult | None = None  # the robot hand's joints and base pose, when retargeted


@dataclass
class SynthesisResult:
    preset: str = "full"
    arrangement: Arrangement | None = None  # None when the preset uses no language
    localization: LocalizationResult | None = None  # None when the preset uses no part
    prior: GraspPrior | None = None
    initial_poses: InitialPoses | None = None
    grasps: list[GraspCandidate] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds of each stage that ran
    components: dict[str, str] = field(default_factory=dict)  # stage -> what ran; grip_zone: the part was cut
    object_points: np.ndarray | None = None  # the processed object cloud the grasps refer to
    part_mask: np.ndarray | None = None
    cloud_kind: str = ""  # "camera" | "complete": what the goal's cloud was taken to be ("" before preprocessing)
    cloud_note: str = ""  # e.g. "complete (detected: ...), normals estimated outward"

    @property
    def rationale(self) -> str:
        """Why these grasps, assembled from what actually ran."""
        parts = [f"preset {self.preset}"]
        if self.cloud_note:
            parts.append(f"cloud: {self.cloud_note}")
        if self.arrangement is not None and self.arrangement.rationale:
            parts.append(f"analysis: {self.arrangement.rationale}")
        if self.localization is not None:
            parts.append(f"part: {self.localization.backend}" + (f" ({self.localization.notes})"
                                                                   if self.localization.notes else ""))  # fmt: skip
        if self.prior is not None:
            parts.append(f"prior: {self.prior.source}")
        if "grip_zone" in self.components:
            parts.append(f"grip zone: {self.components['grip_zone']}")
        if self.initial_poses is not None:
            parts.append(f"initial poses: {self.initial_poses.description}")
        parts.append(f"optimization: {self.components.get('optimization', 'not run')}")
        if "evaluation" in self.components:
            parts.append(f"ranking: {self.components['evaluation']}")
        return "; ".join(parts)


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
            self.config = dataclasses.replace(self.config, device=device)
        self.components = self.config.components
        self.device = resolve_device(self.config.device)
        if self.device.type == "cpu" and self.config.cpu_threads > 0:
            torch.set_num_threads(self.config.cpu_threads)
        self._hands: dict[str, object] = {}
        self._analyzer = None
        self._localizers: dict[str, object] = {}
        self._retriever = None
        self._generator = None
        self._retargeters: dict[str, object] = {}

    def load_components(self) -> None:
        """Build every component the preset uses now (a server calls this at start-up, so a bad
        backend, model path or an unavailable component is reported before the first goal)."""
        if self.components.analysis:
            self._get_analyzer()
        if self.components.localization:
            self._get_localizer(self.config.localizer)
        self._get_retriever()
        self._get_generator()
        self._hand("open_hand")
        if self.config.mano_model_path:
            self._hand("mano")

    # -- public ------------------------------------------------------------------------------------
    def synthesize(self, request: SynthesisRequest, progress: ProgressCallback | None = None,
                   should_cancel: CancelCheck | None = None) -> SynthesisResult:  # fmt: skip
        run = _Run(request, progress, should_cancel)
        result = SynthesisResult(preset=self.config.preset)
        try:
            return self._synthesize(request, run, result)
        except GraspError as err:  # TIMEOUT, CANCELED, ...: say how far it got
            err.timings = dict(result.timings)
            raise

    def _synthesize(self, request: SynthesisRequest, run: _Run, result: SynthesisResult) -> SynthesisResult:
        done = result.components
        with run.stage("preprocess", result):
            prepared = self._preprocess(request, run.check_deadline)
        obj = prepared.obj
        result.object_points = obj.points
        result.cloud_kind, result.cloud_note = prepared.cloud_kind, prepared.cloud_note
        if self.components.analysis:
            with run.stage("analysis", result):
                result.arrangement = self._analyze(request, obj)
            done["analysis"] = result.arrangement.backend
        if self.components.localization:
            with run.stage("localization", result):
                result.localization = self._localize(prepared, result.arrangement.contact_part)
            done["localization"] = result.localization.backend
            mask = result.localization.mask
        else:
            mask = np.ones(len(obj), dtype=bool)  # no part: the whole object
        result.part_mask = mask
        hand = self._hand(request.hand_model)
        affordance, part = (result.arrangement.affordance, result.arrangement.contact_part) if result.arrangement \
            else ("", "")  # fmt: skip
        with run.stage("retrieval", result):
            result.prior = self._get_retriever().retrieve(hand, affordance, part, obj.points[mask])
        done["retrieval"] = self._get_retriever().name
        complete = result.cloud_kind == "complete"  # outward normals: the inside test holds
        grip = self._grip_zone(obj, mask, affordance)  # where stages 2-3 aim the hand
        if grip.sum() < mask.sum():
            done["grip_zone"] = (f"the hand aimed at {100 * grip.sum() / mask.sum():.0f} % of the {part}: its "
                                 f"{self.config.grip_zone_cm:g} cm nearest the object's centre")  # fmt: skip
        with run.stage("generation", result):
            k = max(self.config.num_candidates, request.max_grasps)
            query = GenerationInput(obj.points, obj.normals, grip, k, hand, self.config.seed, complete=complete,
                                    joints=result.prior.joints, cluster_id=result.prior.cluster_id,
                                    up=prepared.view.up)  # fmt: skip
            result.initial_poses = self._get_generator().generate(query)
        done["generation"] = result.initial_poses.generator
        optimizer_config = self.config.optimizer_config()
        with run.stage("optimization", result):
            wanted = optimizer_config.unseen_back or self.config.hold_check == "all"  # L_back, the hold check
            view_volume = self._view_volume(prepared) if wanted else None
            back = view_volume if optimizer_config.unseen_back else None
            context = ObjectContext(obj, grip, self.device, complete=complete, view_volume=back)
            opt = PriorGuidedOptimizer(hand, optimizer_config).run(
                context, result.prior, result.initial_poses.rot6d.to(self.device),
                result.initial_poses.trans.to(self.device), progress=run.sub_progress("optimization"),
                should_cancel=run.check,
            )  # fmt: skip
        done["optimization"] = _describe_optimization(optimizer_config, closes=bool(hand.closing_joints))
        with run.stage("evaluation", result):
            grasps = self._evaluate(hand, opt, obj, mask, result.prior, part_known=self.components.localization,
                                    check=run.check_deadline, complete=complete)  # fmt: skip
            done["evaluation"] = self._check_hold(grasps, hand, obj, prepared.view.up, complete, view_volume,
                                                  run.raise_if_stopped)  # fmt: skip
            grasps = _ranked(grasps, request.max_grasps)
        with run.stage("retargeting", result):
            self._retarget(grasps, request.robot_hand, request.hand_model, run.check_deadline)
        done["retargeting"] = request.robot_hand
        result.grasps = grasps
        return result

    # -- stages ---------------------------------------------------------------------------------
    def _preprocess(self, request: SynthesisRequest, check) -> PreparedObject:
        up = np.asarray(self.config.up_axis, dtype=float)
        labels, dense = request.labels, None
        pre = self.config.preprocess_config
        kind = request.cloud_kind or (self.config.cloud_kind if self.config.cloud_kind != "auto" else pre.cloud_kind)
        organised = request.organized_shape is not None
        if self.config.preprocess:
            try:
                out = preprocess_cloud(request.points, pre, labels=labels, viewpoint=request.viewpoint, check=check,
                                       normals=request.normals, cloud_kind=kind, organised=organised)  # fmt: skip
            except CloudUnitsError as err:
                raise GraspError(ErrorCode.INVALID_GOAL, str(err)) from err
            except ValueError as err:
                raise GraspError(ErrorCode.EMPTY_CLOUD, f"preprocessing found no object: {err}") from err
            points, normals, labels = out.points, out.normals, out.labels
            dense = DenseCloud(out.object_points, out.object_normals, out.object_rows)
            if out.plane is not None:  # the support's normal, towards the objects: the scene's up
                up = out.plane[:3]
            kind, source = out.cloud_kind, out.kind_source
        else:
            kind, source = resolve_cloud_kind_of(request.points, request.viewpoint, kind, organised)
            points = request.points
            normals = request.normals if request.normals is not None else \
                estimate_normals(points, request.viewpoint, pre, kind)  # fmt: skip
        source = "set by the request" if request.cloud_kind else source
        estimated = "outward" if kind == "complete" else "towards the viewpoint"
        note = f"{kind} ({source}), " + ("normals from the cloud" if request.normals is not None else
                                         f"normals estimated {estimated}")  # fmt: skip
        if request.cloud_source:
            note = f"{request.cloud_source}; {note}"
        part_names = list(request.part_names)
        if labels is not None and part_names:
            ids = np.asarray(labels, dtype=np.int64)
            ids[(ids < 0) | (ids >= len(part_names))] = -1
        else:
            ids, part_names = np.full(len(points), -1), []
        obj = PartObject(points, normals, ids, part_names, request.object_category, "request")
        # A complete cloud has no sensor: the localizer must not take its far side for unseen.
        viewpoint = tuple(float(v) for v in request.viewpoint) if kind == "camera" else None
        view = SceneView(tuple(float(v) for v in up / np.linalg.norm(up)), viewpoint)
        return PreparedObject(obj, view, dense, kind, note)

    def _grip_zone(self, obj: PartObject, mask: np.ndarray, affordance: str) -> np.ndarray:
        """The part's points the hand is aimed at: for a grip that carries the object's weight (handle,
        wrap), the stretch nearest its centre (objects.part_geometry.grip_zone); else the whole part (and
        the whole object when no part was localized)."""
        if affordance not in GRIP_ZONE_AFFORDANCES or not self.components.localization:
            return mask
        return grip_zone(obj.points, mask, self.config.grip_zone_cm / 100)

    @staticmethod
    def _view_volume(prepared: PreparedObject) -> ViewVolume | None:
        """A camera view's assumed back (stage 3's L_back), from its densest cloud; None for a
        complete cloud or an unknown sensor."""
        if prepared.cloud_kind == "complete" or prepared.view.viewpoint is None:
            return None
        points = prepared.obj.points if prepared.dense is None else prepared.dense.points
        try:
            return ViewVolume.from_points(points, prepared.view.viewpoint, point_spacing(points), prepared.view.up)
        except ValueError:  # a sensor among or behind the points: nothing is assumed
            return None

    def _analyze(self, request: SynthesisRequest, obj: PartObject) -> Arrangement:
        analyzer = self._get_analyzer()
        try:
            return analyzer.analyze(request.instruction, category=obj.category, part_names=obj.part_names or None)
        except GraspError:
            raise
        except Exception as err:  # noqa: BLE001 - every analyzer failure maps to one code
            raise GraspError(ErrorCode.ANALYSIS_FAILED, f"instruction analysis failed: {err}") from err

    def _localize(self, prepared: PreparedObject, part: str) -> LocalizationResult:
        labelled = (prepared.obj.part_ids >= 0).any()
        localizer = self._get_localizer("labels" if labelled else self.config.localizer)
        try:
            found = localizer.locate(prepared.obj, part, prepared.view, prepared.dense)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:  # degenerate geometry; bugs propagate
            raise GraspError(ErrorCode.PART_NOT_FOUND, f"could not find the {part}: {err}") from err
        if not found.mask.any():
            raise GraspError(ErrorCode.PART_NOT_FOUND, f"no point of the object was recognised as its {part}")
        return found

    def _evaluate(self, hand, opt: OptimizationResult, obj: PartObject, mask: np.ndarray, prior: GraspPrior,
                  part_known: bool, check, complete: bool = False) -> list[GraspCandidate]:  # fmt: skip
        """Metrics and the ranking score of every candidate that touches the object (unsorted). A complete
        cloud is judged with the inside test everywhere (penetration, share of the hand inside,
        intersection volume); a camera view near its points only."""
        with torch.no_grad():
            out = hand.forward(opt.rot6d, opt.trans, opt.joints)
        R = rot6d_to_matrix(opt.rot6d).cpu().numpy()
        grasps = []
        for k in opt.order.tolist():
            check()
            verts = out.vertices[k].cpu().numpy()
            sdf = hand.sdf_function(_posed(hand, opt, k)) if complete else None
            quality = evaluate_grasp(verts, obj.points, obj.normals, mask, hand_sdf=sdf, complete=complete,
                                     volume_scale=self.config.volume_ranking_cm3 * 1e-6)  # fmt: skip
            if not part_known:  # ranked on the whole object; a part ratio would mean nothing
                quality = dataclasses.replace(quality, part_contact_ratio=math.nan)
            near, _ = contact_mask(verts, obj.points)
            grasps.append(GraspCandidate(
                rotation=R[k], translation=opt.trans[k].cpu().numpy(), joint_names=tuple(hand.joint_names),
                joints=opt.joints[k].cpu().numpy(), keypoints=out.keypoints[k].cpu().numpy(), vertices=verts,
                contact_points=verts[near], quality=quality, loss=float(opt.loss[k]),
                prior_cluster_id=prior.cluster_id,
            ))  # fmt: skip
        if not any(g.quality.contact_count > 0 for g in grasps):
            raise GraspError(ErrorCode.NO_GRASP_FOUND, "no candidate touches the object after optimization")
        return [g for g in grasps if g.quality.contact_count > 0]

    def _check_hold(self, grasps: list[GraspCandidate], hand, obj: PartObject, up, complete: bool,
                    view: ViewVolume | None, check) -> str:  # fmt: skip
        """The hold check (metrics.hold_check): each grasp's simulated displacement, and its ranking score
        scaled by whether it held (the share of positions held, with hold_check_shift_mm), in place; on a
        complete cloud's reconstruction, or on a camera view with what it assumes behind its surface
        (`view`). Returns what was done, for the result's components."""
        if self.config.hold_check == "off":
            return "geometric ranking (hold check off)"
        if not complete and self.config.hold_check != "all":
            return "geometric ranking (hold check on complete clouds only)"
        if not complete and view is None:
            return "geometric ranking (a camera view without a known sensor: nothing to simulate)"
        check()
        try:
            if complete:
                holder = HoldCheck.of_cloud(obj.points, obj.normals, up)
            else:
                holder = HoldCheck.of_view(view, obj.points, up)
        except CHECK_ERRORS as err:  # e.g. no volume enclosed: rank on geometry alone, and say so
            return f"geometric ranking (hold check skipped: {type(err).__name__}: {err})"
        faces = hand.faces.cpu().numpy()
        shares = []
        with holder:
            for g in grasps:
                check()
                try:
                    moved, share = holder.robustness(g.vertices, faces, self.config.hold_check_shift_mm / 1000)
                except CHECK_ERRORS:  # this grasp stays unsimulated (NaN) and keeps its score
                    continue
                shares.append(share)
                g.quality = dataclasses.replace(g.quality, simulation_displacement=moved,
                                                score=g.quality.score * hold_factor(share))  # fmt: skip
        held = sum(g.quality.simulation_displacement < HELD_M for g in grasps)
        shape = "the reconstructed object" if complete else "the object as the view shows and assumes it"
        out = f"hold check: {held} of {len(grasps)} grasps held {shape} in simulation"
        if self.config.hold_check_shift_mm > 0:
            robust = sum(s == 1.0 for s in shares)
            out += f", {robust} also with the hand moved {self.config.hold_check_shift_mm:g} mm along each axis"
        return out

    def _retarget(self, grasps: list[GraspCandidate], robot: str, hand_model: str, check) -> None:
        if robot in ("", "none"):
            return
        retargeter = self._get_retargeter(robot)
        for g in grasps:
            check()
            wrist = None  # the retargeter's wrist frame is the OpenHand's; other hands: from the keypoints
            if hand_model == "open_hand":
                wrist = np.eye(4)
                wrist[:3, :3], wrist[:3, 3] = g.rotation, g.translation
            g.robot = retargeter.retarget(g.keypoints, wrist_pose=wrist)  # both in the request's frame

    # -- components (built once, on first use) -------------------------------------------------
    def _hand(self, name: str):
        if name not in self._hands:
            try:
                self._hands[name] = load_hand_model(name, self.config.mano_model_path, self.device)
            except (ValueError, OSError) as err:  # no or a bad model file
                raise GraspError(ErrorCode.INVALID_GOAL, str(err)) from err
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

    def _get_retriever(self):
        if self._retriever is None:
            from .stage1.retrieval import make_retriever

            self._retriever = make_retriever(self.components.retriever, **self.config.retriever_options)
        return self._retriever

    def _get_generator(self):
        if self._generator is None:
            from .stage2.generation import make_generator

            self._generator = make_generator(self.components.generator, **self.config.generator_options)
        return self._generator

    def _get_retargeter(self, robot: str):
        if robot not in self._retargeters:
            from .retarget.retargeter import load_retargeter

            self._retargeters[robot] = load_retargeter(robot, self.config.retargeting_config_dir or None)
        return self._retargeters[robot]


def _describe_optimization(cfg, closes: bool = True) -> str:
    """What stage 3 did; `closes`: the hand model has closing joints (the finish does nothing otherwise)."""
    if cfg.mode == "none":
        return "none (initial poses scored)"
    finish = ", then fingers closed on the part" if cfg.closing and closes else ""
    if cfg.mode == "two_stage":
        return (f"two-stage (A: {cfg.iterations_a} extrinsic iterations on prior terms, B: {cfg.iterations_b} on all"
                f"{finish})")  # fmt: skip
    if cfg.mode == "one_stage":
        return f"one-stage ({cfg.iterations_b} iterations, all parameters and terms{finish})"
    return f"no prior guidance ({cfg.iterations_a + cfg.iterations_b} iterations, physical terms + L_close{finish})"


class _Run:
    """Progress, cancellation and the time limit of one synthesis."""

    def __init__(self, request: SynthesisRequest, progress, should_cancel):
        self.progress, self.should_cancel = progress, should_cancel
        start = time.monotonic() if request.received is None else request.received
        self.timeout = request.timeout
        self.deadline = start + request.timeout if request.timeout > 0 else None
        self.current = "preprocess"

    def check_deadline(self) -> None:
        """Raise TIMEOUT past the deadline (called inside long stages too)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise GraspError(ErrorCode.TIMEOUT, f"the goal ran past its time limit of {self.timeout:g} s "
                             f"during {self.current}")  # fmt: skip

    def check(self) -> bool:
        """Raise TIMEOUT past the deadline; True when the client asked to cancel."""
        self.check_deadline()
        return bool(self.should_cancel and self.should_cancel())

    def raise_if_stopped(self) -> None:
        """Raise TIMEOUT past the deadline, CANCELED when the client asked to cancel (inside long loops)."""
        if self.check():
            raise GraspError(ErrorCode.CANCELED, f"canceled during {self.current}")

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

    def __exit__(self, exc_type, *exc):
        self.result.timings[self.name] = time.perf_counter() - self.start
        if exc_type is None:
            self.run.check_deadline()  # a stage that ran past the limit is named as the one (e.g. localization)
        return False


def _ranked(grasps: list[GraspCandidate], count: int) -> list[GraspCandidate]:
    """The `count` best grasps: those on the contact part (most contacts on it) first, then by ranking
    score. The task names the part: a grasp elsewhere that holds (the hold check) must not outrank one
    on the part."""
    on = lambda g: not math.isnan(g.quality.part_contact_ratio) and on_part(g.quality.part_contact_ratio)  # noqa: E731
    return sorted(grasps, key=lambda g: (not on(g), -g.quality.score))[:count]


def _posed(hand, opt: OptimizationResult, k: int):
    """Grasp k's posed hand alone (a batch of one)."""
    with torch.no_grad():
        return hand.forward(opt.rot6d[k : k + 1], opt.trans[k : k + 1], opt.joints[k : k + 1])
