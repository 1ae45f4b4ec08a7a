"""The synthesizer's configuration and the paper's Table 2 variants as named presets.

One dataclass holds every setting of the pipeline (the ROS parameters are declared from it,
see nodes/parameters.py); a preset fixes which component runs at each stage, so an ablation
is a configuration, not a fork of the code:

| preset | language + part | prior (stage 1) | generation (stage 2) | optimization (stage 3) |
|---|---|---|---|---|
| full | yes | database | cvae | two-stage, prior-guided |
| object_network | yes | database | object_cvae | two-stage |
| part_random_init | yes | database | part_random | two-stage |
| no_optimization | yes | database | cvae | none (initial poses scored) |
| no_prior_guidance | yes | database | cvae | no prior terms (L_close) |
| one_stage | yes | database | cvae | sub-stage B only |
| dexgraspnet_baseline | no | none | object_around | physical terms + L_close (no prior) |

database: the shipped prior database (stage1.prior_database); cvae / object_cvae: the shipped
weights (stage2.cvae). The data-free stand-ins they replaced stay available: retriever
canonical_posture, generator part_facing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .metrics.quality import VOLUME_SCALE_M3
from .objects.preprocess import CLOUD_KIND_MODES, PreprocessConfig
from .stage3.optimizer import OptimizerConfig


@dataclass(frozen=True)
class Preset:
    description: str
    analysis: bool = True  # instruction -> affordance and contact part (the language)
    localization: bool = True  # find the contact part; False: the whole object is the "part"
    retriever: str = "database"
    generator: str = "cvae"
    optimizer_mode: str = "two_stage"

    def __post_init__(self):
        if self.localization and not self.analysis:
            raise ValueError("a preset that localizes a part needs the analysis that names it")
        if self.retriever != "none" and not self.analysis:
            raise ValueError(f"retriever '{self.retriever}' needs an affordance: enable analysis or use 'none'")


PRESETS: dict[str, Preset] = {
    "full": Preset("Ours: part-aware prior, part-aware initialisation, two-stage prior-guided optimization"),
    "object_network": Preset("Table 2 'object-based network': the CVAE conditioned on the whole object",
                             generator="object_cvae"),
    "part_random_init": Preset("Table 2 'part random init': random placements near the part", generator="part_random"),
    "no_optimization": Preset("Table 2 'w/o optimization': the initial poses, scored", optimizer_mode="none"),
    "no_prior_guidance": Preset("Table 2 'w/o prior guidance': fingers pulled to the object, no prior terms",
                                optimizer_mode="no_prior"),
    "one_stage": Preset("Table 2 'one-stage optimization': all parameters and terms at once",
                        optimizer_mode="one_stage"),
    "dexgraspnet_baseline": Preset("DexGraspNet-style: around the whole object, physical losses only; no part, "
                                   "prior or language", analysis=False, localization=False, retriever="none",
                                   generator="object_around", optimizer_mode="no_prior"),
}  # fmt: skip
HOLD_CHECK_MODES = ("complete", "all", "off")
DEVICE_HELP = "auto (CUDA when present) | cpu | cuda | cuda:N"


@dataclass
class SynthesizerConfig:
    """Every setting of the pipeline. `preset` picks the component of each stage (PRESETS);
    `retriever` / `generator` replace the preset's choice when set (e.g. the prior database once
    it is built); `retriever_options` / `generator_options` go to that component's constructor."""

    preset: str = "full"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch CPU threads (process-wide; 0 keeps torch's default). One is the fastest on a small
    # robot computer shared with DDS and other nodes: the optimizer's tensors are small, and
    # OpenMP threads that compete for busy cores slowed an iteration 10-20x in our measurements.
    cpu_threads: int = 1
    num_candidates: int = 8  # K hands optimised together
    preprocess: bool = True  # run sensor-cloud preprocessing (plane removal, clustering, FPS)
    preprocess_config: PreprocessConfig = field(default_factory=PreprocessConfig)
    # What a goal's cloud is: "camera" (one view; normals face the viewpoint, the localizer knows
    # the unseen back is unknown), "complete" (mesh sample, fused views; normals point out), or
    # "auto": preprocess_config.cloud_kind if that is set, else detected (geometry/normals.py).
    # With or without preprocessing; the result's rationale says what was assumed.
    cloud_kind: str = "auto"
    analyzer: str = "offline"
    analyzer_options: dict = field(default_factory=dict)
    localizer: str = "geometric"  # used when the cloud carries no part labels
    localizer_options: dict = field(default_factory=dict)
    # Points the geometric localizer analyses (of the object's dense voxel cloud). One camera
    # view localizes best at 2048 (benchmarks/localizer_iou.py --partial); complete clouds
    # (fused views, meshes) at 8192, which small parts such as triggers need.
    localizer_points: int = 2048
    retriever: str = ""  # "" = the preset's (stage1/retrieval.py RETRIEVERS)
    retriever_options: dict = field(default_factory=dict)
    generator: str = ""  # "" = the preset's (stage2/generation.py GENERATORS)
    generator_options: dict = field(default_factory=dict)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # Simulate each grasp on a surface reconstructed from the cloud; one whose object falls keeps half
    # its ranking score (metrics.hold_check; a median 16 s per goal on 2 busy cores, mostly the
    # convex decomposition): "complete" clouds only, "all" (camera views too, on the back they
    # assume: no measured gain yet), "off".
    hold_check: str = "complete"
    # The hold check can also simulate each grasp with the hand moved this far (mm) along +-x, +-y,
    # +-z and rank by the share of positions held (a static hand's hold turns on sub-millimetre
    # contact). Off (0) by default: on the benchmark's held-out real-shapes goals 0.5 mm held 8 of
    # 26 best grasps instead of 9 and took the check from 15 to 53 s per goal (metrics.hold_check).
    hold_check_shift_mm: float = 0.0
    # A grasp's ranking score is multiplied by exp(-V / this), V its intersection volume with a complete
    # cloud in cm^3 (metrics.quality.ranking_score); 0 = not ranked by volume. 3 (the real-shapes
    # issue's target) took held-out best grasps from 5.4 to 1.6 cm^3 at the same held share with
    # ground-truth parts, and from 38 to 27 % held with inferred parts (README "Ranking by intersection volume").
    volume_ranking_cm3: float = VOLUME_SCALE_M3 * 1e6
    # Handle and wrap grips: stages 2-3 aim the hand at the stretch of the part this long (cm) nearest the
    # object's centre (objects.part_geometry.grip_zone; a longer lever falls from a static hand); 0 = the whole part.
    grip_zone_cm: float = 10.0
    up_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)  # "up" in the cloud's frame when no table is seen
    mano_model_path: str = ""
    retargeting_config_dir: str = ""  # "" = the package's config/retargeting
    seed: int = 0

    def __post_init__(self):
        if self.num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0 (0 = torch's default), got {self.cpu_threads}")
        if self.localizer_points < 16:
            raise ValueError(f"localizer_points must be >= 16, got {self.localizer_points}")
        if self.cloud_kind not in CLOUD_KIND_MODES:
            raise ValueError(f"cloud_kind must be one of {', '.join(CLOUD_KIND_MODES)}, got '{self.cloud_kind}'")
        if self.hold_check not in HOLD_CHECK_MODES:
            raise ValueError(f"hold_check must be one of {', '.join(HOLD_CHECK_MODES)}, got '{self.hold_check}'")
        if not 0.0 <= self.hold_check_shift_mm <= 5.0:
            raise ValueError(f"hold_check_shift_mm must be in [0, 5] mm, got {self.hold_check_shift_mm}")
        if not 0.0 <= self.volume_ranking_cm3 <= 1000.0:
            raise ValueError(f"volume_ranking_cm3 must be in [0, 1000] cm^3 (0 = off), got {self.volume_ranking_cm3}")
        if not 0.0 <= self.grip_zone_cm <= 100.0:
            raise ValueError(f"grip_zone_cm must be in [0, 100] cm (0 = the whole part), got {self.grip_zone_cm}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}'; expected one of {', '.join(PRESETS)}")
        self.components  # noqa: B018 - checks the preset with its overrides

    @property
    def components(self) -> Preset:
        """What runs at each stage: the preset's choice, with `retriever` / `generator` when set."""
        chosen = {k: v for k, v in (("retriever", self.retriever), ("generator", self.generator)) if v}
        return replace(PRESETS[self.preset], **chosen) if chosen else PRESETS[self.preset]

    def optimizer_config(self) -> OptimizerConfig:
        """The optimizer settings with the preset's mode (iterations, rates, weights from `optimizer`)."""
        return replace(self.optimizer, mode=self.components.optimizer_mode)
