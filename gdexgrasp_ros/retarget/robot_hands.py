"""Our robot hand URDFs, generated from small kinematic tables (primitive geometry, no meshes).

The kinematics (joint origins, axes, limits, effort/velocity), link masses and box sizes are
read off the published hand descriptions (LEAP Hand, MIT, Copyright 2023 Ananye Agarwal;
Allegro Hand, BSD, Copyright 2016 SimLab); the files themselves are not used. Link and joint
names follow the published ones, so a retargeting YAML written for ours also drives the
published URDF (with its meshes) and a real hand's driver, which index joints the same way.
The rounded fingertips (meshes in the published files) are a cylinder capped by a sphere that
ends exactly at the fingertip frame. Inertias are those of a solid box bounding each link's
primitives with the published mass: plausible for a simulator, not identified.

Rebuild both files (deterministic text; a test checks the committed files match):

    python -m gdexgrasp_ros.retarget.robot_hands --out urdf/

Conventions shared by both hands (base frame = the URDF root link): fingers point along base
+z, the palm faces base +x, the thumb is on the +y side (right hands).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
from dataclasses import dataclass

H = math.pi / 2  # the published files write this as 1.57079


@dataclass(frozen=True)
class Shape:
    kind: str  # "box" (size = x, y, z) | "cylinder" (radius, length along local z) | "sphere" (radius,)
    size: tuple[float, ...]
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    material: str = "body"


@dataclass(frozen=True)
class Link:
    name: str
    shapes: tuple[Shape, ...] = ()
    mass: float = 0.0  # 0: a frame without inertia (fingertip frames, virtual links)


@dataclass(frozen=True)
class Joint:
    name: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    kind: str = "revolute"  # "revolute" | "fixed"
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    lower: float = 0.0
    upper: float = 0.0
    effort: float = 0.0
    velocity: float = 0.0


@dataclass(frozen=True)
class HandTable:
    robot: str  # URDF robot name
    source: str  # provenance line written into the file
    materials: dict[str, tuple[float, float, float, float]]
    links: tuple[Link, ...]
    joints: tuple[Joint, ...]


def _boxes(*rows) -> tuple[Shape, ...]:
    """rows of (xyz, size[, rpy]) -> box shapes."""
    return tuple(Shape("box", size, xyz, *rest) for xyz, size, *rest in rows)


def _rounded_tip(axis: str, start: float, end: float, radius: float, center: tuple[float, float]) -> tuple[Shape, ...]:
    """A cylinder from start to end along the link's axis ('y' or 'z'), capped by a sphere whose far
    side lies exactly at end + sign * radius: the fingertip frame sits on the fingertip's surface."""
    mid, length = (start + end) / 2, abs(end - start)
    rpy = (H, 0.0, 0.0) if axis == "y" else (0.0, 0.0, 0.0)  # URDF cylinders run along local z

    def at(v: float) -> tuple[float, float, float]:
        return (center[0], v, center[1]) if axis == "y" else (center[0], center[1], v)

    return (
        Shape("cylinder", (radius, length), at(mid), rpy, "tip"),
        Shape("sphere", (radius,), at(end), material="tip"),
    )


# ---------------------------------------------------------------------------------------------
# LEAP Hand (right): 4 digits x 4 joints, all about the joint frame's -z.
# Per finger: MCP flexion (palm -> mcp_joint), MCP side swing (mcp_joint -> pip), PIP, DIP.
# ---------------------------------------------------------------------------------------------
LEAP_FINGERS = (("index", "", (-0.0070, 0.0230, -0.0187)), ("middle", "_2", (-0.0071, -0.0224, -0.0187)),
                ("ring", "_3", (-0.00709, -0.0678, -0.0187)))  # fmt: skip
_LEAP_LIMITS = {"mcp": (-0.314, 2.23), "side": (-1.047, 1.047), "pip": (-0.506, 1.885), "dip": (-0.366, 2.042)}
_LEAP_THUMB_LIMITS = ((-0.349, 2.094), (-0.47, 2.443), (-1.20, 1.90), (-1.34, 1.88))

_LEAP_PALM = _boxes(
    ((-0.009, 0.008, -0.011), (0.022, 0.026, 0.034)),
    ((-0.009, -0.037, -0.011), (0.022, 0.026, 0.034)),
    ((-0.009, -0.082, -0.011), (0.022, 0.026, 0.034)),
    ((-0.066, -0.078, -0.0115), (0.058, 0.02, 0.046), (0.0, 0.0, -0.2967)),
    ((-0.03, -0.035, -0.003), (0.02, 0.12, 0.03)),
    ((-0.032, -0.035, -0.024), (0.01, 0.12, 0.02), (0.0, 0.785, 0.0)),
    ((-0.048, -0.033, -0.0115), (0.024, 0.116, 0.046)),
    ((-0.078, -0.053, -0.0115), (0.044, 0.052, 0.046)),
    ((-0.098, -0.009, -0.006), (0.004, 0.036, 0.034)),
    ((-0.078, -0.003, 0.01), (0.044, 0.056, 0.004)),
)
_LEAP_MCP = _boxes(
    ((0.0, 0.018, 0.0147), (0.02, 0.006, 0.034)),
    ((-0.027, 0.042, 0.015), (0.028, 0.04, 0.02)),
    ((-0.0262, 0.02, 0.0146), (0.034, 0.006, 0.02)),
    ((-0.0295, 0.035, 0.029), (0.02, 0.024, 0.008)),
    ((0.0, 0.005, 0.03), (0.014, 0.02, 0.004)),
    ((0.0, 0.005, -0.001), (0.014, 0.02, 0.004)),
)
_LEAP_PIP = _boxes(((0.0075, -0.0002, -0.011), (0.034, 0.026, 0.022)))
_LEAP_DIP = _boxes(
    ((0.0, -0.02, 0.015), (0.016, 0.006, 0.026)),
    ((0.0, -0.016, 0.015), (0.02, 0.004, 0.034)),
    ((0.0, -0.0045, 0.03), (0.014, 0.02, 0.004)),
    ((0.0, -0.0045, 0.0), (0.014, 0.02, 0.004)),
    ((0.0075, -0.035, 0.015), (0.034, 0.022, 0.026)),
)
LEAP_TIP = (0.0, -0.048, 0.015)  # fingertip frame in the distal link (published *_tip_head)
LEAP_THUMB_TIP = (0.0, -0.06, -0.015)
# The distal links' origins (the DIP / thumb IP joints) lie 15 mm to the side of the finger's
# mid-plane (any point on a joint axis would do); these frames put the joint on the mid-plane,
# where a human DIP keypoint is, for retargeting targets.
LEAP_DIP = (0.0, 0.0, 0.015)
LEAP_THUMB_IP = (0.0, 0.0, -0.015)
TIP_RADIUS = {"leap": 0.0105, "allegro": 0.012}
_LEAP_FINGERTIP = _boxes(
    ((0.0, -0.017, 0.015), (0.02, 0.006, 0.03)),
    ((0.0, -0.006, 0.03), (0.014, 0.022, 0.004)),
    ((0.0, -0.006, -0.001), (0.014, 0.022, 0.004)),
) + _rounded_tip("y", -0.02, LEAP_TIP[1] + TIP_RADIUS["leap"], TIP_RADIUS["leap"], (0.0, LEAP_TIP[2]))
_LEAP_THUMB_PIP = _boxes(
    ((0.0, 0.0, -0.0015), (0.018, 0.033, 0.004)),
    ((0.0, -0.015, -0.013), (0.014, 0.004, 0.02)),
    ((0.0, 0.015, -0.013), (0.014, 0.004, 0.02)),
)
_LEAP_THUMB_DIP = _boxes(
    ((0.0, 0.0105, -0.014), (0.02, 0.04, 0.024)),
    ((0.0, 0.031, -0.015), (0.02, 0.004, 0.032)),
    ((0.0, 0.042, 0.001), (0.014, 0.02, 0.004)),
    ((0.0, 0.042, -0.029), (0.014, 0.02, 0.004)),
    ((-0.0135, 0.0175, -0.011656), (0.01, 0.024, 0.018)),
)
_LEAP_THUMB_FINGERTIP = _boxes(
    ((0.0, -0.0085, -0.015), (0.02, 0.036, 0.024)),
    ((0.0, -0.029, -0.014), (0.02, 0.004, 0.03)),
    ((0.015, -0.0175, -0.0115), (0.008, 0.024, 0.018)),
) + _rounded_tip("y", -0.031, LEAP_THUMB_TIP[1] + TIP_RADIUS["leap"], TIP_RADIUS["leap"], (0.0, LEAP_THUMB_TIP[2]))


def _leap_revolute(name: str, parent: str, child: str, xyz, rpy, limits) -> Joint:
    return Joint(name, parent, child, xyz, rpy, axis=(0.0, 0.0, -1.0), lower=limits[0], upper=limits[1],
                 effort=0.95, velocity=8.48)  # fmt: skip


def leap_hand_table() -> HandTable:
    links = [Link("base"), Link("palm_lower", _LEAP_PALM, 0.237)]
    joints = [Joint("base_joint", "base", "palm_lower", (0.0, 0.038, 0.098), (0.0, -H, 0.0), kind="fixed")]
    for k, (finger, s, mcp_xyz) in enumerate(LEAP_FINGERS):
        n = 4 * k
        links += [Link(f"mcp_joint{s}", _LEAP_MCP, 0.044), Link(f"pip{s}", _LEAP_PIP, 0.032),
                  Link(f"dip{s}", _LEAP_DIP, 0.037), Link(f"fingertip{s}", _LEAP_FINGERTIP, 0.016),
                  Link(f"{finger}_tip_head"), Link(f"{finger}_dip_head")]  # fmt: skip
        joints += [
            _leap_revolute(str(n), f"mcp_joint{s}", f"pip{s}", (-0.0122, 0.0381, 0.0145), (-H, 0.0, H),
                           _LEAP_LIMITS["side"]),
            _leap_revolute(str(n + 1), "palm_lower", f"mcp_joint{s}", mcp_xyz, (H, H, 0.0), _LEAP_LIMITS["mcp"]),
            _leap_revolute(str(n + 2), f"pip{s}", f"dip{s}", (0.015, 0.0143, -0.013), (H, -H, 0.0),
                           _LEAP_LIMITS["pip"]),
            _leap_revolute(str(n + 3), f"dip{s}", f"fingertip{s}", (0.0, -0.0361, 0.0002), (0.0, 0.0, 0.0),
                           _LEAP_LIMITS["dip"]),
            Joint(f"{finger}_tip", f"fingertip{s}", f"{finger}_tip_head", LEAP_TIP, kind="fixed"),
            Joint(f"{finger}_dip", f"fingertip{s}", f"{finger}_dip_head", LEAP_DIP, kind="fixed"),
        ]  # fmt: skip
    links += [Link("thumb_temp_base", _LEAP_PIP, 0.032), Link("thumb_pip", _LEAP_THUMB_PIP, 0.003),
              Link("thumb_dip", _LEAP_THUMB_DIP, 0.038), Link("thumb_fingertip", _LEAP_THUMB_FINGERTIP, 0.049),
              Link("thumb_tip_head"), Link("thumb_ip_head")]  # fmt: skip
    t = _LEAP_THUMB_LIMITS
    joints += [
        _leap_revolute("12", "palm_lower", "thumb_temp_base", (-0.0693, -0.0012, -0.0216), (0.0, H, 0.0), t[0]),
        _leap_revolute("13", "thumb_temp_base", "thumb_pip", (0.0, 0.0143, -0.013), (H, -H, 0.0), t[1]),
        _leap_revolute("14", "thumb_pip", "thumb_dip", (0.0, 0.0145, -0.017), (-H, 0.0, 0.0), t[2]),
        _leap_revolute("15", "thumb_dip", "thumb_fingertip", (0.0, 0.0466, 0.0002), (0.0, 0.0, math.pi), t[3]),
        Joint("thumb_tip", "thumb_fingertip", "thumb_tip_head", LEAP_THUMB_TIP, kind="fixed"),
        Joint("thumb_ip", "thumb_fingertip", "thumb_ip_head", LEAP_THUMB_IP, kind="fixed"),
    ]
    return HandTable(
        robot="leap_hand_right",
        source="LEAP Hand (right) kinematics after the published LEAP Hand URDF (MIT, Copyright 2023 Ananye Agarwal)",
        materials={"body": (0.16, 0.16, 0.17, 1.0), "tip": (0.93, 0.93, 0.90, 1.0)},
        links=tuple(links),
        joints=tuple(joints),
    )


# ---------------------------------------------------------------------------------------------
# Allegro Hand (right): per finger a twist about the finger's long axis (joint frame +z), then
# three flexions about +y; the thumb's first joint swings it under the palm (about -x).
# ---------------------------------------------------------------------------------------------
ALLEGRO_FINGERS = (("index", 0, (0.0, 0.0435, -0.001542), -0.08726646255),
                   ("middle", 4, (0.0, 0.0, 0.0007), 0.0),
                   ("ring", 8, (0.0, -0.0435, -0.001542), 0.08726646255))  # fmt: skip
_ALLEGRO_FINGER_JOINTS = (  # (origin z in the parent link, axis, limits, child link box, box centre z, mass)
    (None, (0.0, 0.0, 1.0), (-0.47, 0.47), (0.0196, 0.0275, 0.0164), 0.0082, 0.0119),
    (0.0164, (0.0, 1.0, 0.0), (-0.196, 1.61), (0.0196, 0.0275, 0.054), 0.027, 0.065),
    (0.054, (0.0, 1.0, 0.0), (-0.174, 1.709), (0.0196, 0.0275, 0.0384), 0.0192, 0.0355),
    (0.0384, (0.0, 1.0, 0.0), (-0.227, 1.618), (0.0196, 0.0269, 0.022), 0.0047, 0.0388),
)
_ALLEGRO_THUMB_JOINTS = (  # (origin xyz in the parent link, axis, limits, child box, box centre, mass)
    ((-0.0182, 0.019333, -0.045987), (-1.0, 0.0, 0.0), (0.263, 1.396), (0.0358, 0.034, 0.0455),
     (-0.0179, 0.009, 0.0145), 0.0176),
    ((-0.027, 0.005, 0.0399), (0.0, 0.0, 1.0), (-0.105, 1.163), (0.0196, 0.0275, 0.0177), (0.0, 0.0, 0.00885), 0.0119),
    ((0.0, 0.0, 0.0177), (0.0, 1.0, 0.0), (-0.189, 1.644), (0.0196, 0.0275, 0.0514), (0.0, 0.0, 0.0257), 0.038),
    ((0.0, 0.0, 0.0514), (0.0, 1.0, 0.0), (-0.162, 1.719), (0.0196, 0.0269, 0.04), (0.0, 0.0, 0.01125), 0.0388),
)  # fmt: skip
_ALLEGRO_THUMB_RPY = (0.0, -1.65806278845, -H)
ALLEGRO_TIP = 0.0387  # fingertip frame beyond the distal joint (thumb: 0.0543)
ALLEGRO_THUMB_TIP = 0.0543
# The tip frame sits on the tip surface; the distal link's box ends 23 mm short of it.
_ALLEGRO_TIP_SHAPES = _rounded_tip("z", -0.023, -TIP_RADIUS["allegro"], TIP_RADIUS["allegro"], (0.0, 0.0))


def _allegro_revolute(n: int, parent: str, xyz, axis, limits, rpy=(0.0, 0.0, 0.0)) -> Joint:
    return Joint(f"joint_{n}.0", parent, f"link_{n}.0", xyz, rpy, axis=axis, lower=limits[0], upper=limits[1],
                 effort=10.0, velocity=3.14)  # fmt: skip


def allegro_hand_table() -> HandTable:
    base = _boxes(((-0.009, 0.0, -0.023), (0.0414, 0.112, 0.0448)),
                  ((-0.009, -0.0253, -0.0667), (0.0414, 0.0538, 0.0428)),
                  ((-0.0093, -0.00557, -0.08874), (0.0414, 0.072, 0.013)))  # fmt: skip
    links = [Link("base_link", base, 0.4154), Link("palm"), Link("wrist")]
    joints = [Joint("palm_joint", "base_link", "palm", (0.0, 0.0, -0.065), kind="fixed"),
              Joint("wrist_joint", "palm", "wrist", (0.0, 0.0, -0.03), kind="fixed")]  # fmt: skip
    for _finger, n0, xyz, roll in ALLEGRO_FINGERS:
        parent = "base_link"
        for i, (z, axis, limits, box, box_z, mass) in enumerate(_ALLEGRO_FINGER_JOINTS):
            origin, rpy = (xyz, (roll, 0.0, 0.0)) if z is None else ((0.0, 0.0, z), (0.0, 0.0, 0.0))
            links.append(Link(f"link_{n0 + i}.0", (Shape("box", box, (0.0, 0.0, box_z)),), mass))
            joints.append(_allegro_revolute(n0 + i, parent, origin, axis, limits, rpy))
            parent = f"link_{n0 + i}.0"
        links.append(Link(f"{parent}_tip", _ALLEGRO_TIP_SHAPES, 0.0168))
        joints.append(Joint(f"joint_{n0 + 3}.0_tip", parent, f"{parent}_tip", (0.0, 0.0, ALLEGRO_TIP), kind="fixed"))
    parent = "base_link"
    for i, (xyz, axis, limits, box, box_xyz, mass) in enumerate(_ALLEGRO_THUMB_JOINTS):
        links.append(Link(f"link_{12 + i}.0", (Shape("box", box, box_xyz),), mass))
        rpy = _ALLEGRO_THUMB_RPY if i == 0 else (0.0, 0.0, 0.0)
        joints.append(_allegro_revolute(12 + i, parent, xyz, axis, limits, rpy))
        parent = f"link_{12 + i}.0"
    links.append(Link("link_15.0_tip", _ALLEGRO_TIP_SHAPES, 0.0168))
    joints.append(Joint("joint_15.0_tip", parent, "link_15.0_tip", (0.0, 0.0, ALLEGRO_THUMB_TIP), kind="fixed"))
    return HandTable(
        robot="allegro_hand_right",
        source="Allegro Hand (right) kinematics after the published Allegro Hand URDF (BSD, Copyright 2016 SimLab)",
        materials={"body": (0.2, 0.2, 0.22, 1.0), "tip": (0.95, 0.95, 0.95, 1.0)},
        links=tuple(links),
        joints=tuple(joints),
    )


# Where the human wrist frame (OpenHand: +x towards the middle finger, +y towards the thumb, +z out
# of the back of the hand) sits in each robot's base frame when a human hand is scaled to the robot
# (config/retargeting/*.yaml holds the same pose as wrist_in_base, with the scale; a test checks they
# agree). Rotation: wrist +x -> base +z, +y -> +y, +z -> -x (both robots' palms face base +x).
# Translation: the scaled human knuckles meet the robot's MCP flexion axes and the human middle
# finger's mid-plane meets the mid-plane between the robot's index and ring fingers.
HUMAN_WRIST_IN_BASE = {
    "leap_hand": ((0.0195, -0.0115, -0.030), (0.0, -H, 0.0)),
    "allegro_hand": ((0.0, -0.011, -0.098), (0.0, -H, 0.0)),
}


def _with_human_wrist(table: HandTable, robot_hand: str) -> HandTable:
    """Add the fixed `human_wrist` frame: the origin of retargeting vectors, and shown by RViz's TF display."""
    root = table.links[0].name
    xyz, rpy = HUMAN_WRIST_IN_BASE[robot_hand]
    joint = Joint("human_wrist_joint", root, "human_wrist", xyz, rpy, kind="fixed")
    return HandTable(table.robot, table.source, table.materials, table.links + (Link("human_wrist"),),
                     table.joints + (joint,))  # fmt: skip


TABLES = {"leap_hand": leap_hand_table, "allegro_hand": allegro_hand_table}
URDF_FILES = {"leap_hand": "leap_hand_right.urdf", "allegro_hand": "allegro_hand_right.urdf"}


# ---------------------------------------------------------------------------------------------
# URDF text
# ---------------------------------------------------------------------------------------------
def _num(v: float) -> str:
    """Deterministic short float text (9 significant digits; no '-0')."""
    s = f"{v:.9g}"
    return "0" if s in ("-0", "0") else s


def _vec(v) -> str:
    return " ".join(_num(x) for x in v)


def _geometry(shape: Shape) -> str:
    if shape.kind == "box":
        return f'<box size="{_vec(shape.size)}"/>'
    if shape.kind == "cylinder":
        return f'<cylinder radius="{_num(shape.size[0])}" length="{_num(shape.size[1])}"/>'
    if shape.kind == "sphere":
        return f'<sphere radius="{_num(shape.size[0])}"/>'
    raise ValueError(f"unknown primitive '{shape.kind}' (box, cylinder or sphere)")


def _bounds(shape: Shape) -> tuple[list[float], list[float]]:
    """Axis-aligned bounds in the link frame (rotated shapes: a sphere around them, conservative)."""
    if shape.kind == "box" and not any(shape.rpy):
        half = [s / 2 for s in shape.size]
    elif shape.kind == "box":
        half = [math.dist((0, 0, 0), shape.size) / 2] * 3
    elif shape.kind == "cylinder":
        half = [math.hypot(shape.size[0], shape.size[1] / 2)] * 3
    else:
        half = [shape.size[0]] * 3
    return [c - h for c, h in zip(shape.xyz, half, strict=True)], [c + h for c, h in zip(shape.xyz, half, strict=True)]


def _inertial(link: Link) -> list[str]:
    """A solid box bounding the link's primitives, with the link's mass."""
    bounds = [_bounds(s) for s in link.shapes]
    lo = [min(b[0][i] for b in bounds) for i in range(3)]
    hi = [max(b[1][i] for b in bounds) for i in range(3)]
    c = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    x, y, z = (b - a for a, b in zip(lo, hi, strict=True))
    m = link.mass
    ixx, iyy, izz = m * (y * y + z * z) / 12, m * (x * x + z * z) / 12, m * (x * x + y * y) / 12
    return [
        "    <inertial>",
        f'      <origin xyz="{_vec(c)}" rpy="0 0 0"/>',
        f'      <mass value="{_num(m)}"/>',
        f'      <inertia ixx="{_num(ixx)}" ixy="0" ixz="0" iyy="{_num(iyy)}" iyz="0" izz="{_num(izz)}"/>',
        "    </inertial>",
    ]


def _link_xml(link: Link) -> list[str]:
    if not link.shapes:
        return [f'  <link name="{link.name}"/>']
    out = [f'  <link name="{link.name}">']
    for tag in ("visual", "collision"):
        for s in link.shapes:
            out += [f"    <{tag}>", f'      <origin xyz="{_vec(s.xyz)}" rpy="{_vec(s.rpy)}"/>',
                    f"      <geometry>{_geometry(s)}</geometry>"]  # fmt: skip
            if tag == "visual":
                out.append(f'      <material name="{s.material}"/>')
            out.append(f"    </{tag}>")
    if link.mass > 0:
        out += _inertial(link)
    return out + ["  </link>"]


def _joint_xml(j: Joint) -> list[str]:
    out = [f'  <joint name="{j.name}" type="{j.kind}">', f'    <parent link="{j.parent}"/>',
           f'    <child link="{j.child}"/>', f'    <origin xyz="{_vec(j.xyz)}" rpy="{_vec(j.rpy)}"/>']  # fmt: skip
    if j.kind == "revolute":
        out += [f'    <axis xyz="{_vec(j.axis)}"/>',
                f'    <limit lower="{_num(j.lower)}" upper="{_num(j.upper)}" effort="{_num(j.effort)}" '
                f'velocity="{_num(j.velocity)}"/>']  # fmt: skip
    elif j.kind != "fixed":
        raise ValueError(f"joint '{j.name}': unsupported type '{j.kind}' (revolute or fixed)")
    return out + ["  </joint>"]


def _check(table: HandTable) -> None:
    """Fail loudly on a table typo: every joint names existing links, every link but the root has a parent."""
    names = [link.name for link in table.links]
    if len(set(names)) != len(names):
        raise ValueError(f"{table.robot}: duplicate link names")
    children = [j.child for j in table.joints]
    for j in table.joints:
        if j.parent not in names or j.child not in names:
            raise ValueError(f"{table.robot}: joint '{j.name}' connects unknown links {j.parent} -> {j.child}")
        if j.kind == "revolute" and not j.lower < j.upper:
            raise ValueError(f"{table.robot}: joint '{j.name}' has limits {j.lower} >= {j.upper}")
    roots = [n for n in names if n not in children]
    if len(roots) != 1 or len(set(children)) != len(children):
        raise ValueError(f"{table.robot}: the links do not form one tree (roots {roots})")


def generate_urdf(robot_hand: str) -> str:
    """The URDF text of a robot hand ("leap_hand" or "allegro_hand"); the same text on every run."""
    if robot_hand not in TABLES:
        raise ValueError(f"unknown robot hand '{robot_hand}'; expected one of {sorted(TABLES)}")
    table = _with_human_wrist(TABLES[robot_hand](), robot_hand)
    _check(table)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f"<!-- {table.source}. -->",
        "<!-- Primitive geometry written by gdexgrasp. Generated file, do not edit: rebuild it with the",
        "     module gdexgrasp_ros.retarget.robot_hands (see its docstring). -->",
        f'<robot name="{table.robot}">',
    ]
    for name, rgba in table.materials.items():
        lines.append(f'  <material name="{name}"><color rgba="{_vec(rgba)}"/></material>')
    for link in table.links:
        lines += _link_xml(link)
    for joint in table.joints:
        lines += _joint_xml(joint)
    return "\n".join(lines + ["</robot>", ""])


def write_urdfs(out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for robot_hand, filename in URDF_FILES.items():
        path = out / filename
        path.write_text(generate_urdf(robot_hand))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", required=True, help="directory to write leap_hand_right.urdf and allegro_hand_right.urdf"
    )
    args = parser.parse_args(argv)
    for path in write_urdfs(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
