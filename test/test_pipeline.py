"""The whole pipeline: library (GraspSynthesizer) and the action server over DDS, on the demo scene."""

import threading
import time
import uuid

import numpy as np
import pytest
import rclpy
from conftest import ROOT
from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import HandGrasp
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from ros_helpers import start_node, stop_node, wait_for
from std_msgs.msg import Header

from gdexgrasp_ros.demo import INSTRUCTION, default_scene, true_part_mask
from gdexgrasp_ros.errors import ErrorCode, GraspError
from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud
from gdexgrasp_ros.pipeline import STAGES, GraspSynthesizer, SynthesizerConfig
from gdexgrasp_ros.request import RawRequest, validate_request
from gdexgrasp_ros.stage3.optimizer import OptimizerConfig

FAST = OptimizerConfig(iterations_a=60, iterations_b=60)


@pytest.fixture(scope="module")
def scene():
    s = default_scene(0)
    # The camera's labels on the target only: the "labels" localizer path (the part names travel separately).
    labels = np.where(s.cloud.object_index == 0, s.cloud.part_ids, -1)
    return s, labels


@pytest.fixture(scope="module")
def synthesizer():
    return GraspSynthesizer(SynthesizerConfig(optimizer=FAST))


def _request(scene, **kw):
    s, labels = scene
    return validate_request(RawRequest(points=s.cloud.points, labels=labels, instruction=kw.pop("instruction", INSTRUCTION),
                                       object_category="kettle", max_grasps=3, part_names=s.objects[0].part_names, **kw))  # fmt: skip


def test_pipeline_grasps_the_kettle_by_its_handle(scene, synthesizer):
    stages = []
    result = synthesizer.synthesize(_request(scene, robot_hand="leap_hand"), progress=lambda *a: stages.append(a))
    assert result.arrangement.affordance == "handle-grip" and result.arrangement.contact_part == "handle"
    assert result.localization.backend == "labels"
    assert set(result.timings) == set(STAGES)
    assert stages[0][:2] == ("preprocess", 0.0)
    fractions = [a[1] for a in stages]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9, "progress only moves forward"
    assert 1 <= len(result.grasps) <= 3
    scores = [g.quality.score for g in result.grasps]
    assert scores == sorted(scores, reverse=True)
    best = result.grasps[0]
    assert best.quality.part_contact_ratio > 0.5 and best.quality.penetration_depth < 0.01
    assert best.keypoints.shape == (21, 3) and best.robot is not None and best.robot.robot_name == "leap_hand"
    # The grasp is near the kettle's handle in the camera frame.
    handle = result.object_points[result.part_mask]
    assert np.linalg.norm(best.contact_points.mean(0) - handle.mean(0)) < 0.08


def test_pipeline_cancellation_and_timeout(scene, synthesizer):
    with pytest.raises(GraspError) as info:
        synthesizer.synthesize(_request(scene), should_cancel=lambda: True)
    assert info.value.code == ErrorCode.CANCELED
    slow = GraspSynthesizer(SynthesizerConfig(optimizer=OptimizerConfig(iterations_a=100000, iterations_b=10)))
    started = time.monotonic()
    with pytest.raises(GraspError) as info:
        slow.synthesize(_request(scene, timeout=3.0))
    assert info.value.code == ErrorCode.TIMEOUT and time.monotonic() - started < 20
    assert "during optimization" in info.value.message, "the stage that ran over is named"
    assert set(info.value.timings) == set(STAGES[:6]), "a TIMEOUT carries the timings of the stages that ran"
    # A goal that arrived long ago has used its time before the pipeline starts.
    late = _request(scene, timeout=1.0)
    late.received = time.monotonic() - 5.0
    with pytest.raises(GraspError) as info:
        synthesizer.synthesize(late)
    assert info.value.code == ErrorCode.TIMEOUT and "during preprocess" in info.value.message


def test_pipeline_reports_a_part_it_cannot_find(scene, synthesizer):
    s, labels = scene
    handle = s.objects[0].part_names.index("handle")
    req = _request(scene)
    req.labels = np.where(req.labels == handle, 0, req.labels)  # the camera saw no handle label
    with pytest.raises(GraspError) as info:
        synthesizer.synthesize(req)
    assert info.value.code == ErrorCode.PART_NOT_FOUND and "handle" in info.value.message


def test_action_server_returns_ranked_grasps_and_publishes_the_best(scene):
    s, labels = scene
    ns = f"/gdexgrasp_pipe_{uuid.uuid4().hex[:8]}"
    server = start_node("gdexgrasp_ros.nodes.grasp_synthesis_server", ns, str(ROOT / "config" / "gdexgrasp.yaml"),
                        ["-p", "iterations_a:=60", "-p", "iterations_b:=60",
                         "-p", f"label_names:={s.objects[0].part_names}".replace("'", '"')])  # fmt: skip
    rclpy.init()
    node = rclpy.create_node("pipeline_client", namespace=ns)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    best = []
    node.create_subscription(HandGrasp, "grasp", best.append, 10)
    try:
        client = ActionClient(node, SynthesizeGrasp, "synthesize_grasp")
        wait_for(client.server_is_ready, 30.0, "the action server", server)
        header = Header(frame_id="camera_optical_frame")
        header.stamp.sec = 123
        cloud = arrays_to_cloud(s.cloud.points, header, labels)
        feedback = []
        fut = client.send_goal_async(SynthesizeGrasp.Goal(cloud=cloud, instruction=INSTRUCTION, object_category="kettle",
                                                          max_grasps=2), feedback_callback=feedback.append)  # fmt: skip
        wait_for(fut.done, 30.0, "goal acceptance", server)
        res_fut = fut.result().get_result_async()
        wait_for(res_fut.done, 240.0, "the result", server)
        res = res_fut.result().result
        assert res.error_code == SynthesizeGrasp.Result.SUCCESS, res.error_string
        assert res.arrangement.affordance == "handle-grip" and res.arrangement.contact_part == "handle"
        assert 1 <= len(res.grasps) <= 2 and len(res.grasps[0].keypoints) == 21
        g = res.grasps[0]
        assert g.header.frame_id == "camera_optical_frame" and g.robot_name == "leap_hand"
        assert g.header.stamp.sec == 123, "grasps carry the source cloud's stamp"
        assert len(g.grasp_posture.points[0].positions) == 16 and g.quality.score > 0
        assert {t.stage for t in res.timings} == set(STAGES)
        assert "optimization" in {f.feedback.stage_name for f in feedback}
        wait_for(lambda: len(best) > 0, 10.0, "the best grasp on the grasp topic", server)
        assert best[0].id == g.id
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        log = stop_node(server)
    assert "Traceback" not in log, log


def test_a_cloud_in_millimetres_is_an_invalid_goal(scene, synthesizer):
    req = _request(scene)
    req.points = req.points * 1000.0
    with pytest.raises(GraspError) as info:
        synthesizer.synthesize(req)
    assert info.value.code == ErrorCode.INVALID_GOAL and "millimetres" in info.value.message


def test_resolve_device_rejects_unknown_names():
    from gdexgrasp_ros.pipeline import resolve_device

    assert resolve_device("cpu").type == "cpu"
    for bad in ("gpu", "cuda:x", "mps"):
        with pytest.raises(ValueError, match="device must be"):
            resolve_device(bad)


def test_the_result_says_which_prior_and_initialisation_it_used(scene, synthesizer):
    result = synthesizer.synthesize(_request(scene))
    assert "prior database" in result.rationale and f"cluster {result.prior.cluster_id}" in result.rationale
    assert result.prior.cluster_id >= 0 and result.prior.affordance == "handle-grip"
    assert result.initial_poses.generator == "cvae" and "sampled from the cvae" in result.rationale


def test_an_unlabelled_camera_view_is_localized_geometrically():
    s = default_scene(1)  # the demo's scene
    request = validate_request(RawRequest(points=s.cloud.points, instruction=INSTRUCTION, object_category="kettle",
                                          max_grasps=1))  # fmt: skip
    synth = GraspSynthesizer(SynthesizerConfig(optimizer=OptimizerConfig(iterations_a=5, iterations_b=5)))
    result = synth.synthesize(request)
    assert result.localization.backend == "geometric"
    assert synth._get_localizer("geometric").analysis_points == SynthesizerConfig().localizer_points
    # Ground truth: the camera's part label of the input point each object point is.
    truth = true_part_mask(s, result.object_points, "handle")
    mask = result.part_mask
    assert truth.any() and np.sum(mask & truth) / np.sum(mask | truth) >= 0.6


def test_the_localizer_sees_the_object_upright():
    # A segmented kettle in a y-up frame, no preprocessing: the pipeline turns it so y is up, and
    # the localizer must be told that +z is up in the turned frame (not the request's y).
    from gdexgrasp_ros.objects.procedural import generate_object

    kettle = generate_object("kettle", 0)
    lying = kettle.transformed(np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]), np.zeros(3))  # z -> y
    request = validate_request(RawRequest(points=lying.points, instruction=INSTRUCTION, object_category="kettle",
                                          max_grasps=1))  # fmt: skip
    fast = OptimizerConfig(iterations_a=5, iterations_b=5)
    synth = GraspSynthesizer(SynthesizerConfig(preprocess=False, up_axis=(0.0, 1.0, 0.0), optimizer=fast))
    synth.synthesize(request)
    (seen,) = synth._get_localizer("geometric")._cache.values()
    assert np.allclose(seen.shape.up, [0.0, 0.0, 1.0])
    heights = seen.shape.points[:, 2]
    assert np.isclose(np.ptp(heights), np.ptp(kettle.points[:, 2]), atol=1e-6)  # the kettle's height is along z


def test_the_cloud_kind_is_used_and_reported(scene):
    """A camera view keeps its viewpoint for the localizer; a complete cloud (an object-frame mesh
    sample) gets outward normals and no viewpoint; the rationale says what was assumed."""
    from gdexgrasp_ros.objects.procedural import generate_object
    from gdexgrasp_ros.pipeline import SynthesisResult

    synth = GraspSynthesizer(SynthesizerConfig(optimizer=FAST))
    camera = synth._preprocess(_request(scene), check=lambda: None)
    assert camera.cloud_kind == "camera" and camera.view.viewpoint == (0.0, 0.0, 0.0)
    assert camera.cloud_note.startswith("camera (detected: an organised cloud")
    assert "normals estimated towards the viewpoint" in camera.cloud_note
    kettle = generate_object("kettle", 0, n_points=4096)
    request = validate_request(RawRequest(points=kettle.points, instruction=INSTRUCTION))
    complete = synth._preprocess(request, check=lambda: None)
    assert complete.cloud_kind == "complete" and complete.view.viewpoint is None
    assert "normals estimated outward" in complete.cloud_note
    obj = complete.obj
    true = kettle.normals[np.argmin(np.linalg.norm(kettle.points[None] - obj.points[:, None], axis=2), axis=1)]
    assert np.mean(np.einsum("ij,ij->i", obj.normals, true) < 0) < 0.05
    rationale = SynthesisResult(cloud_kind="complete", cloud_note=complete.cloud_note).rationale
    assert "cloud: complete (detected: the viewpoint" in rationale
    # No preprocessing: the kind still decides, and normals that came with the cloud are used as sent.
    raw = GraspSynthesizer(SynthesizerConfig(preprocess=False, cloud_kind="camera", optimizer=FAST))
    seen = raw._preprocess(request, check=lambda: None)
    assert seen.cloud_note.startswith("camera (configured)") and seen.view.viewpoint == (0.0, 0.0, 0.0)
    given = validate_request(RawRequest(points=kettle.points, normals=-kettle.normals, instruction=INSTRUCTION))
    sent = raw._preprocess(given, check=lambda: None)
    assert np.allclose(sent.obj.normals, -kettle.normals) and "normals from the cloud" in sent.cloud_note


def test_a_long_handle_is_gripped_near_the_object_centre():
    """Handle grips aim at the stretch of the handle nearest the centre (grip_zone_cm): a static hand at
    the far end of a hammer's handle must resist the head's torque."""
    from gdexgrasp_ros.objects.procedural import generate_object

    hammer = generate_object("hammer", 0)
    request = validate_request(RawRequest(points=hammer.points, labels=hammer.part_ids, part_names=hammer.part_names,
                                          instruction="Pick up the hammer by its handle.", object_category="hammer",
                                          max_grasps=8, cloud_kind="complete"))  # fmt: skip
    near = GraspSynthesizer(SynthesizerConfig(optimizer=FAST, hold_check="off")).synthesize(request)
    assert near.arrangement.contact_part == "handle" and "grip_zone" in near.components
    assert "grip zone: the hand aimed at" in near.rationale
    whole = GraspSynthesizer(SynthesizerConfig(optimizer=FAST, hold_check="off", grip_zone_cm=0.0)).synthesize(request)
    assert "grip_zone" not in whole.components and "grip zone" not in whole.rationale
    assert np.array_equal(near.part_mask, whole.part_mask), "the result reports the whole handle, not the zone"
    # Without a localized part (the DexGraspNet-style preset) the whole object is the "part": never cut.
    everything = np.ones(len(hammer.points), bool)
    full, baseline = (
        GraspSynthesizer(SynthesizerConfig()),
        GraspSynthesizer(SynthesizerConfig(preset="dexgraspnet_baseline")),
    )
    handle = hammer.part_mask("handle")
    assert full._grip_zone(hammer, handle, "handle-grip").sum() < handle.sum()
    assert full._grip_zone(hammer, everything, "handle-grip").sum() < len(everything), "the full method would cut it"
    assert baseline._grip_zone(hammer, everything, "handle-grip").all()
    assert full._grip_zone(hammer, handle, "twist").sum() == handle.sum(), "only grips that carry the weight"
    # Distance along the handle from its head end, of each grasp's contacts.
    pts, mask = near.object_points, near.part_mask
    axis = np.linalg.svd(pts[mask] - pts[mask].mean(0))[2][0]
    along = pts[mask] @ axis
    head = pts[~mask].mean(0) @ axis
    end = along.max() if abs(along.max() - head) < abs(along.min() - head) else along.min()
    reach = lambda r: [abs(g.contact_points.mean(0) @ axis - end) for g in r.grasps]  # noqa: E731
    assert max(reach(near)) < 0.14, "every grasp's contacts centred within the 10 cm next to the head (+ 4 cm)"
    assert np.mean(reach(whole)) > np.mean(reach(near)) + 0.04, "without the zone the hands spread along the handle"
