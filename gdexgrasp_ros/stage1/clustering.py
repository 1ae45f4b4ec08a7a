"""Clustering the grasp dataset into priors (G-DexGrasp Eq. 1-2).

The paper's distance between two grasps is Dist = D_A + D_P + D_Theta: D_A = infinity across
affordances (so each affordance is clustered on its own), D_P = || sorted OBB extents of part i -
those of part j || and D_Theta = || Theta_i - Theta_j ||. Metres and radians do not compare, so
each term is divided by a scale before the K-means (documented in ClusterScaling): a 2 cm
difference in part size weighs as much as 0.5 rad of joint angles spread over the hand. K-means
minimises squared Euclidean distance over the concatenated scaled features [extents / s_P,
joints / s_Theta], i.e. D_P^2 + D_Theta^2 of the scaled terms.

K per affordance is chosen by the mean silhouette over K = 2 .. k_max; a best silhouette below
`min_silhouette` (no clear structure) or too few grasps keeps one cluster. Each cluster becomes a
prior: its representative pose is the member nearest the cluster mean (a real grasp, never an
average of joint angles), with the per-vertex contact-map mean and std of its members, the part
extents' mean and std, and the member count. Seeded k-means++ and Lloyd iterations: the same
records and seed give the same clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from .grasp_dataset import GraspRecord


@dataclass(frozen=True)
class ClusterScaling:
    extent: float = 0.02  # m of part size (sorted OBB extents) that count as one unit
    joints: float = 0.5  # rad of joint angles (Euclidean over all joints) that count as one unit
    k_max: int = 8  # most clusters per affordance
    min_silhouette: float = 0.25  # below this the affordance stays one cluster
    min_per_cluster: int = 3  # K is at most n // this
    restarts: int = 4  # k-means++ seedings tried per K (the lowest inertia wins)
    iterations: int = 100

    def __post_init__(self):
        if not (self.extent > 0 and self.joints > 0 and self.k_max >= 1 and self.min_per_cluster >= 1
                and self.restarts >= 1 and self.iterations >= 1):  # fmt: skip
            raise ValueError(f"cluster scaling out of range: {self}")


@dataclass
class PriorCluster:
    cluster_id: int  # unique over the database
    affordance: str
    count: int
    representative: int  # index into the records of the member nearest the cluster mean
    joints: np.ndarray  # (D,) the representative's joint angles
    contact_mean: np.ndarray  # (V,)
    contact_std: np.ndarray  # (V,) >= 0
    extents_mean: np.ndarray  # (3,) m
    extents_std: np.ndarray  # (3,) m
    members: np.ndarray  # (count,) record indices


def features(records: list[GraspRecord], scaling: ClusterScaling) -> np.ndarray:
    """(N, 3 + D) scaled features [sorted part extents / s_P, joints / s_Theta]."""
    ext = np.stack([r.part_extents for r in records]) / scaling.extent
    q = np.stack([r.joints for r in records]) / scaling.joints
    return np.concatenate([ext, q], axis=1)


def kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 4, iterations: int = 100) -> tuple[np.ndarray, float]:
    """(labels (N,), inertia) of seeded k-means++ + Lloyd, best of `restarts`; deterministic."""
    x = np.asarray(x, dtype=np.float64)
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in 1..{len(x)}, got {k}")
    rng = np.random.default_rng(seed)
    best = (None, np.inf)
    for _ in range(restarts):
        centres = _kmeans_pp(x, k, rng)
        labels = np.zeros(len(x), dtype=np.int64)
        for _ in range(iterations):
            d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
            new = d2.argmin(1)
            if (new == labels).all() and _ > 0:
                break
            labels = new
            far = iter(np.argsort(-d2.min(1), kind="stable"))  # emptied clusters take the farthest points, each its own
            for j in range(k):
                members = x[labels == j]
                centres[j] = members.mean(0) if len(members) else x[next(far)]
        inertia = float(((x - centres[labels]) ** 2).sum())
        if inertia < best[1] - 1e-12:
            best = (labels.copy(), inertia)
    return best


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = ((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        total = d2.sum()
        centres.append(x[rng.choice(len(x), p=d2 / total)] if total > 0 else x[rng.integers(len(x))])
    return np.array(centres, dtype=np.float64)


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (-1..1; a point alone in its cluster scores 0)."""
    ids, member = np.unique(labels, return_inverse=True)
    if len(ids) < 2:
        return 0.0
    onehot = np.eye(len(ids))[member]  # (N, C)
    counts = onehot.sum(0)
    mean_to = cdist(x, x) @ onehot / counts  # (N, C): mean distance of each point to each cluster
    own = counts[member]
    a = mean_to[np.arange(len(x)), member] * own / np.maximum(own - 1, 1)  # the point itself excluded
    mean_to[np.arange(len(x)), member] = np.inf
    b = mean_to.min(1)
    score = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(score.mean())


def choose_k(x: np.ndarray, scaling: ClusterScaling, seed: int = 0) -> tuple[int, np.ndarray, dict[int, float]]:
    """(K, labels, silhouette per K tried): the best silhouette, or 1 when it is below the threshold."""
    k_max = min(scaling.k_max, len(x) // scaling.min_per_cluster)
    scores, fits = {}, {1: np.zeros(len(x), dtype=np.int64)}
    for k in range(2, k_max + 1):
        fits[k], _ = kmeans(x, k, seed, scaling.restarts, scaling.iterations)
        scores[k] = silhouette(x, fits[k])
    best = max(scores, key=lambda k: (scores[k], -k), default=1)
    k = best if scores.get(best, -1.0) >= scaling.min_silhouette else 1
    return k, fits[k], scores


def cluster_records(records: list[GraspRecord], scaling: ClusterScaling | None = None,
                    seed: int = 0) -> tuple[list[PriorCluster], dict[str, dict[int, float]]]:  # fmt: skip
    """Priors of every affordance present (never mixing affordances), and the silhouettes per K tried."""
    scaling = scaling or ClusterScaling()
    clusters: list[PriorCluster] = []
    report: dict[str, dict[int, float]] = {}
    for affordance in sorted({r.affordance for r in records}):
        index = np.array([i for i, r in enumerate(records) if r.affordance == affordance])
        x = features([records[i] for i in index], scaling)
        _, labels, report[affordance] = choose_k(x, scaling, seed)
        for j in np.unique(labels):  # labels in use only: an empty cluster makes no prior
            members = index[labels == j]
            clusters.append(_prior_cluster(len(clusters), affordance, records, members, x[labels == j]))
    return clusters, report


def _prior_cluster(cid: int, affordance: str, records: list[GraspRecord], members: np.ndarray,
                   x: np.ndarray) -> PriorCluster:  # fmt: skip
    rep = int(members[np.argmin(((x - x.mean(0)) ** 2).sum(1))])
    contact = np.stack([records[i].contact for i in members])
    ext = np.stack([records[i].part_extents for i in members])
    return PriorCluster(cid, affordance, len(members), rep, records[rep].joints.copy(), contact.mean(0),
                        contact.std(0), ext.mean(0), ext.std(0), members)  # fmt: skip
