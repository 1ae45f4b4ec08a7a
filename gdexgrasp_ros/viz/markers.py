"""RViz markers of a grasp result as plain data (ROS-free); nodes/marker_conversion.py makes the messages.

One call, `grasp_scene_markers`, gives the whole picture in the order RViz needs it: a DELETEALL
first (so markers of a previous, larger result disappear), the object's points coloured by part
with the contact part highlighted, then per grasp (namespace grasp_<rank>, best first) the hand
mesh as a TRIANGLE_LIST (faces expanded to vertex triplets), its contact points and a text label
(affordance, part, score). Colours: viz.colors part palette for the object, RANK_COLORS for grasps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .colors import part_colors

MARKER_TYPES = ("ARROW", "POINTS", "SPHERE_LIST", "TRIANGLE_LIST", "TEXT_VIEW_FACING", "LINE_LIST")
ACTIONS = ("ADD", "DELETEALL")
# Best grasp green, then blue, orange, purple, grey: distinguishable for common colour blindness.
RANK_COLORS = np.array([[0.10, 0.70, 0.30], [0.20, 0.45, 0.90], [0.95, 0.60, 0.10], [0.60, 0.35, 0.75],
                        [0.55, 0.55, 0.55]])  # fmt: skip
OBJECT_NAMESPACE = "object"
DIMMED = 0.45  # other parts are blended this far towards light grey and drawn translucent


@dataclass
class MarkerData:
    """One visualization_msgs/Marker, without ROS types. Units: metres; colours RGBA in 0..1."""

    namespace: str
    id: int
    type: str  # one of MARKER_TYPES
    frame_id: str
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # per point, or empty
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)  # x, y, z, w
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    text: str = ""
    action: str = "ADD"  # one of ACTIONS

    def __post_init__(self):
        if self.type not in MARKER_TYPES or self.action not in ACTIONS:
            raise ValueError(f"marker type '{self.type}' / action '{self.action}' unknown ({MARKER_TYPES}, {ACTIONS})")
        self.points = np.asarray(self.points, dtype=float).reshape(-1, 3)
        self.colors = np.asarray(self.colors, dtype=float).reshape(-1, 4)
        if len(self.colors) not in (0, len(self.points)):
            raise ValueError(f"{len(self.colors)} colours for {len(self.points)} points")
        if not np.isfinite(self.points).all():
            raise ValueError(f"marker {self.namespace}/{self.id} has non-finite points")


@dataclass
class GraspMarkerInput:
    """What the markers show of one grasp (all in one frame)."""

    vertices: np.ndarray | None  # (V, 3) hand surface, or None (no mesh available)
    faces: np.ndarray | None  # (F, 3)
    contact_points: np.ndarray  # (K, 3), may be empty
    affordance: str
    part: str
    score: float
    label_position: np.ndarray | None = None  # text anchor; default: 4 cm above the hand's highest point


def rank_color(rank: int, alpha: float = 1.0) -> tuple[float, float, float, float]:
    rgb = RANK_COLORS[min(rank, len(RANK_COLORS) - 1)]
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]), float(alpha))


def delete_all(frame_id: str) -> MarkerData:
    return MarkerData(namespace="", id=0, type="POINTS", frame_id=frame_id, action="DELETEALL")


def object_points_marker(points: np.ndarray, part_ids: np.ndarray | None, frame_id: str,
                         contact_part_id: int | None = None, size: float = 0.004) -> MarkerData:  # fmt: skip
    """POINTS coloured by part; with a contact part, the other parts are dimmed and translucent."""
    pts = np.asarray(points, float).reshape(-1, 3)
    ids = np.full(len(pts), -1) if part_ids is None else np.asarray(part_ids).reshape(-1)
    if len(ids) != len(pts):
        raise ValueError(f"{len(ids)} part ids for {len(pts)} points")
    rgba = np.concatenate([part_colors(ids), np.ones((len(pts), 1))], axis=1)
    if contact_part_id is not None:
        other = ids != contact_part_id
        rgba[other, :3] = (1 - DIMMED) * rgba[other, :3] + DIMMED * 0.85
        rgba[other, 3] = 0.5
    return MarkerData(OBJECT_NAMESPACE, 0, "POINTS", frame_id, points=pts, colors=rgba, scale=(size, size, size))


def hand_mesh_marker(vertices: np.ndarray, faces: np.ndarray, rank: int, frame_id: str, namespace: str,
                     alpha: float = 0.85) -> MarkerData:  # fmt: skip
    """TRIANGLE_LIST: every face expanded to its three vertices (RViz draws no indexed meshes in markers)."""
    v = np.asarray(vertices, float).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"face indices out of range for {len(v)} vertices")
    return MarkerData(
        namespace, 0, "TRIANGLE_LIST", frame_id, points=v[f].reshape(-1, 3), color=rank_color(rank, alpha)
    )


def contact_points_marker(points: np.ndarray, rank: int, frame_id: str, namespace: str,
                          diameter: float = 0.008) -> MarkerData:  # fmt: skip
    return MarkerData(namespace, 1, "SPHERE_LIST", frame_id, points=points, color=(0.9, 0.1, 0.1, 1.0),
                      scale=(diameter, diameter, diameter))  # fmt: skip


def text_marker(text: str, position, frame_id: str, namespace: str, marker_id: int = 2,
                height: float = 0.015, color=(0.1, 0.1, 0.1, 1.0)) -> MarkerData:  # fmt: skip
    return MarkerData(namespace, marker_id, "TEXT_VIEW_FACING", frame_id, color=tuple(color),
                      position=tuple(float(x) for x in position), scale=(height, height, height), text=text)  # fmt: skip


def grasp_label(rank: int, grasp: GraspMarkerInput) -> str:
    score = "n/a" if not np.isfinite(grasp.score) else f"{grasp.score:.2f}"
    return f"#{rank + 1} {grasp.affordance or '?'} on {grasp.part or '?'} (score {score})"


def _label_anchor(grasp: GraspMarkerInput) -> np.ndarray:
    if grasp.label_position is not None:
        return np.asarray(grasp.label_position, float)
    pts = [p for p in (grasp.vertices, grasp.contact_points) if p is not None and len(p)]
    if not pts:
        return np.zeros(3)
    allp = np.concatenate([np.asarray(p, float).reshape(-1, 3) for p in pts])
    top = allp[allp[:, 2].argmax()].copy()
    top[2] += 0.04
    return top


def grasp_markers(grasp: GraspMarkerInput, rank: int, frame_id: str) -> list[MarkerData]:
    """Namespace grasp_<rank>: hand mesh (id 0, when there is one), contacts (id 1), label (id 2)."""
    ns = f"grasp_{rank}"
    out = []
    if grasp.vertices is not None and grasp.faces is not None:
        out.append(hand_mesh_marker(grasp.vertices, grasp.faces, rank, frame_id, ns))
    if len(grasp.contact_points):
        out.append(contact_points_marker(grasp.contact_points, rank, frame_id, ns))
    out.append(text_marker(grasp_label(rank, grasp), _label_anchor(grasp), frame_id, ns, color=rank_color(rank)))
    return out


def grasp_scene_markers(frame_id: str, grasps: list[GraspMarkerInput], object_points: np.ndarray | None = None,
                        part_ids: np.ndarray | None = None, contact_part_id: int | None = None,
                        object_frame_id: str | None = None, max_grasps: int = 5) -> list[MarkerData]:  # fmt: skip
    """DELETEALL, the object (when given), then the best max_grasps grasps (grasps are best first)."""
    out = [delete_all(frame_id)]
    if object_points is not None and len(object_points):
        out.append(object_points_marker(object_points, part_ids, object_frame_id or frame_id, contact_part_id))
    for rank, grasp in enumerate(grasps[:max_grasps]):
        out += grasp_markers(grasp, rank, frame_id)
    return out


def contact_part_from_points(object_points: np.ndarray, part_ids: np.ndarray | None,
                             contact_points: np.ndarray, radius: float = 0.01) -> int | None:  # fmt: skip
    """The labelled part most of the contact points touch (within radius), or None when none does."""
    if part_ids is None or not len(contact_points) or not len(object_points):
        return None
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(np.asarray(object_points, float)).query(np.asarray(contact_points, float).reshape(-1, 3))
    labels = np.asarray(part_ids)[idx[dist <= radius]]
    labels = labels[labels >= 0]
    if not len(labels):
        return None
    values, counts = np.unique(labels, return_counts=True)
    return int(values[counts.argmax()])
