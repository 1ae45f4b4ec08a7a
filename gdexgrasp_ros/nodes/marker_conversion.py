"""viz.markers.MarkerData -> visualization_msgs/MarkerArray (any node can publish the library's markers)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ..viz.markers import MarkerData

_TYPES = {name: getattr(Marker, name) for name in ("ARROW", "POINTS", "SPHERE_LIST", "TRIANGLE_LIST",
                                                    "TEXT_VIEW_FACING", "LINE_LIST")}  # fmt: skip
_ACTIONS = {"ADD": Marker.ADD, "DELETEALL": Marker.DELETEALL}


def _color(rgba) -> ColorRGBA:
    r, g, b, a = (float(x) for x in rgba)
    return ColorRGBA(r=r, g=g, b=b, a=a)


def to_marker(data: MarkerData, stamp: Time | None = None) -> Marker:
    m = Marker()
    m.header.frame_id = data.frame_id
    if stamp is not None:
        m.header.stamp = stamp
    m.ns = data.namespace
    m.id = int(data.id)
    m.type = _TYPES[data.type]
    m.action = _ACTIONS[data.action]
    if data.action == "DELETEALL":
        return m
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in data.position)
    q = m.pose.orientation
    q.x, q.y, q.z, q.w = (float(v) for v in data.orientation)
    m.scale.x, m.scale.y, m.scale.z = (float(v) for v in data.scale)
    m.color = _color(data.color)
    m.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in data.points.tolist()]
    if len(data.colors):
        m.colors = [_color(c) for c in data.colors.tolist()]
    m.text = data.text
    return m


def to_marker_array(markers: list[MarkerData], stamp: Time | None = None) -> MarkerArray:
    return MarkerArray(markers=[to_marker(m, stamp) for m in markers])
