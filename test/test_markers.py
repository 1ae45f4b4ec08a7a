"""RViz markers of a grasp result: the ROS-free builder and its visualization_msgs conversion."""

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from visualization_msgs.msg import Marker, MarkerArray

from gdexgrasp_ros.nodes.marker_conversion import to_marker_array
from gdexgrasp_ros.viz import markers as M
from gdexgrasp_ros.viz.scene_render import demo_scene, human_hand


@pytest.fixture(scope="module")
def scene():
    """Object points with two parts and two real OpenHand grasps of the handle, best first."""
    s = demo_scene(n_points=600)
    grasps = []
    for score, g in zip((0.9, 0.7), s.grasps, strict=True):
        v, f, _ = human_hand(g.joints, g.wrist_pose)
        contacts = s.points[np.linalg.norm(s.points[:, None] - v[None, ::10], axis=-1).min(1) < 0.006]
        grasps.append(M.GraspMarkerInput(v, f, contacts, "handle-grip", "handle", score))
    return s, grasps


def test_scene_markers_start_with_deleteall_and_hold_one_namespace_per_grasp(scene):
    s, grasps = scene
    out = M.grasp_scene_markers("object", grasps, s.points, s.part_ids, contact_part_id=1)
    assert out[0].action == "DELETEALL" and all(m.action == "ADD" for m in out[1:])
    assert out[1].namespace == M.OBJECT_NAMESPACE and out[1].type == "POINTS"
    assert {m.namespace for m in out[2:]} == {"grasp_0", "grasp_1"}
    meshes = [m for m in out if m.type == "TRIANGLE_LIST"]
    assert len(meshes) == 2
    for mesh, g in zip(meshes, grasps, strict=True):
        assert len(mesh.points) % 3 == 0 and len(mesh.points) == 3 * len(g.faces)
        assert np.allclose(mesh.points[:3], g.vertices[g.faces[0]])  # faces expanded in order
    assert meshes[0].color != meshes[1].color  # coloured by rank
    assert meshes[0].color[:3] == M.rank_color(0)[:3]


def test_contact_part_is_highlighted_and_the_rest_dimmed(scene):
    s, _ = scene
    obj = M.object_points_marker(s.points, s.part_ids, "object", contact_part_id=1)
    handle, head = s.part_ids == 1, s.part_ids == 0
    assert np.all(obj.colors[handle, 3] == 1.0) and np.all(obj.colors[head, 3] < 1.0)
    plain = M.object_points_marker(s.points, s.part_ids, "object")
    assert np.allclose(plain.colors[head, :3], M.part_colors(np.zeros(1, int))[0])
    assert not np.allclose(obj.colors[head, :3], plain.colors[head, :3])


def test_contact_points_and_labels(scene):
    s, grasps = scene
    out = M.grasp_markers(grasps[0], 0, "object")
    kinds = {m.type: m for m in out}
    assert len(kinds["SPHERE_LIST"].points) == len(grasps[0].contact_points) > 0
    text = kinds["TEXT_VIEW_FACING"]
    assert "handle-grip" in text.text and "handle" in text.text and "0.90" in text.text
    assert text.position[2] > grasps[0].vertices[:, 2].max()  # above the hand
    assert M.contact_part_from_points(s.points, s.part_ids, grasps[0].contact_points) == 1
    assert M.contact_part_from_points(s.points, s.part_ids, grasps[0].contact_points + 1.0) is None


def test_a_grasp_without_mesh_still_gets_contacts_and_label():
    g = M.GraspMarkerInput(None, None, np.zeros((3, 3)), "twist", "lid", float("nan"))
    out = M.grasp_markers(g, 2, "object")
    assert [m.type for m in out] == ["SPHERE_LIST", "TEXT_VIEW_FACING"]
    assert "n/a" in out[-1].text


def test_bad_marker_data_is_refused():
    with pytest.raises(ValueError, match="marker type"):
        M.MarkerData("ns", 0, "CUBE_LIST_OF_DOOM", "f")
    with pytest.raises(ValueError, match="colours for"):
        M.MarkerData("ns", 0, "POINTS", "f", points=np.zeros((3, 3)), colors=np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        M.MarkerData("ns", 0, "POINTS", "f", points=np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="out of range"):
        M.hand_mesh_marker(np.zeros((3, 3)), np.array([[0, 1, 3]]), 0, "f", "ns")


def test_conversion_gives_a_valid_marker_array(scene):
    s, grasps = scene
    array = to_marker_array(M.grasp_scene_markers("object", grasps, s.points, s.part_ids, 1))
    wire = deserialize_message(serialize_message(array), MarkerArray)  # a real message: it serialises
    first = wire.markers[0]
    assert first.action == Marker.DELETEALL
    tri = [m for m in wire.markers if m.type == Marker.TRIANGLE_LIST]
    assert len(tri) == 2 and all(len(m.points) % 3 == 0 and len(m.points) > 0 for m in tri)
    assert tri[0].scale.x == 1.0 and tri[0].pose.orientation.w == 1.0  # RViz: triangle lists need unit scale
    obj = next(m for m in wire.markers if m.ns == M.OBJECT_NAMESPACE)
    assert obj.type == Marker.POINTS and len(obj.colors) == len(obj.points) == len(s.points)
    assert obj.header.frame_id == "object" and obj.scale.x > 0
    text = next(m for m in wire.markers if m.type == Marker.TEXT_VIEW_FACING)
    assert text.text.startswith("#1 handle-grip")
