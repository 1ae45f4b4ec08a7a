"""The part-aware grasp dataset the prior database is clustered from: one typed record per grasp.

A record says what was grasped (category, object id and seed, part, the part's sorted OBB extents),
for which affordance, with which hand pose (joint angles; wrist pose in the object frame and in the
part's OBB frame), where the hand touched (a per-vertex contact map, 0..1) and how good it was (the
metrics its filters used). Files are pickle-free `.npz` (numeric and unicode arrays only, read with
allow_pickle=False), versioned, and written in record order so the same records give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..affordance_types import AFFORDANCES
from ..objects.part_geometry import oriented_bounding_box, sorted_obb_extents

DATASET_VERSION = 1
METRIC_NAMES = ("penetration_m", "volume_m3", "simulation_m", "part_ratio", "contacts")


@dataclass
class GraspRecord:
    affordance: str
    category: str
    object_id: str  # e.g. "procedural:mug:seed=3"
    seed: int
    part: str
    part_extents: np.ndarray  # (3,) m, the part's OBB side lengths sorted descending
    joints: np.ndarray  # (D,) rad
    rotation: np.ndarray  # (3, 3) wrist rotation, object frame
    translation: np.ndarray  # (3,) m, wrist position, object frame
    part_rotation: np.ndarray  # (3, 3) wrist rotation in the part's OBB frame
    part_translation: np.ndarray  # (3,) m, wrist position in the part's OBB frame
    contact: np.ndarray  # (V,) 0..1 per hand vertex
    metrics: dict[str, float] = field(default_factory=dict)  # METRIC_NAMES

    def __post_init__(self):
        if self.affordance not in AFFORDANCES:
            raise ValueError(f"unknown affordance '{self.affordance}'; expected one of {AFFORDANCES}")
        self.part_extents = np.asarray(self.part_extents, dtype=np.float64).reshape(3)
        self.joints = np.asarray(self.joints, dtype=np.float64).reshape(-1)
        self.contact = np.asarray(self.contact, dtype=np.float64).reshape(-1)
        for name in ("rotation", "part_rotation"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(3, 3))
        for name in ("translation", "part_translation"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(3))
        if not ((self.contact >= 0) & (self.contact <= 1)).all():
            raise ValueError("contact values must lie in 0..1")


def record_from_pose(affordance: str, category: str, object_id: str, seed: int, part: str, part_points: np.ndarray,
                     joints, rotation, translation, contact, metrics: dict[str, float]) -> GraspRecord:  # fmt: skip
    """A record from a grasp in the object frame: the part's sorted OBB extents and the pose in the part's OBB frame
    are computed from the part's points."""
    box = oriented_bounding_box(part_points)
    rotation, translation = np.asarray(rotation, float), np.asarray(translation, float)
    return GraspRecord(affordance, category, object_id, seed, part, sorted_obb_extents(part_points), np.asarray(joints),
                       rotation, translation, box.rotation.T @ rotation, box.rotation.T @ (translation - box.center),
                       np.asarray(contact, float), metrics)  # fmt: skip


def save_records(path: str | Path, records: list[GraspRecord], hand_model: str = "open_hand") -> None:
    """Write the records to one `.npz` (same records, same bytes)."""
    if not records:
        raise ValueError("no grasp records to save")
    arrays = {
        "kind": np.array("grasp_dataset"),
        "version": np.array(DATASET_VERSION),
        "hand_model": np.array(hand_model),
        "affordance": np.array([r.affordance for r in records]),
        "category": np.array([r.category for r in records]),
        "object_id": np.array([r.object_id for r in records]),
        "seed": np.array([r.seed for r in records], dtype=np.int64),
        "part": np.array([r.part for r in records]),
        "metric_names": np.array(METRIC_NAMES),
        "metrics": np.array([[r.metrics.get(m, np.nan) for m in METRIC_NAMES] for r in records], dtype=np.float64),
    }
    for name in ("part_extents", "joints", "rotation", "translation", "part_rotation", "part_translation"):
        arrays[name] = np.stack([getattr(r, name) for r in records])
    arrays["contact"] = np.stack([r.contact for r in records]).astype(np.float32)
    write_npz(path, arrays)


def load_records(path: str | Path) -> tuple[list[GraspRecord], str]:
    """(records, hand model name) from a file save_records wrote; ValueError for another version."""
    with np.load(path, allow_pickle=False) as a:
        if "kind" not in a.files or str(a["kind"]) != "grasp_dataset":
            raise ValueError(f"{path} is not a grasp dataset (build_priors writes DIR/grasps.npz)")
        if int(a["version"]) != DATASET_VERSION:
            raise ValueError(f"{path}: grasp dataset version {int(a['version'])}, this code reads {DATASET_VERSION}")
        names = [str(m) for m in a["metric_names"]]
        records = [
            GraspRecord(str(a["affordance"][i]), str(a["category"][i]), str(a["object_id"][i]), int(a["seed"][i]),
                        str(a["part"][i]), a["part_extents"][i], a["joints"][i], a["rotation"][i],
                        a["translation"][i], a["part_rotation"][i], a["part_translation"][i],
                        a["contact"][i].astype(np.float64),
                        {n: float(v) for n, v in zip(names, a["metrics"][i], strict=True) if np.isfinite(v)})
            for i in range(len(a["affordance"]))
        ]  # fmt: skip
        return records, str(a["hand_model"])


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """An `.npz` (a zip of `.npy` members, readable by np.load) with fixed member timestamps, so the
    same arrays give the same bytes (np.savez stamps each member with the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buffer.getvalue())
