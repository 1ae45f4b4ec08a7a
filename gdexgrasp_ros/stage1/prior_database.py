"""The prior database: the grasp dataset's clusters (stage1.clustering) and retrieval by part shape.

Retrieval (the paper's stage 1): given the affordance the instruction asks for and the localized
part's points, the priors of that affordance ranked by D_P = || sorted OBB extents of the part -
the cluster's mean extents || (metres); ties go to the larger cluster, then the lower id. An
affordance without a cluster is a clear error, never another affordance's prior. The database
file is a pickle-free `.npz` (stage1.grasp_dataset.write_npz: same clusters, same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ErrorCode, GraspError
from ..objects.part_geometry import sorted_obb_extents
from .clustering import PriorCluster
from .grasp_dataset import write_npz
from .prior import GraspPrior

DATABASE_VERSION = 1


@dataclass
class PriorDatabase:
    clusters: list[PriorCluster]
    hand_model: str = "open_hand"
    source: str = ""  # file it was read from, for the result's rationale

    def __post_init__(self):
        if not self.clusters:
            raise ValueError("a prior database needs at least one cluster")
        ids = [c.cluster_id for c in self.clusters]
        if len(set(ids)) != len(ids):
            raise ValueError("cluster ids must be unique")

    @property
    def affordances(self) -> list[str]:
        return sorted({c.affordance for c in self.clusters})

    def ranked(self, affordance: str, part_points: np.ndarray) -> list[tuple[PriorCluster, float]]:
        """The affordance's clusters with their D_P (m) to the part, nearest first."""
        pool = [c for c in self.clusters if c.affordance == affordance]
        if not pool:
            raise GraspError(ErrorCode.INTERNAL_ERROR, f"the prior database has no '{affordance}' cluster "
                             f"(it has {', '.join(self.affordances)})")  # fmt: skip
        extents = sorted_obb_extents(part_points)
        scored = [(c, float(np.linalg.norm(extents - c.extents_mean))) for c in pool]
        return sorted(scored, key=lambda cd: (round(cd[1], 9), -cd[0].count, cd[0].cluster_id))

    def prior(self, affordance: str, part_name: str, part_points: np.ndarray) -> GraspPrior:
        """The nearest cluster as the GraspPrior stages 2 and 3 use."""
        cluster, dist = self.ranked(affordance, part_points)[0]
        return GraspPrior(affordance, part_name, cluster.joints, cluster.contact_mean, cluster.contact_std,
                          cluster_id=cluster.cluster_id, hand_model=self.hand_model,
                          source=f"prior database {self.source or '(in memory)'}: cluster {cluster.cluster_id} "
                                 f"({cluster.count} {affordance} grasps, part size {dist * 100:.1f} cm off)")  # fmt: skip

    def save(self, path: str | Path) -> None:
        c = self.clusters
        write_npz(path, {
            "kind": np.array("prior_database"), "version": np.array(DATABASE_VERSION),
            "hand_model": np.array(self.hand_model),
            "cluster_id": np.array([x.cluster_id for x in c], dtype=np.int64),
            "affordance": np.array([x.affordance for x in c]),
            "count": np.array([x.count for x in c], dtype=np.int64),
            "representative": np.array([x.representative for x in c], dtype=np.int64),
            "joints": np.stack([x.joints for x in c]),
            "contact_mean": np.stack([x.contact_mean for x in c]).astype(np.float32),
            "contact_std": np.stack([x.contact_std for x in c]).astype(np.float32),
            "extents_mean": np.stack([x.extents_mean for x in c]),
            "extents_std": np.stack([x.extents_std for x in c]),
            "members": np.concatenate([x.members for x in c]).astype(np.int64),
        })  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> PriorDatabase:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no prior database at {path} (build one with "
                                    f"`python -m gdexgrasp_ros.stage1.build_priors --out DIR`)")  # fmt: skip
        with np.load(path, allow_pickle=False) as a:
            if "kind" not in a.files or str(a["kind"]) != "prior_database":
                raise ValueError(f"{path} is not a prior database (build_priors writes DIR/priors.npz)")
            if int(a["version"]) != DATABASE_VERSION:
                raise ValueError(f"{path}: prior database version {int(a['version'])}, this code reads "
                                 f"{DATABASE_VERSION}")  # fmt: skip
            ends = np.cumsum(a["count"])
            members = np.split(a["members"], ends[:-1])
            clusters = [PriorCluster(int(a["cluster_id"][i]), str(a["affordance"][i]), int(a["count"][i]),
                                     int(a["representative"][i]), a["joints"][i], a["contact_mean"][i].astype(float),
                                     a["contact_std"][i].astype(float), a["extents_mean"][i], a["extents_std"][i],
                                     members[i]) for i in range(len(a["cluster_id"]))]  # fmt: skip
            return cls(clusters, str(a["hand_model"]), str(path))
