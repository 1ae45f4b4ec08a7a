"""PNG of a prior database: each cluster's representative grasp on the training object it came from."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..geometry.rotations import matrix_to_rot6d  # noqa: E402
from ..objects.procedural import generate_mesh  # noqa: E402
from .colors import part_colors  # noqa: E402
from .hand_render import SKIN  # noqa: E402
from .raster import Canvas, look_rotation  # noqa: E402


def render_clusters(database, records, path: str | Path, size: int = 260, cols: int = 5, mesh_of=None) -> None:
    """One panel per cluster: the representative grasp (hand in skin colour) on its object coloured by part.

    mesh_of(record) -> PartMesh: the record's object (default: the procedural training object it names)."""
    from ..hand import load_hand_model

    hand = load_hand_model(database.hand_model)
    faces = hand.faces.cpu().numpy()
    n = len(database.clusters)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, min(cols, n), figsize=(3.2 * min(cols, n), 3.5 * rows), squeeze=False)
    for ax, cluster in zip(axes.ravel(), database.clusters, strict=False):
        rec = records[cluster.representative]
        mesh = mesh_of(rec) if mesh_of is not None else generate_mesh(rec.category, rec.seed)[0]
        with torch.no_grad():
            out = hand.forward(matrix_to_rot6d(torch.as_tensor(rec.rotation, dtype=torch.float32)[None]),
                               torch.as_tensor(rec.translation, dtype=torch.float32)[None],
                               torch.as_tensor(rec.joints, dtype=torch.float32)[None])  # fmt: skip
        verts = out.vertices[0].cpu().numpy()
        both = np.concatenate([mesh.vertices, verts])
        centre, extent = (both.min(0) + both.max(0)) / 2, 0.6 * np.ptp(both, axis=0).max()
        canvas = Canvas(look_rotation(25, -60), centre, extent, size)
        canvas.mesh(mesh.vertices, mesh.faces, part_colors(mesh.face_parts))
        canvas.mesh(verts, faces, SKIN)
        ax.imshow(canvas.image)
        ax.set_title(f"#{cluster.cluster_id} {cluster.affordance}\n{rec.category} {rec.part}, n={cluster.count}",
                     fontsize=8)  # fmt: skip
        ax.axis("off")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
