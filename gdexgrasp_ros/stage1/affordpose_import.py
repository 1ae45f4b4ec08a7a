"""AffordPose importer: a user's AffordPose folder -> grasp records -> the prior database (issue: prior database).

    python -m gdexgrasp_ros.stage1.affordpose_import AFFORDPOSE_DIR --out DIR [--seed 0]

Layout (../shared/reference/AFFORDPOSE_FORMAT.md): AFFORDPOSE_DIR/<class>/<obj_id>/<obj_id>_<Affordance>/<n>.json,
one interaction per file (a single file or a folder of them works too). Writes the same files as
build_priors (DIR/grasps.npz, DIR/priors.npz, DIR/build.json, DIR/clusters.png).

Mapping, explicit:
- affordances: Handle-grasp -> handle-grip, Wrap-grasp -> wrap-around-grip, Twist -> twist,
  Support -> base-support, Press -> trigger-squeeze (a spray trigger or a pump is pressed).
  Lift, Pull and Lever have no G-DexGrasp affordance: those files are skipped and counted.
- the contact part is the object's region labelled with the interaction's own affordance (the
  dataset labels regions by affordance, not by part name); it is named after the part our
  affordance table gives that affordance in that class (e.g. a bottle's twist -> "cap"), else a
  generic name (handle, body, cap, base, trigger).
- units and rotations: rhand_trans is in millimetres; rhand_quat is (w, x, y, z).
- joints: the 16 dofs are the OpenHand's own layout (index, middle, ring, little: abduction, MCP,
  PIP; thumb: 4), clipped to its limits.
- wrist frame: the GraspIt hand's base frame is not the OpenHand's wrist frame (+x fingers, +y
  thumb side, +z back of the hand). The fixed transform OPENHAND_IN_AFFORDPOSE_HAND was derived
  once by ICP of the OpenHand (posed with the file's dofs) onto the hand mesh the sample
  interaction carries (rhand_mesh, brought into the GraspIt hand frame), best of the 24
  axis-aligned starts: mean two-way surface distance 8.6 mm. fit_hand_alignment re-derives it
  from any interaction (a test checks it on the sample).
Metrics recorded per grasp (nothing is filtered: the dataset's grasps are the data): penetration
on the object mesh, contacts, share of contacts on the part.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from ..geometry.nearest import NearestIndex
from ..geometry.rotations import matrix_to_rot6d
from ..hand.base import HandModel
from ..metrics import contact as M
from ..objects.affordances import AFFORDANCE_TABLE
from ..objects.loaders import AFFORDPOSE_LABELS, load_affordpose_object, read_affordpose_grasp
from .grasp_dataset import GraspRecord, record_from_pose

# AffordPose afford_name (lower case) -> (its vertex-label name, our affordance); None: no counterpart.
AFFORDANCE_MAP: dict[str, tuple[str, str | None]] = {
    "handle-grasp": ("handle-grasp", "handle-grip"),
    "wrap-grasp": ("wrap-grasp", "wrap-around-grip"),
    "twist": ("twist", "twist"),
    "support": ("support", "base-support"),
    "press": ("press", "trigger-squeeze"),
    "lift": ("lift", None),
    "pull": ("pull", None),
    "lever": ("lever", None),
}
GENERIC_PART = {"handle-grip": "handle", "wrap-around-grip": "body", "twist": "cap", "base-support": "base",
                "trigger-squeeze": "trigger"}  # fmt: skip

# OpenHand wrist frame in the AffordPose (GraspIt ManoHand) hand frame: p_affordpose = A @ p_openhand + b
# (derived by fit_hand_alignment on ../shared/data/affordpose_sample; see the module docstring).
OPENHAND_IN_AFFORDPOSE_HAND = (
    np.array([[-0.943, -0.295, 0.151], [0.203, -0.154, 0.967], [-0.262, 0.943, 0.205]]),
    np.array([0.1039, -0.0211, 0.0285]),
)


class SkipInteraction(ValueError):
    """An interaction the importer cannot use (its reason is counted in the import report)."""


def _orthonormal(a: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(a)
    return u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt


def affordpose_wrist(quat_wxyz: np.ndarray, trans_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of the GraspIt hand in the object frame from the file's quaternion (w first) and metres."""
    w, x, y, z = quat_wxyz
    return Rotation.from_quat([x, y, z, w]).as_matrix(), np.asarray(trans_m, float)


def openhand_wrist(quat_wxyz, trans_m, alignment=OPENHAND_IN_AFFORDPOSE_HAND) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) of the OpenHand's wrist in the object frame for an AffordPose hand pose."""
    R, t = affordpose_wrist(np.asarray(quat_wxyz, float), trans_m)
    A, b = _orthonormal(np.asarray(alignment[0], float)), np.asarray(alignment[1], float)
    return R @ A, R @ b + t


def part_name(category: str, affordance: str) -> str:
    """The part our affordance table gives this affordance in this class, else the generic name."""
    for part, affordances in AFFORDANCE_TABLE.get(category, {}).items():
        if affordance in affordances:
            return part
    return GENERIC_PART[affordance]


def import_interaction(hand: HandModel, path: Path, index: int, n_points: int = 2048) -> GraspRecord:
    """One interaction file -> a GraspRecord on the OpenHand (SkipInteraction when it cannot be used)."""
    try:
        grasp = read_affordpose_grasp(path)
        obj = load_affordpose_object(path, n_points, seed=index)
    except ValueError as err:
        raise SkipInteraction(f"unreadable: {err}") from err
    key = grasp["afford_name"].strip().lower()
    if key not in AFFORDANCE_MAP:
        raise SkipInteraction(f"unknown afford_name '{grasp['afford_name']}'")
    label, affordance = AFFORDANCE_MAP[key]
    if affordance is None:
        raise SkipInteraction(f"no G-DexGrasp affordance for '{grasp['afford_name']}'")
    if label not in obj.part_names:
        raise SkipInteraction(f"no vertex labelled '{label}' on the object")
    mask = obj.part_mask(label)
    if mask.sum() < 4:
        raise SkipInteraction(f"fewer than 4 object points labelled '{label}'")
    limits = hand.joint_limits.cpu().numpy()
    joints = np.clip(grasp["dofs"], limits[:, 0], limits[:, 1])
    rotation, translation = openhand_wrist(grasp["quat_wxyz"], grasp["trans_m"])
    vertices = _posed_vertices(hand, rotation, translation, joints)
    metrics = {
        "penetration_m": M.penetration_depth(vertices, obj.mesh),
        "contacts": float(M.contact_count(vertices, obj.points)),
        "part_ratio": M.part_contact_ratio(vertices, obj.points, mask),
    }
    category = grasp["class_name"].strip().lower()
    index_ = NearestIndex(torch.as_tensor(obj.points, dtype=torch.float32))
    from .dataset_synthesis import vertex_contact  # the same contact map as synthesized grasps

    return record_from_pose(affordance, category, str(path), index, part_name(category, affordance), obj.points[mask],
                            joints, rotation, translation, vertex_contact(vertices, index_), metrics)  # fmt: skip


def _posed_vertices(hand: HandModel, rotation, translation, joints) -> np.ndarray:
    with torch.no_grad():
        out = hand.forward(matrix_to_rot6d(torch.as_tensor(rotation, dtype=torch.float32)[None]),
                           torch.as_tensor(translation, dtype=torch.float32)[None],
                           torch.as_tensor(joints, dtype=torch.float32)[None])  # fmt: skip
    return out.vertices[0].cpu().numpy().astype(np.float64)


def interaction_files(root: Path) -> list[Path]:
    """Every interaction JSON under root (or root itself), in a fixed order."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such AffordPose file or folder")
    return sorted(root.rglob("*.json"))


def import_folder(hand: HandModel, root: Path, n_points: int = 2048) -> tuple[list[GraspRecord], dict]:
    """(records, report) of every usable interaction under root; the report counts skips by reason."""
    files = interaction_files(root)
    if not files:
        raise FileNotFoundError(f"{root}: no interaction .json files (expected <class>/<obj>/<obj>_<Aff>/<n>.json)")
    records, skipped = [], Counter()
    for i, path in enumerate(tqdm(files, desc="interactions", unit="file")):
        try:
            records.append(import_interaction(hand, path, i, n_points))
        except SkipInteraction as err:
            skipped[str(err).split(":")[0] if str(err).startswith("unreadable") else str(err)] += 1
    report = {"files": len(files), "imported": len(records), "skipped": dict(sorted(skipped.items())),
              "labels": AFFORDPOSE_LABELS}  # fmt: skip
    return records, report


def fit_hand_alignment(path, hand: HandModel, iterations: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    """(A, b, mean two-way distance m): the OpenHand posed with the file's dofs, fitted rigidly (ICP, best of
    24 axis-aligned starts) onto the file's own rhand_mesh in the GraspIt hand frame."""
    data = json.loads(Path(path).read_text()) if not isinstance(path, dict) else path
    target = np.array([[float(v) for v in line.split()[1:4]] for line in data["rhand_mesh"] if line.startswith("v ")])
    grasp = read_affordpose_grasp(data)
    R, t = affordpose_wrist(grasp["quat_wxyz"], grasp["trans_m"])
    target = (target - t) @ R  # into the GraspIt hand frame
    limits = hand.joint_limits.cpu().numpy()
    source = _posed_vertices(hand, np.eye(3), np.zeros(3), np.clip(grasp["dofs"], limits[:, 0], limits[:, 1]))
    tree = cKDTree(target)
    best = None
    for start in Rotation.create_group("O").as_matrix():
        A, b = start, target.mean(0) - source.mean(0) @ start.T
        for _ in range(iterations):
            moved = source @ A.T + b
            forward = target[tree.query(moved)[1]]
            backward = cKDTree(moved).query(target)[1]
            src, dst = np.concatenate([source, source[backward]]), np.concatenate([forward, target])
            A, b = _procrustes(src, dst)
        moved = source @ A.T + b
        err = 0.5 * (tree.query(moved)[0].mean() + cKDTree(moved).query(target)[0].mean())
        if best is None or err < best[2]:
            best = (A, b, float(err))
    return best


def _procrustes(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ms, md = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - ms).T @ (dst - md))
    A = vt.T @ np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))]) @ u.T
    return A, md - A @ ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="affordpose_import", description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="AffordPose folder (or one interaction .json)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0, help="k-means seed")
    ap.add_argument("--points", type=int, default=2048, help="object samples per interaction")
    args = ap.parse_args(argv)
    from ..hand import load_hand_model
    from .build_priors import write_database

    hand = load_hand_model("open_hand")
    try:
        records, report = import_folder(hand, args.root, args.points)
    except FileNotFoundError as err:
        ap.error(str(err))
    if not records:
        print(json.dumps(report, indent=1), file=sys.stderr)
        ap.error("no interaction could be imported (see the skip reasons above)")
    out = write_database(args.out, records, args.seed, {"import": report}, mesh_of=_affordpose_mesh)
    print(json.dumps({k: out[k] for k in ("grasps_per_affordance", "clusters_per_affordance")} | {"import": report}))
    return 0


def _affordpose_mesh(record: GraspRecord):
    """The object mesh of an imported record (its object_id is the interaction file), for the gallery."""
    return load_affordpose_object(record.object_id, 256).mesh


if __name__ == "__main__":
    sys.exit(main())
