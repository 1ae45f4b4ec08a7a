"""The simulation's object: a V-HACD decomposition that stays close to the mesh (a hand touching the
mesh must not start inside the simulated object) and keeps a handle's hole open."""

import numpy as np
import pytest
import trimesh

from gdexgrasp_ros.metrics.simulation import convex_decomposition
from gdexgrasp_ros.objects.procedural import generate_object


@pytest.fixture(scope="module", params=[("mug", 0), ("jug", 0)])
def decomposed(request):
    obj = generate_object(*request.param)
    mesh = trimesh.Trimesh(obj.mesh.vertices, obj.mesh.faces, process=False)
    pieces = trimesh.load(convex_decomposition(obj.mesh), force="mesh", process=False).split(only_watertight=False)
    return obj, mesh, [p.convex_hull for p in pieces]


def _grid(mesh, step=0.002):
    lo, hi = mesh.bounds
    axes = [np.arange(lo[i] - 0.01, hi[i] + 0.01, step) for i in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def test_the_pieces_cover_the_object_and_add_little_beyond_its_surface(decomposed):
    obj, mesh, hulls = decomposed
    grid = _grid(mesh)
    in_mesh = mesh.contains(grid)
    in_hulls = np.zeros(len(grid), dtype=bool)
    for hull in hulls:
        in_hulls |= hull.contains(grid)
    assert len(hulls) > 4
    assert (in_mesh & ~in_hulls).sum() < 0.08 * in_mesh.sum(), "the pieces cover the object"
    beyond = np.abs(trimesh.proximity.signed_distance(mesh, grid[in_hulls & ~in_mesh]))
    # pybullet's V-HACD 2 reached 7 mm (mug) and 18 mm (jug, one hull with the handle's hole filled).
    assert np.percentile(beyond, 90) < 0.0035 and beyond.max() < 0.008, (np.percentile(beyond, 90), beyond.max())


def test_the_handles_hole_stays_open(decomposed):
    obj, mesh, hulls = decomposed
    handle = obj.points[obj.part_ids == obj.part_names.index("handle")]
    hole = handle.mean(0)  # the middle of a loop handle lies in its hole
    assert not mesh.contains(hole[None])[0], "the test point must be in the hole, outside the object"
    assert not any(h.contains(hole[None])[0] for h in hulls), "a piece fills the handle's hole"
