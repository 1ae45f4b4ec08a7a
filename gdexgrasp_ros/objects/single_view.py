"""One object as one depth camera sees it, alone on a table: the cloud a robot gets.

Used to fit the part localizer on single views of the training categories
(stage1/localization/fit.py) and to measure it on unseen ones (benchmarks/localizer_iou.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.sampling import farthest_point_sampling
from .camera import table_size_for, table_top_scene
from .part_object import PartObject
from .preprocess import PreprocessConfig, preprocess_cloud


@dataclass
class SingleView:
    obj: PartObject  # the preprocessed object cloud, camera optical frame, per-point true part ids
    up: np.ndarray  # (3,) the table's up axis in the camera frame
    viewpoint: np.ndarray  # (3,) the sensor: the optical frame's origin


def single_view(obj: PartObject, seed: int, n: int = 2048, noise_std: float = 0.001) -> SingleView:
    """Render obj (which needs a mesh) alone on a table from the seeded camera of table_top_scene
    and preprocess the cloud as the pipeline does; n: at most this many object points, thinned by
    farthest-point sampling from the object's voxel cloud (as the pipeline localizes)."""
    scene = table_top_scene(obj, [], seed=seed, table_size=table_size_for(obj), noise_std=noise_std)
    out = preprocess_cloud(scene.cloud.points, PreprocessConfig(num_points=min(n, 2048), seed=seed))
    up = scene.cloud.cam_to_world[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    keep = np.sort(farthest_point_sampling(out.object_points, n))
    labels = scene.cloud.part_ids.reshape(-1)[out.object_indices[keep]]
    seen = PartObject(out.object_points[keep], out.object_normals[keep], labels, list(obj.part_names), obj.category,
                      "camera view")  # fmt: skip
    return SingleView(seen, up, np.zeros(3))
