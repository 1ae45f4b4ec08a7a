"""ManoHand: the MANO hand model from a user-supplied MANO_RIGHT.pkl (never shipped).

Loads the pickle without chumpy: a custom unpickler turns chumpy arrays into numpy ones
(MANO files are Python 2 pickles of chumpy objects). Linear blend skinning in torch:

    v_shaped = T + S beta;  J = J_reg v_shaped;  v_posed = v_shaped + P (R(theta_1..15) - I)
    v = sum_k w_k G_k [v_posed; 1],   G_k = prod over the chain of [R_j | J_j - J_parent(j)]

The wrist rotation and position come from the HandModel interface (rot6d, trans): trans is
the wrist joint's world position. Hand pose: 45-D axis-angle (15 joints x 3), or `ncomps`
PCA coefficients when use_pca. With `prefer_manopth=True` and manopth importable, its
ManoLayer computes the vertices instead (it needs chumpy to load the file).

MANO has no published joint limits; joint_limits is +-pi on every axis-angle component.
The signed distance is approximate (nearest vertex, sign from its normal) since MANO's
surface has no analytic form.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ..geometry.rotations import axis_angle_to_matrix, rot6d_to_matrix
from .base import HandModel, HandOutput

# MANO joint order: 0 wrist, index 1-3, middle 4-6, little 7-9, ring 10-12, thumb 13-15.
MANO_JOINTS = ("wrist", "index1", "index2", "index3", "middle1", "middle2", "middle3", "little1", "little2",
               "little3", "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3")  # fmt: skip
# Digit (hand.base.DIGITS) of each MANO joint: wrist -> palm.
DIGIT_OF_JOINT = (5, 0, 0, 0, 1, 1, 1, 3, 3, 3, 2, 2, 2, 4, 4, 4)
# Fingertip vertices of the MANO mesh (the ones manopth and most MANO code use).
TIP_VERTICES = {"thumb": 745, "index": 317, "middle": 444, "ring": 556, "little": 673}
# 16 joints + 5 tips (appended in thumb, index, middle, ring, little order) -> OpenPose order.
OPENPOSE_FROM_MANO = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
REQUIRED_KEYS = ("v_template", "f", "weights", "kintree_table", "J_regressor", "shapedirs", "posedirs")


class _ChumpyStub:
    """Stands in for any chumpy class while unpickling; keeps the state to extract the array."""

    def __init__(self, *args, **kwargs):
        self.state = {"args": args}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}

    def to_array(self) -> np.ndarray:
        if "x" in self.state:
            return np.asarray(self.state["x"])
        arrays = [v for v in self.state.values() if isinstance(v, np.ndarray)]
        if len(arrays) == 1:
            return arrays[0]
        raise ValueError(f"cannot read a chumpy object with state keys {sorted(self.state)}")


class _ManoUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyStub
        return super().find_class(module, name)


def load_mano_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """Read a MANO_*.pkl into plain numpy arrays (no chumpy needed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MANO model file not found: {path} (download MANO_RIGHT.pkl from the MANO website)")
    with path.open("rb") as fh:
        raw = _ManoUnpickler(fh, encoding="latin1").load()
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a MANO model file (top level is {type(raw).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path} lacks MANO keys {missing}")
    out = {}
    for key, value in raw.items():
        if isinstance(value, _ChumpyStub):
            value = value.to_array()
        if hasattr(value, "toarray"):  # scipy sparse J_regressor
            value = value.toarray()
        out[key] = value
    return out


class ManoHand(HandModel):
    name = "mano"

    def __init__(self, model_path: str | Path, use_pca: bool = False, ncomps: int = 45,
                 flat_hand_mean: bool = True, device="cpu", dtype=torch.float32,
                 prefer_manopth: bool = False):  # fmt: skip
        data = load_mano_pickle(model_path)
        t = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)  # noqa: E731
        self.dtype = dtype
        self.v_template = t(data["v_template"])
        self._faces = torch.as_tensor(np.asarray(data["f"], dtype=np.int64))
        self.weights = t(data["weights"])
        self.J_regressor = t(data["J_regressor"])
        self.shapedirs = t(data["shapedirs"])  # (V, 3, 10)
        self.posedirs = t(data["posedirs"])  # (V, 3, 135)
        kintree = np.asarray(data["kintree_table"], dtype=np.int64)
        self.parents = [-1] + [int(p) for p in kintree[0, 1:]]
        self.use_pca = use_pca
        self.ncomps = ncomps if use_pca else 45
        comps = data.get("hands_components", np.eye(45))
        self.components = t(np.asarray(comps)[: self.ncomps])
        self.hand_mean = t(np.zeros(45) if flat_hand_mean else data.get("hands_mean", np.zeros(45)))
        self.joint_names = (
            tuple(f"pca_{i}" for i in range(self.ncomps))
            if use_pca
            else tuple(f"{j}_{a}" for j in MANO_JOINTS[1:] for a in "xyz")
        )
        self.link_names = MANO_JOINTS
        self._limits = t(np.tile([-np.pi, np.pi], (len(self.joint_names), 1)))
        self._manopth = None
        self._rest_frame()
        self._candidates = torch.nonzero(self._rest_normals @ self._palm_normal > 0.5)[:, 0]
        joint_of_vertex = self.weights.argmax(dim=1)  # the joint that moves each vertex most
        self._vertex_digit = torch.as_tensor(DIGIT_OF_JOINT)[joint_of_vertex]
        self._distal = torch.isin(joint_of_vertex, torch.tensor([3, 6, 9, 12, 15]))
        self._manopth = _make_manopth_layer(model_path) if prefer_manopth else None
        self.to(device)

    def _rest_frame(self) -> None:
        """Palm normal and grasp point from the flat rest pose (wrist frame = rest frame at joint 0)."""
        zeros = torch.zeros(1, 45, dtype=self.dtype)
        verts, _, J = self.skin(zeros, torch.zeros(1, self.shapedirs.shape[-1], dtype=self.dtype))
        self._rest_normals = _vertex_normals(verts, self._faces)[0]
        J = J[0] - J[0, 0]
        self._rest_joints = J
        self._palm_normal = torch.nn.functional.normalize(torch.linalg.cross(J[1], J[7]), dim=0)
        # As the OpenHand's: three quarters of the way to the middle knuckle, 3 cm in front of the palm.
        self._palm_point = 0.75 * J[4] + 0.03 * self._palm_normal

    def default_posture(self, affordance: str) -> np.ndarray:
        """The OpenHand's canonical posture carried over by geometry: each finger flexes about the
        axis across it in the palm plane (MCP at MANO joint 1, PIP at 2, the coupled DIP at 3) and
        abducts about the palm normal; the thumb's opposition and flexions become flexions of its
        three joints. Approximate (MANO's joints are not hinges), but a curled hand of the right kind."""
        from .open_hand import DIP_COUPLING
        from .postures import canonical_posture

        q = canonical_posture(affordance)
        J, n = self._rest_joints.double().cpu(), self._palm_normal.double().cpu()
        aa = torch.zeros(15, 3, dtype=torch.float64)
        for finger, first in enumerate((1, 4, 10, 7)):  # OpenHand order: index, middle, ring, little
            abd, mcp, pip = (float(v) for v in q[3 * finger : 3 * finger + 3])
            axis = torch.nn.functional.normalize(torch.linalg.cross(J[first + 1] - J[first], n), dim=0)
            aa[first - 1] = mcp * axis + abd * n
            aa[first] = pip * axis
            aa[first + 1] = DIP_COUPLING * pip * axis
        opp, _abd, mcp, ip = (float(v) for v in q[12:16])
        axis = torch.nn.functional.normalize(torch.linalg.cross(J[14] - J[13], n), dim=0)
        aa[12], aa[13], aa[14] = 0.5 * opp * axis, mcp * axis, ip * axis
        pose = aa.reshape(45) - self.hand_mean.double().cpu()
        if self.use_pca:  # least-squares PCA coefficients of that pose
            return torch.linalg.lstsq(self.components.double().cpu().T, pose[:, None]).solution[:, 0].numpy()
        return pose.numpy()

    def hand_pose(self, joints: torch.Tensor) -> torch.Tensor:
        """(B, D) parameters -> (B, 45) axis-angle of the 15 finger joints."""
        pose = joints @ self.components if self.use_pca else joints
        return pose + self.hand_mean

    def forward(self, rot6d, trans, joints, vertex_ids=None, betas: torch.Tensor | None = None) -> HandOutput:
        B = joints.shape[0]
        betas = (
            torch.zeros(B, self.shapedirs.shape[-1], dtype=joints.dtype, device=joints.device)
            if betas is None
            else betas
        )
        verts, G, J = self.skin(self.hand_pose(joints), betas)
        Rw = rot6d_to_matrix(rot6d)
        # Place the wrist joint at `trans` with orientation Rw.
        verts = ((verts - J[:, :1]) @ Rw.transpose(1, 2)) + trans[:, None]
        joints_w = ((J - J[:, :1]) @ Rw.transpose(1, 2)) + trans[:, None]
        tips = verts[:, list(TIP_VERTICES.values())]
        kps = torch.cat([joints_w, tips], dim=1)[:, list(OPENPOSE_FROM_MANO)]
        link_R = Rw[:, None] @ G[..., :3, :3]
        normals = _vertex_normals(verts, self._faces)
        if vertex_ids is not None:  # MANO skins every vertex anyway (normals need the full mesh)
            verts, normals = verts[:, vertex_ids], normals[:, vertex_ids]
        return HandOutput(verts, normals, kps, link_R, joints_w, Rw)

    def skin(self, hand_pose: torch.Tensor, betas: torch.Tensor):
        """LBS with identity global rotation: vertices (B, V, 3), joint transforms (B, 16, 4, 4), joints (B, 16, 3)."""
        if self._manopth is not None:
            return self._skin_manopth(hand_pose, betas)
        B = hand_pose.shape[0]
        v_shaped = self.v_template + torch.einsum("vck,bk->bvc", self.shapedirs, betas)
        J = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        aa = torch.cat([torch.zeros(B, 1, 3, dtype=hand_pose.dtype, device=hand_pose.device),
                        hand_pose.reshape(B, 15, 3)], dim=1)  # fmt: skip
        R = axis_angle_to_matrix(aa)  # (B, 16, 3, 3)
        eye = torch.eye(3, dtype=R.dtype, device=R.device)
        pose_feature = (R[:, 1:] - eye).reshape(B, -1)
        v_posed = v_shaped + torch.einsum("vcp,bp->bvc", self.posedirs, pose_feature)
        G = [None] * 16
        for k in range(16):
            p = self.parents[k]
            offset = J[:, k] if p < 0 else J[:, k] - J[:, p]
            local = _homogeneous(R[:, k], offset)
            G[k] = local if p < 0 else G[p] @ local
        G = torch.stack(G, dim=1)  # (B, 16, 4, 4)
        # Remove the rest-pose joint positions so G maps rest-pose vertices.
        GJ = (G[..., :3, :3] @ J[..., None])[..., 0]
        A = G.clone()
        A[..., :3, 3] = G[..., :3, 3] - GJ
        T = torch.einsum("vk,bkij->bvij", self.weights, A)
        verts = (T[..., :3, :3] @ v_posed[..., None])[..., 0] + T[..., :3, 3]
        return verts, G, G[..., :3, 3]

    def _skin_manopth(self, hand_pose, betas):
        B = hand_pose.shape[0]
        full = torch.cat([torch.zeros(B, 3, dtype=hand_pose.dtype, device=hand_pose.device), hand_pose], dim=1)
        verts, joints = self._manopth(full, betas)  # millimetres, joints in OpenPose order
        mano16 = joints[:, list(np.argsort(OPENPOSE_FROM_MANO))][:, :16]
        eye = torch.eye(4, dtype=verts.dtype, device=verts.device).expand(B, 16, 4, 4)
        return verts / 1000.0, eye, mano16 / 1000.0

    def signed_distance(self, out: HandOutput, points: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(points, out.vertices)  # (B, N, V); MANO is the GPU / offline path
        idx = d.argmin(dim=-1)
        nv = torch.gather(out.vertices, 1, idx[..., None].expand(-1, -1, 3))
        nn = torch.gather(out.normals, 1, idx[..., None].expand(-1, -1, 3))
        diff = points - nv
        dist = torch.sqrt((diff * diff).sum(-1) + 1e-12)
        return torch.where((diff * nn).sum(-1) >= 0, dist, -dist)

    def self_penetration(self, out: HandOutput) -> torch.Tensor:
        """Overlap of 8 mm spheres on the bones of different fingers (keypoint chains)."""
        kp = out.keypoints
        chains = [list(range(b, b + 4)) for b in (1, 5, 9, 13, 17)]
        centers, digit = [], []
        for d, ch in enumerate(chains):
            for a, b in zip(ch[1:-1], ch[2:], strict=True):
                for s in (0.25, 0.75):
                    centers.append(kp[:, a] + s * (kp[:, b] - kp[:, a]))
                    digit.append(d)
        c = torch.stack(centers, dim=1)
        digit = torch.tensor(digit, device=c.device)
        mask = (digit[:, None] != digit[None, :]).to(c.dtype)
        overlap = torch.relu(0.016 - torch.cdist(c, c)) * mask
        return overlap.sum((-1, -2)) / 2


def _homogeneous(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    top = torch.cat([R, t[..., None]], dim=-1)
    bottom = torch.zeros(R.shape[:-2] + (1, 4), dtype=R.dtype, device=R.device)
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def _vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals (B, V, 3) of a triangle mesh."""
    tri = verts[:, faces]  # (B, F, 3, 3)
    fn = torch.linalg.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])
    vn = torch.zeros_like(verts)
    for k in range(3):
        vn = vn.index_add(1, faces[:, k], fn)
    return torch.nn.functional.normalize(vn, dim=-1)


def _make_manopth_layer(model_path):
    """manopth's layer on full axis-angle (our hand_pose() already applied PCA and the mean)."""
    try:
        from manopth.manolayer import ManoLayer
    except ImportError:
        return None
    return ManoLayer(mano_root=str(Path(model_path).parent), use_pca=False, flat_hand_mean=True, side="right")
