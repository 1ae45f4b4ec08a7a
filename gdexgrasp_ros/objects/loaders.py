"""Loaders that turn real shapes into PartMesh / PartObject (metres throughout).

- load_mesh: OBJ, PLY, OFF, STL with optional part labels (a label file, a per-face or per-vertex
  integer array, or a PLY `label` property).
- load_labelled_points: text files of `x y z [nx ny nz] label` lines.
- load_partnet_mobility / load_partnet_point_sample: a PartNet-Mobility object folder.
- load_affordpose_object / read_affordpose_grasp: an AffordPose interaction JSON.

OBJ and OFF are read by the small readers below rather than by trimesh: trimesh regroups the
vertices and faces of an OBJ by object/material and moves the triangles of mixed polygon faces,
so per-vertex labels and 1-based face ids would no longer line up with the file. Polygons are
fan-triangulated and every triangle remembers the polygon it came from, so face ids and per-face
labels always refer to the faces as written in the file.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .part_object import UNLABELLED, PartMesh, PartObject, object_from_mesh, rescale_to_size

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl")

# AffordPose per-vertex label ids (2 is unused by the dataset).
AFFORDPOSE_LABELS = {
    0: "none",
    1: "handle-grasp",
    3: "press",
    4: "lift",
    5: "wrap-grasp",
    6: "twist",
    7: "support",
    8: "pull",
    9: "lever",
}


@dataclass
class _RawMesh:
    vertices: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) triangles
    polygon: np.ndarray | None  # (F,) index of the file face each triangle came from; None when unknown
    n_polygons: int  # faces as written in the file
    vertex_extra: list  # per-vertex values after x y z on OBJ `v` lines (empty lists otherwise)
    face_labels: np.ndarray | None = None  # per-file-face PLY `label` property
    vertex_labels: np.ndarray | None = None  # per-vertex PLY `label` property


# ----------------------------------------------------------------------------- mesh files


def _obj_index(token: str, n_vertices: int, where: str, lineno: int) -> int:
    """0-based vertex index of one `f` token (`a`, `a/b`, `a//c`, `a/b/c`; negative = relative)."""
    try:
        i = int(token.split("/", 1)[0])
    except ValueError:
        raise ValueError(f"{where}: line {lineno}: bad face vertex '{token}'") from None
    idx = i - 1 if i > 0 else n_vertices + i
    if i == 0 or not 0 <= idx < n_vertices:
        raise ValueError(f"{where}: line {lineno}: face vertex {i} out of range (1..{n_vertices} defined so far)")
    return idx


def _parse_obj_lines(lines, where: str) -> _RawMesh:
    """Vertices and fan-triangulated faces of OBJ text lines, in file order (other records ignored)."""
    verts, extra, faces, polygon = [], [], [], []
    n_poly = 0
    for lineno, line in enumerate(lines, 1):
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "v":
            try:
                vals = [float(t) for t in tok[1:]]
            except ValueError:
                raise ValueError(f"{where}: line {lineno}: bad vertex '{line.strip()}'") from None
            if len(vals) < 3:
                raise ValueError(f"{where}: line {lineno}: a vertex needs 3 coordinates: '{line.strip()}'")
            verts.append(vals[:3])
            extra.append(vals[3:])
        elif tok[0] == "f":
            idx = [_obj_index(t, len(verts), where, lineno) for t in tok[1:]]
            if len(idx) < 3:
                raise ValueError(f"{where}: line {lineno}: a face needs at least 3 vertices")
            faces.extend((idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1))
            polygon.extend([n_poly] * (len(idx) - 2))
            n_poly += 1
    return _RawMesh(np.array(verts, float).reshape(-1, 3), np.array(faces, np.int64).reshape(-1, 3),
                    np.array(polygon, np.int64), n_poly, extra)  # fmt: skip


def _read_off(path: Path) -> _RawMesh:
    lines = [tok for ln in path.read_text().splitlines() if (tok := ln.split("#", 1)[0].split())]
    if not lines or lines[0][0] != "OFF":
        raise ValueError(f"{path}: not an OFF file (first word must be 'OFF')")
    try:
        body = lines[1:] if len(lines[0]) > 1 else lines[2:]
        n_v, n_f = int((lines[0][1:] or lines[1])[0]), int((lines[0][1:] or lines[1])[1])
        verts = np.array([row[:3] for row in body[:n_v]], float).reshape(n_v, 3)
        faces, polygon = [], []
        for p, row in enumerate(body[n_v : n_v + n_f]):
            idx = [int(t) for t in row[1 : 1 + int(row[0])]]
            if len(idx) < 3 or len(idx) != int(row[0]):
                raise ValueError(f"face {p + 1} has {len(idx)} vertices")
            faces.extend((idx[0], idx[j], idx[j + 1]) for j in range(1, len(idx) - 1))
            polygon.extend([p] * (len(idx) - 2))
        if len(polygon) and polygon[-1] != n_f - 1:
            raise ValueError(f"{n_f} faces announced, {polygon[-1] + 1} found")
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path}: malformed OFF file ({err})") from None
    faces = np.array(faces, np.int64).reshape(-1, 3)
    if len(faces) and (faces.min() < 0 or faces.max() >= n_v):
        raise ValueError(f"{path}: face vertex index out of range 0..{n_v - 1}")
    return _RawMesh(verts, faces, np.array(polygon, np.int64), n_f, [[] for _ in range(n_v)])


def _ply_property(element: dict, name: str) -> np.ndarray | None:
    # trimesh keeps the raw PLY elements under the private metadata key "_ply_raw"; element
    # data is a dict of arrays (ASCII) or a structured array (binary): both index by name.
    data = element.get("data")
    try:
        return np.asarray(data[name]).reshape(-1)
    except (KeyError, ValueError, TypeError, IndexError):
        return None


def _read_with_trimesh(path: Path) -> _RawMesh:
    import trimesh

    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as err:  # noqa: BLE001 - trimesh raises many types for malformed files
        raise ValueError(f"{path}: could not be read as a mesh ({err})") from err
    if not isinstance(mesh, trimesh.Trimesh):
        raise ValueError(f"{path}: contains no triangle mesh")
    vertices, faces = np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)
    raw = _RawMesh(vertices, faces, np.arange(len(faces)), len(faces), [[] for _ in range(len(vertices))])
    ply = mesh.metadata.get("_ply_raw") if path.suffix.lower() == ".ply" else None
    if ply:
        n_file_faces = int(ply.get("face", {}).get("length", 0))
        if n_file_faces != len(faces):  # polygons were triangulated (and possibly reordered)
            raw.polygon, raw.n_polygons = None, n_file_faces
        raw.face_labels = _ply_property(ply.get("face", {}), "label")
        raw.vertex_labels = _ply_property(ply.get("vertex", {}), "label")
        if raw.vertex_labels is not None and len(raw.vertex_labels) != len(vertices):
            raise ValueError(f"{path}: the PLY vertex labels no longer match the vertices (texture seams?)")
    return raw


def _read_mesh_file(path) -> _RawMesh:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"{path}: unsupported mesh format '{suffix}' (supported: {', '.join(MESH_SUFFIXES)})")
    if suffix == ".obj":
        with open(path, errors="replace") as f:
            raw = _parse_obj_lines(f, str(path))
    elif suffix == ".off":
        raw = _read_off(path)
    else:
        raw = _read_with_trimesh(path)
    if len(raw.faces) == 0:
        raise ValueError(f"{path}: the mesh has no faces")
    return raw


# ----------------------------------------------------------------------------- labels


def _faces_from_vertex_labels(vertex_labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-face label by majority vote of its three vertices (all different: the first vertex's)."""
    a, b, c = np.asarray(vertex_labels)[faces].T
    return np.where(b == c, b, a)


def _as_int_labels(values, where: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise ValueError(f"{where}: labels must be a 1-D array of integers, got {arr.dtype} shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise ValueError(f"{where}: labels must be integers")
    arr = arr.astype(np.int64)
    if len(arr) and arr.min() < UNLABELLED:
        raise ValueError(f"{where}: label {arr.min()} is negative (only {UNLABELLED} = unlabelled is allowed)")
    return arr


def _names_for_ids(face_parts: np.ndarray, part_names, where: str) -> list[str]:
    top = int(face_parts.max(initial=UNLABELLED))
    if part_names is None:
        return [f"part_{i}" for i in range(top + 1)]
    names = list(part_names)
    if top >= len(names):
        raise ValueError(f"{where}: part id {top} but only {len(names)} part names {names}")
    return names


def _polygon_to_triangle_labels(raw: _RawMesh, poly_labels: np.ndarray, where: str) -> np.ndarray:
    if raw.polygon is None:
        raise ValueError(f"{where}: per-face labels refer to the file's faces, but this PLY has non-triangle faces "
                         "that trimesh triangulated and reordered; triangulate the file first")  # fmt: skip
    if len(poly_labels) != raw.n_polygons:
        raise ValueError(f"{where}: {len(poly_labels)} face labels for {raw.n_polygons} faces")
    return poly_labels[raw.polygon]


def _array_labels(raw: _RawMesh, labels, per: str, where: str) -> np.ndarray:
    """Per-triangle part ids from a per-face or per-vertex integer array."""
    arr = _as_int_labels(labels, where)
    n_f, n_v = raw.n_polygons, len(raw.vertices)
    if per == "auto":
        if len(arr) == n_f == n_v:
            raise ValueError(f"{where}: {len(arr)} labels match both the faces and the vertices; pass per='face' or "
                             "per='vertex'")  # fmt: skip
        per = "face" if len(arr) == n_f else "vertex" if len(arr) == n_v else ""
        if not per:
            raise ValueError(f"{where}: {len(arr)} labels match neither the {n_f} faces nor the {n_v} vertices")
    if per == "face":
        return _polygon_to_triangle_labels(raw, arr, where)
    if per == "vertex":
        if len(arr) != n_v:
            raise ValueError(f"{where}: {len(arr)} vertex labels for {n_v} vertices")
        return _faces_from_vertex_labels(arr, raw.faces)
    raise ValueError(f"per must be 'auto', 'face' or 'vertex', got {per!r}")


def _read_face_label_file(path, n_faces: int) -> tuple[np.ndarray, list[str]]:
    """Per-file-face part ids and part names from a file of alternating name / 1-based face-id lines."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 2:
        raise ValueError(f"{path}: part '{lines[-1].strip()}' on line {len(lines)} has no face-id line after it")
    labels = np.full(n_faces, UNLABELLED, np.int64)
    names: list[str] = []
    for k in range(0, len(lines), 2):
        name, ids_line = lines[k].strip(), lines[k + 1]
        if not name or name.replace("-", "").replace(" ", "").isdigit():
            raise ValueError(f"{path}: line {k + 1}: expected a part name, got '{name}'")
        try:
            ids = np.array(ids_line.split(), dtype=np.int64)
        except ValueError:
            raise ValueError(f"{path}: line {k + 2}: face ids must be integers: '{ids_line.strip()}'") from None
        if len(ids) and (ids.min() < 1 or ids.max() > n_faces):
            bad = ids[(ids < 1) | (ids > n_faces)][0]
            raise ValueError(f"{path}: line {k + 2}: face id {bad} out of range 1..{n_faces} (ids are 1-based)")
        if name not in names:
            names.append(name)
        part = names.index(name)
        clash = ids[(labels[ids - 1] != UNLABELLED) & (labels[ids - 1] != part)]
        if len(clash):
            raise ValueError(
                f"{path}: line {k + 2}: face {clash[0]} is already in part '{names[labels[clash[0] - 1]]}'"
            )
        labels[ids - 1] = part
    return labels, names


def _reorder_names(labels: np.ndarray, names: list[str], part_names, where: str) -> tuple[np.ndarray, list[str]]:
    """Re-express part ids in the order of part_names (which must contain every name)."""
    if part_names is None:
        return labels, names
    order = list(part_names)
    missing = [n for n in names if n not in order]
    if missing:
        raise ValueError(f"{where}: parts {missing} are not in part_names {order}")
    lut = np.array([order.index(n) for n in names] + [UNLABELLED], np.int64)  # lut[-1] keeps UNLABELLED
    return lut[labels], order


def load_mesh(path, labels=None, part_names=None, per: str = "auto") -> tuple[PartMesh, list[str]]:
    """Read an OBJ, PLY, OFF or STL mesh (metres) with optional part labels.

    labels:
      - None: a PLY per-face or per-vertex integer property named `label` is used when present
        (face wins), otherwise every face is UNLABELLED (-1);
      - a path: a label file of alternating lines, a part name then the whitespace-separated
        1-based ids of that part's faces (as written in the mesh file); a name may repeat;
        faces not listed are UNLABELLED;
      - an integer array: per-face part ids (one per face of the file) or per-vertex part ids
        (converted to faces by majority vote of the three vertices). `per` ('auto', 'face',
        'vertex') says which when the length alone is ambiguous.
    part_names: names of the part ids (default "part_0", "part_1", ...); with a label file it
      fixes the order of the parts and must contain every name in the file.

    Returns the PartMesh (triangles; polygons are fan-triangulated) and the part names.
    Raises FileNotFoundError for a missing file and ValueError for anything malformed.
    """
    raw = _read_mesh_file(path)
    where = str(path)
    if isinstance(labels, (str, os.PathLike)):
        poly_labels, names = _read_face_label_file(labels, raw.n_polygons)
        poly_labels, names = _reorder_names(poly_labels, names, part_names, str(labels))
        face_parts = _polygon_to_triangle_labels(raw, poly_labels, where)
    elif labels is not None:
        face_parts = _array_labels(raw, labels, per, where)
        names = _names_for_ids(face_parts, part_names, where)
    elif raw.face_labels is not None:
        face_parts = _polygon_to_triangle_labels(raw, _as_int_labels(raw.face_labels, where), where)
        names = _names_for_ids(face_parts, part_names, where)
    elif raw.vertex_labels is not None:
        face_parts = _faces_from_vertex_labels(_as_int_labels(raw.vertex_labels, where), raw.faces)
        names = _names_for_ids(face_parts, part_names, where)
    else:
        face_parts = np.full(len(raw.faces), UNLABELLED, np.int64)
        names = list(part_names or [])
    return PartMesh(raw.vertices, raw.faces, face_parts), names


# ----------------------------------------------------------------------------- labelled points


def _part_names_for_values(values: np.ndarray, part_names, where: str) -> tuple[np.ndarray, list[str]]:
    """Contiguous part ids for label values (sorted order; -1 stays UNLABELLED) and their names."""
    distinct = [int(v) for v in np.unique(values) if v != UNLABELLED]
    if part_names is None:
        names = [str(v) for v in distinct]
    elif isinstance(part_names, dict):
        missing = [v for v in distinct if v not in part_names]
        if missing:
            raise ValueError(f"{where}: labels {missing} have no entry in part_names {part_names}")
        names = [str(part_names[v]) for v in distinct]
    else:
        names = [str(n) for n in part_names]
        if len(names) != len(distinct):
            raise ValueError(f"{where}: {len(names)} part names for {len(distinct)} distinct labels {distinct}")
    unique_names = list(dict.fromkeys(names))  # a dict may give two labels the same name: one part
    lut = {v: unique_names.index(n) for v, n in zip(distinct, names, strict=True)}
    ids = np.array([lut.get(int(v), UNLABELLED) for v in values], np.int64)
    return ids, unique_names


def load_labelled_points(path, part_names=None) -> PartObject:
    """Read a text point cloud with lines `x y z label` or `x y z nx ny nz label` (metres; `#` comments).

    Distinct label values become contiguous part ids in sorted order (-1 means unlabelled).
    part_names: None (names are the label values as strings), a list (one name per distinct
    label, in sorted label order) or a dict {label value: name}. Normals are normalised; they
    are None when the file has no normal columns.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled point file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file: reported below
            data = np.loadtxt(path, comments="#", ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: not a table of numbers ({err})") from None
    if data.size == 0:
        raise ValueError(f"{path}: no points")
    if data.shape[1] not in (4, 7):
        raise ValueError(f"{path}: {data.shape[1]} columns; expected 4 (x y z label) or 7 (x y z nx ny nz label)")
    labels = _as_int_labels(data[:, -1], str(path))
    normals = None
    if data.shape[1] == 7:
        length = np.linalg.norm(data[:, 3:6], axis=1, keepdims=True)
        if np.any(length <= 0):
            raise ValueError(
                f"{path}: point {int(np.argmin(length[:, 0])) + 1} (data rows counted from 1) has a zero normal"
            )
        normals = data[:, 3:6] / length
    ids, names = _part_names_for_values(labels, part_names, str(path))
    return PartObject(data[:, :3], normals, ids, names, provenance=str(path))


# ----------------------------------------------------------------------------- PartNet-Mobility


def _read_json(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from None


def _walk_nodes(nodes, where: str):
    """Depth-first (node, is_leaf) over a PartNet part tree."""
    for node in [nodes] if isinstance(nodes, dict) else nodes:
        if not isinstance(node, dict) or "name" not in node or "id" not in node:
            raise ValueError(f"{where}: every part node needs 'name' and 'id', got {str(node)[:80]}")
        children = node.get("children") or []
        yield node, not children
        yield from _walk_nodes(children, where)


def _partnet_tree(folder: Path) -> tuple[list[dict], dict[int, str]]:
    """Leaves (in depth-first order) and an id -> name map over nodes at every depth."""
    where = str(folder / "result.json")
    tree = _read_json(folder / "result.json")
    leaves, id_to_name = [], {}
    for node, is_leaf in _walk_nodes(tree, where):
        try:
            node_id = int(node["id"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: part id {node['id']!r} is not an integer") from None
        if node_id in id_to_name:
            raise ValueError(f"{where}: part id {node_id} appears twice")
        id_to_name[node_id] = str(node["name"])
        if is_leaf:
            leaves.append(node)
        elif node.get("objs"):
            warnings.warn(f"{where}: inner node '{node['name']}' lists meshes; only leaves define parts", stacklevel=3)
    if not leaves:
        raise ValueError(f"{where}: the part tree has no leaves")
    return leaves, id_to_name


def _partnet_meta(folder: Path, obj: PartObject) -> PartObject:
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        meta = _read_json(meta_path)
        obj.category = str(meta.get("model_cat", "")).lower()
        if "original_model_cat" in meta:
            obj.extras["original_model_cat"] = str(meta["original_model_cat"]).lower()
    return obj


def _partnet_part_meshes(folder: Path, leaves: list[dict], names: list[str]):
    """(vertices, faces, part id) per loaded obj; warns about and lists the missing ones."""
    pieces, missing = [], []
    for leaf in leaves:
        for base in leaf.get("objs") or []:
            path = folder / "textured_objs" / f"{base}.obj"
            if not path.is_file():
                missing.append(base)
                warnings.warn(f"{path}: listed for part '{leaf['name']}' in result.json but missing; skipped",
                              stacklevel=3)  # fmt: skip
                continue
            raw = _read_mesh_file(path)
            pieces.append((raw.vertices, raw.faces, names.index(str(leaf["name"]))))
    return pieces, missing


def _first_sided(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the faces to keep so that no triangle appears twice (in either winding).

    PartNet-Mobility's textured meshes are double-sided: every triangle is stored a second time
    with the opposite winding. Vertices at the same position count as the same vertex.
    """
    _, same = np.unique(vertices.round(9), axis=0, return_inverse=True)
    _, keep = np.unique(np.sort(same.reshape(-1)[faces], axis=1), axis=0, return_index=True)
    return np.sort(keep)


def load_partnet_mobility(folder, n: int = 2048, seed: int = 0, target_extent: float | None = None) -> PartObject:
    """Sample a PartNet-Mobility object folder (result.json + textured_objs/*.obj) into a PartObject.

    Each leaf of the result.json part tree owns its `objs` meshes; leaves sharing a name become
    one part. Part names are in depth-first order of first appearance. Meshes listed but missing
    on disk are skipped with a warning (listed in extras["missing_objs"]); FileNotFoundError when
    none loads. Category is meta.json's model_cat (lowercased); target_extent rescales so the
    largest bounding-box side equals it (metres).

    Triangles stored twice (once per winding, as in PartNet's double-sided textured meshes) are
    kept once; such a mesh has no defined outward side, so normals are then None and
    extras["double_sided"] is True. Otherwise the normals follow the files' winding.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"PartNet-Mobility folder not found: {folder}")
    leaves, _ = _partnet_tree(folder)
    names = list(dict.fromkeys(str(leaf["name"]) for leaf in leaves))
    pieces, missing = _partnet_part_meshes(folder, leaves, names)
    if not pieces:
        raise FileNotFoundError(f"{folder}: none of the meshes listed in result.json exist in textured_objs/")
    offsets = np.cumsum([0] + [len(v) for v, _, _ in pieces])
    vertices = np.concatenate([v for v, _, _ in pieces])
    faces = np.concatenate([f + off for (_, f, _), off in zip(pieces, offsets, strict=False)])
    face_parts = np.concatenate([np.full(len(f), part, np.int64) for _, f, part in pieces])
    keep = _first_sided(vertices, faces)
    obj = object_from_mesh(PartMesh(vertices, faces[keep], face_parts[keep]), names, n, seed, provenance=str(folder))
    double_sided = len(keep) < len(faces)
    if double_sided:
        obj.normals = None
    obj.extras.update(missing_objs=missing, double_sided=double_sided)
    obj = _partnet_meta(folder, obj)
    return obj if target_extent is None else rescale_to_size(obj, target_extent)


def _point_sample_files(folder: Path) -> tuple[Path, Path]:
    sample_dir = folder / "point_sample"
    for pts in sorted(sample_dir.glob("pts-*.txt")):
        lab = sample_dir / pts.name.replace("pts-", "label-", 1)
        if lab.is_file():
            return pts, lab
    raise FileNotFoundError(f"{sample_dir}: no pts-N.txt with a matching label-N.txt (e.g. pts-10000.txt)")


def load_partnet_point_sample(folder, n: int | None = None, seed: int = 0,
                              target_extent: float | None = None) -> PartObject:  # fmt: skip
    """A PartNet-Mobility point sample (point_sample/pts-N.txt `x y z` + label-N.txt, one node id per point).

    Node ids map to names through result.json (nodes at any depth). Part names are the leaf names
    in the same order as load_partnet_mobility, followed by any inner-node name the labels use.
    n: keep a random subset of n points (deterministic for seed); None keeps all. No normals.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"PartNet-Mobility folder not found: {folder}")
    leaves, id_to_name = _partnet_tree(folder)
    pts_path, lab_path = _point_sample_files(folder)
    pts = np.loadtxt(pts_path, ndmin=2)
    ids = _as_int_labels(np.loadtxt(lab_path, ndmin=1), str(lab_path))
    if pts.shape[1] != 3 or len(pts) != len(ids):
        raise ValueError(f"{pts_path}: {pts.shape} points (need N x 3) for {len(ids)} labels in {lab_path.name}")
    unknown = sorted(set(np.unique(ids).tolist()) - set(id_to_name))
    if unknown:
        raise ValueError(f"{lab_path}: ids {unknown} are not part ids in result.json")
    names = list(dict.fromkeys([str(leaf["name"]) for leaf in leaves] + [id_to_name[i] for i in np.unique(ids)]))
    part_ids = np.array([names.index(id_to_name[i]) for i in ids.tolist()], np.int64)
    if n is not None:
        if not 0 < n <= len(pts):
            raise ValueError(f"{pts_path}: cannot take {n} of {len(pts)} points")
        keep = np.sort(np.random.default_rng(seed).choice(len(pts), n, replace=False))
        pts, part_ids = pts[keep], part_ids[keep]
    obj = _partnet_meta(folder, PartObject(pts, None, part_ids, names, provenance=str(pts_path)))
    return obj if target_extent is None else rescale_to_size(obj, target_extent)


# ----------------------------------------------------------------------------- AffordPose


def _affordpose_data(path_or_dict, keys: tuple[str, ...]) -> tuple[dict, str]:
    if isinstance(path_or_dict, dict):
        data, where = path_or_dict, "AffordPose data"
    else:
        data, where = _read_json(Path(path_or_dict)), str(path_or_dict)
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{where}: missing AffordPose fields {missing}")
    pose = [float(x) for x in list(data.get("trans_obj", [0, 0, 0])) + list(data.get("quat_obj", [1, 0, 0, 0]))]
    if pose != [0, 0, 0, 1, 0, 0, 0]:
        raise ValueError(f"{where}: trans_obj/quat_obj must be the identity [0,0,0]/[1,0,0,0], got {pose}")
    return data, where


def load_affordpose_object(path_or_dict, n: int = 2048, seed: int = 0) -> PartObject:
    """The labelled object of an AffordPose interaction (a JSON path or its loaded dict), sampled to n points.

    object_mesh lines `v x y z LABEL` (metres) and `f a b c` (1-based, `a/b/c` allowed); vertex
    labels become per-face labels by majority vote. Parts are the label ids present, in sorted
    order, named by AFFORDPOSE_LABELS (e.g. ["wrap-grasp", "twist"]); extras["affordpose_label_ids"]
    holds the id of each part and extras["afford_name"] the interaction's affordance.
    """
    data, where = _affordpose_data(path_or_dict, ("object_mesh", "class_name"))
    raw = _parse_obj_lines(data["object_mesh"], f"{where}: object_mesh")
    if len(raw.faces) == 0:
        raise ValueError(f"{where}: object_mesh has no faces")
    if any(len(e) != 1 for e in raw.vertex_extra):
        raise ValueError(f"{where}: object_mesh vertices must be 'v x y z LABEL'")
    vertex_labels = _as_int_labels(np.array([e[0] for e in raw.vertex_extra]), f"{where}: object_mesh")
    unknown = sorted(set(np.unique(vertex_labels).tolist()) - set(AFFORDPOSE_LABELS))
    if unknown:
        raise ValueError(f"{where}: unknown AffordPose labels {unknown} (known: {AFFORDPOSE_LABELS})")
    face_labels = _faces_from_vertex_labels(vertex_labels, raw.faces)
    present = np.unique(face_labels)
    mesh = PartMesh(raw.vertices, raw.faces, np.searchsorted(present, face_labels))
    names = [AFFORDPOSE_LABELS[int(v)] for v in present]
    obj = object_from_mesh(mesh, names, n, seed, str(data["class_name"]).lower(), where)
    obj.extras.update(affordpose_label_ids=[int(v) for v in present], afford_name=str(data.get("afford_name", "")))
    return obj


def read_affordpose_grasp(path_or_dict) -> dict:
    """The recorded grasp of an AffordPose interaction (the hand mesh is not returned).

    Returns {"dofs": (16,) joint values (rad), "trans_m": (3,) wrist translation in metres (the
    file's rhand_trans is in millimetres), "quat_wxyz": (4,) unit wrist rotation, "afford_name",
    "class_name"}.
    """
    data, where = _affordpose_data(path_or_dict, ("dofs", "rhand_trans", "rhand_quat", "afford_name", "class_name"))
    dofs = np.asarray(data["dofs"], float).reshape(-1)
    trans = np.asarray(data["rhand_trans"], float).reshape(-1)
    quat = np.asarray(data["rhand_quat"], float).reshape(-1)
    if len(dofs) != 16 or len(trans) != 3 or len(quat) != 4:
        raise ValueError(f"{where}: need 16 dofs, 3 rhand_trans and 4 rhand_quat values, got "
                         f"{len(dofs)}, {len(trans)}, {len(quat)}")  # fmt: skip
    if not np.all(np.isfinite(np.concatenate([dofs, trans, quat]))) or np.linalg.norm(quat) == 0:
        raise ValueError(f"{where}: non-finite grasp values or a zero quaternion")
    return {
        "dofs": dofs,
        "trans_m": trans / 1000.0,
        "quat_wxyz": quat / np.linalg.norm(quat),
        "afford_name": str(data["afford_name"]),
        "class_name": str(data["class_name"]),
    }
