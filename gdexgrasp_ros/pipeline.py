"""GraspSynthesizer: runs the three G-DexGrasp stages on a validated SynthesisRequest.

Stage 1 (prior retrieval), stage 2 (part-aware CVAE generation) and stage 3 (prior-guided
optimization) land with their issues; until then `synthesize` answers with a clear
INTERNAL_ERROR instead of a made-up grasp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ErrorCode, GraspError
from .request import SynthesisRequest

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


@dataclass
class SynthesisResult:
    arrangement: dict = field(default_factory=dict)
    grasps: list = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class GraspSynthesizer:
    """The pipeline entry point used by the action server, tests and the demo."""

    def __init__(self, device: str = "auto"):
        self.device = device

    def synthesize(
        self,
        request: SynthesisRequest,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> SynthesisResult:
        if should_cancel is not None and should_cancel():
            raise GraspError(ErrorCode.CANCELED, "canceled before synthesis started")
        raise GraspError(
            ErrorCode.INTERNAL_ERROR,
            "grasp synthesis stages are not available in this build yet (stage 1-3 pending)",
        )
