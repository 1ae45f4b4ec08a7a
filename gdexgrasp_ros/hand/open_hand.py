"""OpenHand: the embedded open 16-DoF human hand (no MANO files needed).

Joint layout and limits follow the AffordPose / GraspIt HumanHand16DOF hand (index 0-2,
middle 3-5, ring 6-8, little 9-11, thumb 12-15). Each finger: MCP abduction, MCP flexion,
PIP flexion with the DIP coupled to it (DIP = 2/3 PIP, the usual anatomical coupling).
Thumb: CMC opposition (swing under the palm), CMC abduction, MCP flexion, IP flexion.

Wrist frame (right hand; REP-103 style, metres): origin at the centre of the wrist crease,
+x along the middle finger, +y towards the thumb, +z out of the back of the hand. The palm
normal (the direction the palm faces) is -z. All links flex about their local +y, which
moves the fingertip towards local -z: a link's pad faces its local -z.

Dimensions: an adult hand of length 0.19 m (wrist crease to middle fingertip; ANSUR II
50th-percentile male is 0.193 m, female 0.178 m) and breadth 0.085 m at the knuckles;
phalanx length ratios after Buchholz, Armstrong & Goldstein 1992 (Ergonomics 35(3)),
phalanx diameters 15-22 mm (Greiner 1991 / ANSUR finger breadths). Geometry is a union of
tapered capsules (one per phalanx, spheres centred on the joints so a joint's rotation leaves
the shared sphere in place) and a rounded box palm: the signed distance is analytic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..geometry.rotations import rot6d_to_matrix, skew
from ..geometry.sdf import rounded_box_sdf, tapered_capsule_sdf
from ..geometry.surface_nets import surface_nets, surface_projection
from .base import PALM_DIGIT, ClosingJoint, HandModel, HandOutput

FINGERS = ("index", "middle", "ring", "little")
DIP_COUPLING = 2.0 / 3.0

JOINT_NAMES = tuple(f"{f}_{j}" for f in FINGERS for j in ("mcp_abduction", "mcp_flexion", "pip_flexion")) + (
    "thumb_cmc_opposition",
    "thumb_cmc_abduction",
    "thumb_mcp_flexion",
    "thumb_ip_flexion",
)
LINK_NAMES = (
    ("palm",)
    + tuple(f"{f}_{s}" for f in FINGERS for s in ("proximal", "middle", "distal"))
    + (
        "thumb_metacarpal",
        "thumb_proximal",
        "thumb_distal",
    )
)

# AffordPose (GraspIt HumanHand16DOF) limits, radians.
_ABDUCTION = {"index": 0.349, "middle": 0.175, "ring": 0.349, "little": 0.524}
JOINT_LIMITS = np.array(
    [lim for f in FINGERS for lim in ((-_ABDUCTION[f], _ABDUCTION[f]), (-0.175, 1.571), (-0.175, 1.571))]
    + [(-0.175, 1.222), (-0.873, 0.436), (0.0, 1.571), (0.0, 1.745)]
)


@dataclass(frozen=True)
class FingerSpec:
    mcp: tuple[float, float, float]  # MCP joint centre in the wrist frame
    splay: float  # fixed rotation about +z of the finger's rest direction (rad, + towards the thumb)
    lengths: tuple[float, float, float]  # proximal, middle, distal (joint centre to joint centre / tip sphere)
    radii: tuple[float, float, float, float]  # at MCP, PIP, DIP, tip sphere


FINGER_SPECS = {
    "index": FingerSpec((0.089, 0.0285, 0.0), 0.10, (0.044, 0.026, 0.019), (0.0095, 0.0090, 0.0082, 0.0074)),
    "middle": FingerSpec((0.090, 0.0085, 0.0), 0.00, (0.047, 0.028, 0.020), (0.0098, 0.0093, 0.0085, 0.0077)),
    "ring": FingerSpec((0.086, -0.0105, 0.0), -0.08, (0.044, 0.027, 0.020), (0.0092, 0.0088, 0.0080, 0.0072)),
    "little": FingerSpec((0.079, -0.0285, 0.0), -0.18, (0.034, 0.020, 0.018), (0.0085, 0.0080, 0.0073, 0.0065)),
}
THUMB_CMC = (0.024, 0.021, -0.010)
THUMB_LENGTHS = (0.044, 0.032, 0.025)  # metacarpal, proximal, distal
THUMB_RADII = (0.0150, 0.0112, 0.0100, 0.0088)  # CMC (thenar), MCP, IP, tip
THUMB_DIRECTION = (0.74, 0.62, -0.16)  # rest direction of the metacarpal (wrist frame)
THUMB_PAD = (-0.15, -0.55, -0.82)  # rest direction the thumb pad faces (orthogonalised)
PALM_CENTER = (0.046, 0.0, 0.0)
PALM_HALF_EXTENTS = (0.048, 0.041, 0.0145)
PALM_ROUNDING = 0.011
# Where a grasped part sits: 1.5 cm in front of the palm's surface, 2.4 cm short of the knuckles.
GRASP_POINT = (0.07, 0.0, -0.03)
# Pose the mesh is generated in: fingers spread so neighbouring fingers' surfaces stay apart.
MESH_POSE = np.array([0.30, 0, 0, 0.0, 0, 0, -0.25, 0, 0, -0.45, 0, 0, 0.0, 0.0, 0.0, 0.0])
MESH_SPACING = 0.0032
MESH_BLEND = 0.004
MESH_FACES = 3000  # after decimation: about 1,500 vertices


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _thumb_base_rotation() -> np.ndarray:
    x = _unit(THUMB_DIRECTION)
    pad = np.asarray(THUMB_PAD, float)
    pad = _unit(pad - pad.dot(x) * x)
    z = -pad
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


class OpenHand(HandModel):
    name = "open_hand"
    joint_names = JOINT_NAMES
    link_names = LINK_NAMES

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self._init_tables(dtype)
        t = lambda x: torch.tensor(np.asarray(x), dtype=dtype)  # noqa: E731
        self._limits = t(JOINT_LIMITS)
        mesh = _build_mesh()
        self.link_of_vertex = torch.as_tensor(mesh["link"], dtype=torch.long)
        self.local_vertices = t(mesh["local_vertices"])
        self.local_normals = t(mesh["local_normals"])
        self._faces = torch.as_tensor(mesh["faces"], dtype=torch.long)
        self._candidates = torch.as_tensor(mesh["candidates"], dtype=torch.long)
        link = self.link_of_vertex  # 0 palm, 1-12 fingers (3 links each), 13-15 thumb
        self._vertex_digit = torch.where(link == 0, PALM_DIGIT, (link - 1) // 3)
        self._distal = torch.isin(link, torch.tensor([3, 6, 9, 12, 15]))
        self._palm_point = t(GRASP_POINT)
        self._palm_normal = t([0.0, 0.0, -1.0])
        self.to(device)

    @property
    def closing_joints(self) -> tuple[ClosingJoint, ...]:
        """Finger MCP and PIP flexion (the DIP follows the PIP); thumb opposition at half rate, MCP, IP."""
        link = self.link_of_vertex
        moves = lambda links: torch.isin(link, torch.tensor(links, device=link.device))  # noqa: E731
        fingers = [ClosingJoint(3 * i + j, moves(list(range(3 * i + j, 3 * i + 4)))) for i in range(4) for j in (1, 2)]
        thumb = [ClosingJoint(12, moves([13, 14, 15]), 0.5), ClosingJoint(14, moves([14, 15])),
                 ClosingJoint(15, moves([15]))]  # fmt: skip
        return tuple(fingers + thumb)

    def default_posture(self, affordance: str) -> np.ndarray:
        from .postures import canonical_posture  # postures import this module's joint limits

        return canonical_posture(affordance)

    def _init_tables(self, dtype: torch.dtype) -> None:
        """Kinematic and geometric tables as tensors (everything but the mesh)."""
        self.dtype = dtype
        f = [FINGER_SPECS[n] for n in FINGERS]
        t = lambda x: torch.tensor(np.asarray(x), dtype=dtype)  # noqa: E731
        self.finger_mcp = t([s.mcp for s in f])
        self.finger_base = t(np.stack([_rz(s.splay) for s in f]))
        self.finger_len = t([s.lengths for s in f])
        self.thumb_cmc = t(THUMB_CMC)
        self.thumb_base = t(_thumb_base_rotation())
        self.thumb_len = t(THUMB_LENGTHS)
        # Opposition swings the thumb about the palm's long axis (wrist -x) towards the palm side;
        # abduction turns it about its own nail axis (local z).
        self.thumb_axis0 = self.thumb_base.T @ t([-1.0, 0.0, 0.0])
        self.thumb_axis1 = t([0.0, 0.0, 1.0])
        self.axis_y = t([0.0, 1.0, 0.0])
        self.axis_z = t([0.0, 0.0, 1.0])
        # Rodrigues matrices K = [axis]x and K^2 of every elementary joint rotation, in link_frames' order.
        axes = [self.axis_z, self.axis_y, self.axis_y, self.axis_y] * 4 + [self.thumb_axis0, self.thumb_axis1,
                                                                          self.axis_y, self.axis_y]  # fmt: skip
        self._K = skew(torch.stack(axes))
        self._K2 = self._K @ self._K
        self._eye3 = torch.eye(3, dtype=dtype)
        self._ex = t([1.0, 0.0, 0.0])
        caps = [(s.lengths[i], s.radii[i], s.radii[i + 1]) for s in f for i in range(3)]
        caps += [(THUMB_LENGTHS[i], THUMB_RADII[i], THUMB_RADII[i + 1]) for i in range(3)]
        self.cap_params = t(caps)
        self.palm_center = t(PALM_CENTER)
        self.palm_half = t(PALM_HALF_EXTENTS)

    # -- interface -------------------------------------------------------------------------
    def forward(self, rot6d, trans, joints, vertex_ids: torch.Tensor | None = None) -> HandOutput:
        Rw = rot6d_to_matrix(rot6d)
        R_loc, o_loc = self.link_frames(joints)
        R = Rw[:, None] @ R_loc
        o = (Rw[:, None] @ o_loc[..., None])[..., 0] + trans[:, None]
        link, local, local_n = self.link_of_vertex, self.local_vertices, self.local_normals
        if vertex_ids is not None:  # only the vertices a caller scores (the optimizer's hot path)
            link, local, local_n = link[vertex_ids], local[vertex_ids], local_n[vertex_ids]
        Rv = R[:, link]
        verts = (Rv @ local[None, :, :, None])[..., 0] + o[:, link]
        normals = (Rv @ local_n[None, :, :, None])[..., 0]
        return HandOutput(
            vertices=verts,
            normals=normals,
            keypoints=self._keypoints(R, o, trans),
            link_rotations=R,
            link_origins=o,
            wrist_rotation=Rw,
        )

    def signed_distance(self, out: HandOutput, points: torch.Tensor) -> torch.Tensor:
        local = self._to_link_frames(out, points)  # (B, L, N, 3)
        palm = rounded_box_sdf(local[:, 0] - self.palm_center, self.palm_half, PALM_ROUNDING)
        p = self.cap_params
        caps = tapered_capsule_sdf(local[:, 1:], p[:, 0, None], p[:, 1, None], p[:, 2, None])
        return torch.minimum(palm, caps.min(dim=1).values)

    def self_penetration(self, out: HandOutput) -> torch.Tensor:
        centers, radii, owner = self._collision_spheres(out)
        d = torch.cdist(centers, centers)
        overlap = torch.relu(radii[:, None] + radii[None, :] - d) * self._sphere_pairs
        palm_local = (out.link_rotations[:, :1].transpose(-1, -2) @ (centers - out.link_origins[:, :1])[..., None])[
            ..., 0
        ]
        palm_d = rounded_box_sdf(palm_local - self.palm_center, self.palm_half, PALM_ROUNDING)
        into_palm = torch.relu(radii - palm_d) * self._palm_spheres
        return overlap.sum((-1, -2)) / 2 + into_palm.sum(-1)

    # -- kinematics --------------------------------------------------------------------------
    def link_frames(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Link rotations (B, 16, 3, 3) and origins (B, 16, 3) in the wrist frame."""
        B = joints.shape[0]
        q = joints[:, :12].reshape(B, 4, 3)
        # All 20 elementary rotations (per finger: abduction, MCP, PIP, coupled DIP; thumb: 4) in
        # one Rodrigues evaluation with precomputed axis matrices: far fewer small tensor ops.
        angles = torch.cat([torch.stack([q[..., 0], q[..., 1], q[..., 2], DIP_COUPLING * q[..., 2]], -1).reshape(B, 16),
                            joints[:, 12:16]], dim=1)  # fmt: skip
        Rj = (
            self._eye3
            + torch.sin(angles)[..., None, None] * self._K
            + (1 - torch.cos(angles))[..., None, None] * self._K2
        )
        Rf, Rt = Rj[:, :16].reshape(B, 4, 4, 3, 3), Rj[:, 16:]
        R_mcp = self.finger_base @ Rf[:, :, 0] @ Rf[:, :, 1]
        R_pip = R_mcp @ Rf[:, :, 2]
        R_dip = R_pip @ Rf[:, :, 3]
        ex = self._ex
        o_mcp = self.finger_mcp.expand(B, 4, 3)
        o_pip = o_mcp + (R_mcp @ ex) * self.finger_len[:, 0, None]
        o_dip = o_pip + (R_pip @ ex) * self.finger_len[:, 1, None]
        R_cmc = self.thumb_base @ Rt[:, 0] @ Rt[:, 1]
        R_tm = R_cmc @ Rt[:, 2]
        R_ti = R_tm @ Rt[:, 3]
        o_cmc = self.thumb_cmc.expand(B, 3)
        o_tm = o_cmc + (R_cmc @ ex) * self.thumb_len[0]
        o_ti = o_tm + (R_tm @ ex) * self.thumb_len[1]
        eye = torch.eye(3, dtype=joints.dtype, device=joints.device).expand(B, 1, 3, 3)
        fingers_R = torch.stack([R_mcp, R_pip, R_dip], dim=2).reshape(B, 12, 3, 3)
        fingers_o = torch.stack([o_mcp, o_pip, o_dip], dim=2).reshape(B, 12, 3)
        R = torch.cat([eye, fingers_R, torch.stack([R_cmc, R_tm, R_ti], dim=1)], dim=1)
        o = torch.cat([torch.zeros(B, 1, 3, dtype=joints.dtype, device=joints.device), fingers_o,
                       torch.stack([o_cmc, o_tm, o_ti], dim=1)], dim=1)  # fmt: skip
        return R, o

    def _keypoints(self, R, o, trans):
        # Tip keypoint: the end of the distal capsule's axis plus its tip radius (the fingertip surface).
        tip_len = self.cap_params[2::3, 0] + self.cap_params[2::3, 2]  # distal links 3, 6, 9, 12, 15 -> (5,)
        distal = [3, 6, 9, 12, 15]
        tips = o[:, distal] + R[:, distal, :, 0] * tip_len[None, :, None]
        tips = tips[:, [4, 0, 1, 2, 3]]  # thumb first, as in the keypoint order
        chains = [[13, 14, 15], [1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]
        kps = [trans]
        for i, links in enumerate(chains):
            kps += [o[:, links[0]], o[:, links[1]], o[:, links[2]], tips[:, i]]
        return torch.stack(kps, dim=1)

    def _to_link_frames(self, out: HandOutput, points: torch.Tensor) -> torch.Tensor:
        rel = points[:, None] - out.link_origins[:, :, None]  # (B, L, N, 3)
        return rel @ out.link_rotations  # row-vector form of R^T (p - o)

    # -- self collision ----------------------------------------------------------------------
    def _collision_spheres(self, out: HandOutput):
        """Three spheres along each capsule (slightly shrunk, so a relaxed hand scores 0)."""
        t = torch.tensor([0.25, 0.6, 0.95], dtype=self.dtype, device=self.cap_params.device)
        L, r0, r1 = self.cap_params.unbind(-1)
        local_x = L[:, None] * t[None]  # (15, 3)
        radii = 0.85 * (r0[:, None] + (r1 - r0)[:, None] * t[None])
        R, o = out.link_rotations[:, 1:], out.link_origins[:, 1:]
        centers = o[:, :, None] + R[:, :, None, :, 0] * local_x[None, :, :, None]
        return centers.reshape(centers.shape[0], -1, 3), radii.reshape(-1), None

    @property
    def _sphere_pairs(self) -> torch.Tensor:
        return _sphere_masks(str(self.cap_params.device))[0].to(self.cap_params.dtype)

    @property
    def _palm_spheres(self) -> torch.Tensor:
        return _sphere_masks(str(self.cap_params.device))[1].to(self.cap_params.dtype)


@lru_cache(maxsize=4)
def _sphere_masks(device: str):
    """Which collision-sphere pairs may not overlap (different digits), which spheres may not enter the palm."""
    digit = torch.arange(15).div(3, rounding_mode="floor").repeat_interleave(3)  # 0-3 fingers, 4 thumb
    segment = torch.arange(15).remainder(3).repeat_interleave(3)
    pairs = digit[:, None] != digit[None, :]
    # Neighbouring fingers' proximal phalanges touch at the knuckles in a relaxed hand.
    both_proximal = (segment[:, None] == 0) & (segment[None, :] == 0)
    neighbours = (digit[:, None] - digit[None, :]).abs() == 1
    pairs &= ~(both_proximal & neighbours & (digit[:, None] < 4) & (digit[None, :] < 4))
    # Middle and distal phalanges and the thumb's outer two must stay out of the palm.
    palm = (segment >= 1) & ~((digit == 4) & (segment == 0))
    return pairs.to(device), palm.to(device)


@lru_cache(maxsize=1)
def _build_mesh() -> dict:
    """Mesh the union surface in MESH_POSE, then attach each vertex rigidly to its nearest link."""
    hand = _GeometryOnly()
    q = torch.tensor(MESH_POSE, dtype=torch.float64)[None]
    R, o = hand.link_frames(q)
    out = HandOutput(None, None, None, R, o, None)

    def per_link_sdf(p: np.ndarray) -> torch.Tensor:
        pts = torch.as_tensor(p, dtype=torch.float64)[None]
        local = hand._to_link_frames(out, pts)
        palm = rounded_box_sdf(local[:, 0] - hand.palm_center, hand.palm_half, PALM_ROUNDING)
        cp = hand.cap_params
        caps = tapered_capsule_sdf(local[:, 1:], cp[:, 0, None], cp[:, 1, None], cp[:, 2, None])
        return torch.cat([palm[:, None], caps], dim=1)[0]  # (16, N)

    def sdf(p: np.ndarray) -> np.ndarray:
        # Smooth union (polynomial smooth-min, k = MESH_BLEND) fills the thin creases where
        # primitives meet at a shallow angle, which would otherwise pinch the mesh into
        # non-manifold edges. It adds at most k/4 of material, in creases only.
        d = per_link_sdf(p).numpy()
        acc = d[0]
        for other in d[1:]:
            h = np.clip(MESH_BLEND - np.abs(acc - other), 0.0, None) / MESH_BLEND
            acc = np.minimum(acc, other) - h * h * MESH_BLEND / 4.0
        return acc

    ends = o[0, 1:] + R[0, 1:, :, 0] * hand.cap_params[:, :1]
    corners = torch.cat([o[0], ends, hand.palm_center + hand.palm_half * torch.tensor([[-1.0, -1, -1], [1, 1, 1]])])
    lo, hi = corners.min(0).values.numpy() - 0.02, corners.max(0).values.numpy() + 0.02
    verts, faces = surface_nets(sdf, lo, hi, MESH_SPACING)
    verts, faces = _simplify(verts, faces, MESH_FACES)
    verts = surface_projection(sdf, verts, 3, MESH_SPACING)
    _check_closed(faces)
    link = per_link_sdf(verts).argmin(dim=0)
    local = hand._to_link_frames(out, torch.as_tensor(verts)[None])[0]  # (16, V, 3)
    chosen = local[link, torch.arange(len(link))]
    # Normal = gradient of the owning primitive's SDF, in that link's frame.
    pl = chosen.detach().requires_grad_(True)
    palm_mask = link == 0
    cp = hand.cap_params[(link - 1).clamp(min=0)]
    d = torch.where(
        palm_mask,
        rounded_box_sdf(pl - hand.palm_center, hand.palm_half, PALM_ROUNDING),
        tapered_capsule_sdf(pl, cp[:, 0], cp[:, 1], cp[:, 2]),
    )
    (grad,) = torch.autograd.grad(d.sum(), pl)
    normals = torch.nn.functional.normalize(grad, dim=-1)
    candidates = _contact_candidates(link.numpy(), normals.numpy(), chosen.detach().numpy())
    return {
        "link": link.numpy(),
        "local_vertices": chosen.detach().numpy(),
        "local_normals": normals.numpy(),
        "faces": faces,
        "candidates": candidates,
    }


def _check_closed(faces: np.ndarray) -> None:
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    counts = np.unique(edges, axis=0, return_counts=True)[1]
    if (counts != 2).any():
        raise RuntimeError(f"OpenHand mesh is not closed: {(counts != 2).sum()} edges not shared by two faces")


def _simplify(verts: np.ndarray, faces: np.ndarray, target_faces: int):
    """Weld vertices that projection landed on one crease point, then decimate (quadric error)."""
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts), o3d.utility.Vector3iVector(faces))
    mesh = mesh.merge_close_vertices(1e-6)
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    mesh = mesh.simplify_quadric_decimation(target_number_of_triangles=target_faces)
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles, dtype=np.int64)


def _contact_candidates(link: np.ndarray, local_normals: np.ndarray, local_pts: np.ndarray) -> np.ndarray:
    """Finger-pad vertices (normal towards the link's -z) and the palm's central palmar face."""
    pad = (link > 0) & (local_normals[:, 2] < -0.5)
    palm = (link == 0) & (local_normals[:, 2] < -0.8) & (np.abs(local_pts[:, 1]) < 0.032) & (local_pts[:, 0] > 0.02)
    return np.flatnonzero(pad | palm)


class _GeometryOnly(OpenHand):
    """OpenHand's kinematic tables without a mesh (used to build the mesh)."""

    def __init__(self):  # deliberately skips the mesh
        self._init_tables(torch.float64)
