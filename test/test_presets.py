"""Every pipeline preset (the paper's Table 2 variants + the DexGraspNet-style baseline) on the demo
scene with a short schedule, and a MANO goal end to end on a fake MANO file."""

import math

import numpy as np
import pytest
from fake_mano import write_fake_mano

from gdexgrasp_ros.config import PRESETS, SynthesizerConfig
from gdexgrasp_ros.demo import INSTRUCTION, default_scene
from gdexgrasp_ros.errors import ErrorCode, GraspError
from gdexgrasp_ros.pipeline import GraspSynthesizer
from gdexgrasp_ros.request import RawRequest, RequestDefaults, validate_request
from gdexgrasp_ros.stage3.optimizer import OptimizerConfig

FAST = OptimizerConfig(iterations_a=25, iterations_b=25)


@pytest.fixture(scope="module")
def demo_request():
    scene = default_scene()
    return validate_request(RawRequest(points=scene.cloud.points, instruction=INSTRUCTION, object_category="kettle",
                                       max_grasps=2, robot_hand="none"))  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(demo_request):
    """preset -> SynthesisResult, or the GraspError it answered with."""
    out = {}
    for name in PRESETS:
        try:
            out[name] = GraspSynthesizer(SynthesizerConfig(preset=name, optimizer=FAST)).synthesize(demo_request)
        except GraspError as err:
            out[name] = err
    return out


def test_every_preset_returns_grasps(outcomes):
    for name, res in outcomes.items():
        assert not isinstance(res, GraspError), f"{name}: {res}"
        assert res.preset == name and 1 <= len(res.grasps) <= 2
        assert all(np.isfinite(g.joints).all() and g.quality.contact_count > 0 for g in res.grasps), name


def test_presets_differ_in_what_ran(outcomes):
    ran = {n: r for n, r in outcomes.items() if not isinstance(r, GraspError)}
    # The rationale says what ran (beyond naming the preset) and the components differ.
    assert len({r.rationale.split("; ", 1)[1] for r in ran.values()}) == len(ran)
    assert len({tuple(sorted(r.components.items())) for r in ran.values()}) == len(ran)
    gen = {n: r.components["generation"] for n, r in ran.items()}
    assert gen["full"] == "cvae" and gen["part_random_init"] == "part_random" and gen["object_network"] == "object_cvae"
    assert ran["full"].prior.cluster_id >= 0 and ran["object_network"].prior.cluster_id == ran["full"].prior.cluster_id
    assert gen["dexgraspnet_baseline"] == "object_around"
    opt = {n: r.components["optimization"] for n, r in ran.items()}
    assert opt["full"].startswith("two-stage") and opt["one_stage"].startswith("one-stage")
    assert opt["no_prior_guidance"].startswith("no prior") and opt["no_optimization"].startswith("none")
    # Without optimization the hands are the initial poses with the prior's joints, untouched.
    none = ran["no_optimization"]
    assert all(np.allclose(g.joints, none.prior.joints) for g in none.grasps)
    assert none.timings["optimization"] < ran["full"].timings["optimization"]
    moved = ran["full"].grasps[0].joints
    assert not np.allclose(moved, ran["full"].prior.joints), "the full preset's stage B moves the joints"


def test_the_baseline_uses_no_language_no_part_and_no_prior(outcomes):
    base = outcomes["dexgraspnet_baseline"]
    assert base.arrangement is None and base.localization is None
    assert "analysis" not in base.timings and "localization" not in base.timings
    assert base.part_mask.all() and base.prior.cluster_id == -1 and not base.prior.contact_mean.any()
    assert all(math.isnan(g.quality.part_contact_ratio) for g in base.grasps), "no part: no part ratio"
    full = outcomes["full"]
    assert full.arrangement.contact_part == "handle" and not full.part_mask.all()


def test_a_component_can_replace_the_presets_choice():
    cfg = SynthesizerConfig(preset="one_stage", generator="part_random")
    assert cfg.components.generator == "part_random" and cfg.optimizer_config().mode == "one_stage"
    with pytest.raises(ValueError, match="needs an affordance"):
        SynthesizerConfig(preset="dexgraspnet_baseline", retriever="canonical_posture")


def test_unknown_presets_and_components_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        SynthesizerConfig(preset="ours_but_better")
    missing = SynthesizerConfig(preset="object_network", generator_options={"path": str(tmp_path / "none.safetensors")})
    with pytest.raises(GraspError, match="no CVAE weights") as info:
        GraspSynthesizer(missing).load_components()
    assert info.value.code == ErrorCode.INTERNAL_ERROR


def test_a_mano_goal_runs_end_to_end(tmp_path, demo_request):
    path = write_fake_mano(tmp_path / "MANO_RIGHT.pkl")
    with pytest.raises(GraspError) as info:  # a server without the file refuses mano goals up front
        validate_request(RawRequest(points=demo_request.points, instruction=INSTRUCTION, hand_model="mano"),
                         RequestDefaults(hand_models=("open_hand",)))  # fmt: skip
    assert info.value.code == ErrorCode.INVALID_GOAL and "mano_model_path" in info.value.message
    request = validate_request(RawRequest(points=demo_request.points, instruction=INSTRUCTION, object_category="kettle",
                                          max_grasps=2, robot_hand="leap_hand", hand_model="mano"))  # fmt: skip
    synth = GraspSynthesizer(SynthesizerConfig(mano_model_path=str(path), optimizer=FAST))
    result = synth.synthesize(request)
    hand = synth._hand("mano")
    assert result.grasps and result.grasps[0].joints.shape == (45,) and result.grasps[0].keypoints.shape == (21, 3)
    assert result.grasps[0].vertices.shape == (778, 3) and result.prior.contact_mean.shape == (778,)
    np.testing.assert_allclose(result.prior.joints, hand.default_posture("handle-grip"))
    # The shipped database and CVAE hold OpenHand grasps: a MANO goal gets its own canonical posture, part-facing.
    assert "canonical handle-grip posture of the mano hand" in result.rationale
    assert "predicts open_hand wrists" in result.initial_poses.description
    # The robot hand's wrist comes from the MANO keypoints (the OpenHand wrist frame would not fit).
    best = result.grasps[0]
    assert best.robot is not None and np.isfinite(best.robot.positions).all()
    assert np.linalg.norm(best.robot.base_pose[:3, 3] - best.keypoints[0]) < 0.15
