"""The benchmark's shape sets and how each shape is put into one object frame.

Three sources of part-labelled shapes:
- "procedural": the unseen procedural categories (objects.procedural.UNSEEN_CATEGORIES), seeded;
- "shared": the real PartNet-Mobility objects in ../shared/data/partnet_mobility (research data
  read in place, never copied into the repository);
- "dir": a user's folder laid out DIR/<category>/<shapes> (see discover_shapes).

load_shape gives every shape the same object frame: metres, +z up, resting on z = 0, bounding box
centred on x = y = 0. Shapes from files have arbitrary units: they are rescaled so their largest
bounding-box side is a typical real size for their category (TYPICAL_EXTENT) or a given extent.
Procedural shapes are generated in metres, z-up, and are never rescaled or turned.

Mesh-based metrics (volume, inside tests, penetration) need a mesh, and are only exact for a closed
one: LoadedShape.closed says whether the mesh is watertight and consistently wound. Shapes given as
points (labelled point files, and PartNet-Mobility folders that fall back on their point sample)
have no mesh at all: LoadedShape.obj.mesh is None and closed is False.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from ..objects.loaders import (
    MESH_SUFFIXES,
    _partnet_tree,
    _point_sample_files,
    load_labelled_points,
    load_mesh,
    load_partnet_mobility,
    load_partnet_point_sample,
)
from ..objects.part_object import UNLABELLED, PartMesh, PartObject, object_from_mesh
from ..objects.procedural import ALL_CATEGORIES, UNSEEN_CATEGORIES, generate_mesh

SOURCES = ("procedural", "shared", "dir")
# A mesh's label file sits beside it: <stem>.labels, <stem>.txt or <stem>.seg (first found is used),
# alternating lines: a part name, then that part's 1-based face ids (Princeton Shape Benchmark style).
LABEL_SUFFIXES = (".labels", ".txt", ".seg")
# Labelled point files: `x y z label` or `x y z nx ny nz label` lines (a .txt beside a mesh of the
# same stem is that mesh's label file instead).
POINT_SUFFIXES = (".pts", ".xyz", ".txt")
# Companion files a shape folder may hold that are not shapes (an OBJ's material library).
COMPANION_SUFFIXES = (".mtl",)
# PartNet-Mobility (SAPIEN) objects are modelled with +y up: that is their up axis whatever a caller asks.
PARTNET_UP = "+y"
SHARED_DATA_ENV = "GDEXGRASP_SHARED_DATA"

# Largest bounding-box side (metres) of a typical real object of each category; a shape from a file
# is rescaled to it. The basis of each value is given beside it.
TYPICAL_EXTENT: dict[str, float] = {
    # drinkware and containers
    "mug": 0.12,  # ~0.10 m tall, ~0.08 m across plus a ~0.035 m handle
    "cup": 0.12,  # PartNet's "cup" is a handled mug: as mug
    "glass": 0.13,  # drinking glass ~0.13 m tall
    "wine glass": 0.20,  # ~0.20 m tall
    "can": 0.12,  # 330 ml drink can 0.115 m tall
    "bottle": 0.22,  # 0.5-0.75 l drink bottle ~0.22 m tall
    "handle bottle": 0.28,  # 2 l milk / detergent bottle with a handle ~0.28 m tall
    "spray bottle": 0.25,  # trigger spray bottle ~0.25 m tall
    "dispenser": 0.19,  # soap pump bottle ~0.19 m tall with its pump
    "jar": 0.14,  # jam / storage jar ~0.14 m tall
    "jug": 0.22,  # 1-1.5 l pitcher ~0.22 m tall
    "vase": 0.25,  # table vase ~0.25 m tall
    "bucket": 0.30,  # 10 l household bucket ~0.30 m tall / across
    "box": 0.25,  # lidded storage / gift box ~0.25 m long
    "basket": 0.35,  # shopping / storage basket ~0.35 m long
    "trash can": 0.40,  # kitchen bin ~0.40 m tall
    # cookware and kitchen tools
    "kettle": 0.25,  # ~0.25 m from spout tip to handle
    "teapot": 0.24,  # ~0.24 m from spout tip to handle
    "pot": 0.30,  # cooking pot ~0.24 m across, ~0.30 m over its side handles
    "kitchenpot": 0.30,  # PartNet-Mobility's name for a cooking pot: as pot
    "saucepan": 0.35,  # ~0.17 m pan plus a ~0.18 m handle
    "frying pan": 0.45,  # ~0.27 m pan plus a ~0.18 m handle
    "pan": 0.45,  # as frying pan
    "bowl": 0.16,  # cereal bowl ~0.16 m across
    "plate": 0.27,  # dinner plate ~0.27 m across
    "tray": 0.40,  # serving tray ~0.40 m long
    "knife": 0.25,  # kitchen knife ~0.25 m long with its handle
    "fork": 0.19,  # table fork ~0.19 m long
    "spoon": 0.18,  # tablespoon ~0.18 m long
    "spatula": 0.30,  # kitchen turner ~0.30 m long
    "ladle": 0.32,  # soup ladle ~0.32 m long
    "whisk": 0.28,  # balloon whisk ~0.28 m long
    "tongs": 0.30,  # kitchen tongs ~0.30 m long
    "rolling pin": 0.45,  # ~0.45 m long
    "cutting board": 0.40,  # ~0.40 m long
    "faucet": 0.25,  # kitchen / bathroom tap ~0.25 m tall or deep
    # tools
    "hammer": 0.32,  # claw hammer ~0.32 m long
    "screwdriver": 0.20,  # ~0.20 m long
    "drill": 0.25,  # cordless drill ~0.25 m tall
    "pliers": 0.20,  # combination pliers ~0.20 m long
    "wrench": 0.20,  # adjustable wrench ~0.20 m long
    "saw": 0.50,  # hand saw ~0.50 m long
    "scissors": 0.20,  # office / kitchen scissors ~0.20 m long
    "stapler": 0.16,  # desk stapler ~0.16 m long
    "pen": 0.14,  # ballpoint pen ~0.14 m long
    "flashlight": 0.20,  # handheld torch ~0.20 m long
    "watering can": 0.45,  # 5 l can ~0.45 m from spout tip to back
    "broom": 1.30,  # household broom ~1.3 m long
    "umbrella": 0.85,  # closed stick umbrella ~0.85 m long
    # other household objects
    "suitcase": 0.60,  # cabin to medium suitcase ~0.55-0.65 m tall
    "bag": 0.40,  # handbag / tote ~0.40 m wide
    "backpack": 0.45,  # ~0.45 m tall
    "headphones": 0.20,  # over-ear headphones ~0.20 m across the headband
    "toothbrush": 0.19,  # ~0.19 m long
    "hair dryer": 0.25,  # ~0.25 m long
    "remote control": 0.18,  # TV remote ~0.18 m long
    "mobile phone": 0.15,  # smartphone ~0.15 m long
    "mouse": 0.11,  # computer mouse ~0.11 m long
    "lamp": 0.45,  # desk lamp ~0.45 m tall
    "laptop": 0.35,  # 14-inch laptop ~0.32-0.35 m wide
}
DEFAULT_EXTENT = 0.20  # categories not in the table: a typical hand-held object

UP_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
# Proper rotations (signed axis permutations, det +1) taking each axis to +z.
_UP_ROTATIONS = {
    "+z": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-z": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),  # half turn about x
    "+y": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # quarter turn about x: y -> z, z -> -y
    "-y": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # quarter turn about x the other way
    "+x": ((0, 0, -1), (0, 1, 0), (1, 0, 0)),  # quarter turn about y: x -> z, z -> -x
    "-x": ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),
}


@dataclass(frozen=True)
class BenchShape:
    shape_id: str  # unique and stable, e.g. "procedural/teapot/3", "shared/kettle", "<dir name>/<category>/<file stem>"
    category: str  # lower case, '_' and '-' turned into spaces ("watering can")
    source: str  # "procedural" | "shared" | "dir"
    path: str  # file or folder ("" for procedural)
    seed: int = 0  # procedural seed

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"shape {self.shape_id!r}: source must be one of {SOURCES}, got {self.source!r}")


@dataclass
class LoadedShape:
    shape: BenchShape
    # Object frame: metres, +z up, resting on z = 0, bounding box centred on x = y = 0. obj.mesh is the
    # part-labelled PartMesh (None for shapes given as points), obj.part_names its part names;
    # obj.points/normals/part_ids a sample of the mesh (or of the point file). obj.extras holds
    # shape_id, kind ("procedural", "mesh", "points", "partnet_mesh", "partnet_point_sample"), the up
    # axis used and the scale.
    obj: PartObject
    scale: float  # factor applied to the file's units (1.0 for procedural)
    closed: bool  # whether the mesh is watertight (mesh-based metrics are only exact for closed meshes)


def category_name(name: str) -> str:
    """A category as the benchmark writes it: lower case, '_' and '-' turned into spaces ("Watering_Can" -> "watering can")."""
    return " ".join(re.sub(r"[_\-]", " ", str(name)).lower().split())


def typical_extent(category: str) -> float:
    """Largest bounding-box side (metres) of a typical real object of the category; DEFAULT_EXTENT when unknown."""
    return TYPICAL_EXTENT.get(category_name(category), DEFAULT_EXTENT)


def up_rotation(up: str) -> np.ndarray:
    """3x3 proper rotation (det +1) taking the given up axis ('+x', '-x', '+y', '-y', '+z', '-z') to +z."""
    try:
        return np.array(_UP_ROTATIONS[up], dtype=np.float64)
    except (KeyError, TypeError):
        raise ValueError(f"unknown up axis {up!r}; use one of {', '.join(UP_AXES)}") from None


def default_data_dir() -> Path:
    """Where the real shapes are: $GDEXGRASP_SHARED_DATA, else ../shared/data beside the repository."""
    env = os.environ.get(SHARED_DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


# ----------------------------------------------------------------------------- shape sets


def procedural_shapes(per_category: int = 5, categories=None) -> list[BenchShape]:
    """per_category seeded shapes (seeds 0..per_category-1) of each category, in the given order.

    categories: None for every unseen category (procedural.UNSEEN_CATEGORIES, which the part models
    never saw); otherwise names of procedural categories (training ones allowed, '_' for spaces).
    """
    if isinstance(per_category, bool) or not isinstance(per_category, (int, np.integer)) or per_category < 0:
        raise ValueError(f"per_category must be a non-negative integer, got {per_category!r}")
    names = list(UNSEEN_CATEGORIES) if categories is None else [category_name(c) for c in categories]
    unknown = [c for c in names if c not in ALL_CATEGORIES]
    if unknown:
        raise ValueError(f"unknown procedural categories {unknown}; known: {sorted(ALL_CATEGORIES)}")
    names = list(dict.fromkeys(names))
    return [BenchShape(f"procedural/{c}/{s}", c, "procedural", "", s) for c in names for s in range(int(per_category))]


def shared_shapes(data_dir) -> list[BenchShape]:
    """Every PartNet-Mobility object folder in data_dir/partnet_mobility (data_dir: ../shared/data), by name.

    [] when that folder is absent (a user's clone has no ../shared). shape_id "shared/<folder>"; the
    category is the dataset's own (meta.json original_model_cat, else model_cat: the "cup" folder is
    PartNet's mug, "bottle_cap" a capped bottle, "pot" a kitchenpot), else the folder name without a
    trailing _<id>. A folder that cannot be used (no result.json, one part, meshes missing without a
    point sample) is not listed and a UserWarning says why.
    """
    root = Path(default_data_dir() if data_dir is None else data_dir) / "partnet_mobility"
    if not root.is_dir():
        return []
    shapes = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            _partnet_kind(folder)
            category = _partnet_category(folder)
        except (OSError, ValueError) as err:
            warnings.warn(f"{folder}: not used as a benchmark shape ({err})", stacklevel=2)
            continue
        shapes.append(BenchShape(f"shared/{folder.name}", category, "shared", str(folder)))
    return shapes


def default_shapes(data_dir=None, per_category: int = 5) -> list[BenchShape]:
    """The default benchmark set: the procedural unseen categories, then the real shapes when present.

    data_dir None: default_data_dir() ($GDEXGRASP_SHARED_DATA or ../shared/data).
    """
    return procedural_shapes(per_category) + shared_shapes(default_data_dir() if data_dir is None else data_dir)


def discover_shapes(folder) -> tuple[list[BenchShape], list[tuple[str, str]]]:
    """The part-labelled shapes of a folder laid out DIR/<category>/<shapes>, and what was skipped (path, reason).

    A shape in DIR/<category>/ is
      (a) a mesh file (.obj .off .ply .stl) labelled by a file beside it, <stem>.labels, <stem>.txt or
          <stem>.seg (alternating lines: part name, then its 1-based face ids), or by a PLY `label`
          property;
      (b) a labelled point file <stem>.pts / .xyz / .txt (`x y z [nx ny nz] label` lines) that is not
          a mesh's label file;
      (c) a PartNet-Mobility object folder (with result.json).
    A PartNet-Mobility folder directly in DIR is a shape too, its category the folder name without a
    trailing _<id> (bucket_100454 -> bucket, pen_anno2939 -> pen). Category folder names become
    categories with category_name ("Watering_Can" -> "watering can").

    Every file is read once to check it: one that cannot be read, has no part labels or a single part
    is skipped with the reason, as is anything else that is not a shape (material libraries .mtl are
    passed over). shape_id is "<DIR name>/<category folder>/<file stem>" (the file name when two
    files share a stem), "<DIR name>/<folder>" for a PartNet folder in DIR. Both lists are sorted.
    FileNotFoundError when the folder does not exist.
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"shape folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"{root} is a file; expected a folder laid out <folder>/<category>/<shapes>")
    shapes: list[BenchShape] = []
    skipped: list[tuple[str, str]] = []
    for entry in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if entry.is_dir() and (entry / "result.json").is_file():
            category = _name_category(entry.name)
            _add_checked(shapes, skipped, BenchShape(f"{root.name}/{entry.name}", category, "dir", str(entry)))
        elif entry.is_dir():
            _scan_category(root, entry, shapes, skipped)
        else:
            skipped.append((str(entry), "a file directly in the folder; shapes go in <folder>/<category>/"))
    shapes.sort(key=lambda s: s.shape_id)
    skipped.sort()
    return shapes, skipped


def _scan_category(root: Path, folder: Path, shapes: list, skipped: list) -> None:
    category = category_name(folder.name)
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    meshes = [p for p in files if p.is_file() and p.suffix.lower() in MESH_SUFFIXES]
    label_of: dict[Path, Path] = {}  # label file -> the mesh it labels
    for mesh in meshes:
        for k, label in enumerate(_label_files(mesh)):
            if k == 0:
                label_of[label] = mesh
            else:
                skipped.append(
                    (str(label), f"a second label file for {mesh.name} (it uses {_label_files(mesh)[0].name})")
                )
                label_of[label] = mesh

    def key(p: Path) -> str:
        return p.name if p.is_dir() else p.stem

    candidates = [
        p for p in files if p not in label_of and (p.is_dir() or p.suffix.lower() in MESH_SUFFIXES + POINT_SUFFIXES)
    ]
    keys = [key(p) for p in candidates]
    for path in files:
        if path in label_of:
            continue
        name = path.name if keys.count(key(path)) > 1 else key(path)
        shape = BenchShape(f"{root.name}/{folder.name}/{name}", category, "dir", str(path))
        if path.is_dir():
            if (path / "result.json").is_file():
                _add_checked(shapes, skipped, shape)
            else:
                skipped.append((str(path), "a folder that is not a PartNet-Mobility object (no result.json)"))
        elif path in meshes or path.suffix.lower() in POINT_SUFFIXES:
            _add_checked(shapes, skipped, shape)
        elif path.suffix.lower() in LABEL_SUFFIXES:
            skipped.append(
                (str(path), f"a label file without a mesh {path.stem}{{{','.join(MESH_SUFFIXES)}}} beside it")
            )
        elif path.suffix.lower() not in COMPANION_SUFFIXES:
            skipped.append((str(path), f"not a shape file (meshes: {' '.join(MESH_SUFFIXES)}; labelled points: "
                                       f"{' '.join(POINT_SUFFIXES)}; or a PartNet-Mobility folder)"))  # fmt: skip


def _add_checked(shapes: list, skipped: list, shape: BenchShape) -> None:
    """Append the shape when it can be used, else record why not."""
    try:
        _check_shape(shape)
    except (OSError, ValueError) as err:
        skipped.append((shape.path, str(err)))
    else:
        shapes.append(shape)


def _check_shape(shape: BenchShape) -> None:
    path = Path(shape.path)
    if path.is_dir():
        _partnet_kind(path)
    elif path.suffix.lower() in MESH_SUFFIXES:
        mesh, names = _read_mesh(path)
        _require_parts(mesh.face_parts, names, path)
    else:
        obj = load_labelled_points(path)
        _require_parts(obj.part_ids, obj.part_names, path)


# ----------------------------------------------------------------------------- reading one shape


def _label_files(mesh_path: Path) -> list[Path]:
    found = [mesh_path.with_suffix(s) for s in LABEL_SUFFIXES]
    return [p for p in found if p.is_file()]


def _read_mesh(path: Path) -> tuple[PartMesh, list[str]]:
    labels = _label_files(path)
    return load_mesh(path, labels=labels[0] if labels else None)


def _require_parts(ids: np.ndarray, names: list[str], where) -> None:
    present = [names[i] for i in np.unique(ids) if i != UNLABELLED]
    if not present:
        raise ValueError(f"{where}: no part labels (give a mesh a label file <stem>.labels / .txt / .seg or a PLY "
                         "'label' property; points need a label column)")  # fmt: skip
    if len(present) == 1:
        raise ValueError(f"{where}: a single part ({present[0]!r}); part-aware grasping needs two or more")


def _partnet_kind(folder: Path) -> str:
    """How to read a PartNet-Mobility folder: "mesh" when every mesh its result.json lists is in textured_objs/;
    otherwise "point_sample" when it has one (a shape with a piece missing would be wrong); else ValueError."""
    leaves, _ = _partnet_tree(folder)
    names = list(dict.fromkeys(str(leaf["name"]) for leaf in leaves))
    if len(names) < 2:
        raise ValueError(
            f"{folder}: a single part ({names[0]!r}) in result.json; part-aware grasping needs two or more"
        )
    listed = [str(base) for leaf in leaves for base in leaf.get("objs") or []]
    missing = [b for b in listed if not (folder / "textured_objs" / f"{b}.obj").is_file()]
    if listed and not missing:
        return "mesh"
    try:
        _point_sample_files(folder)
    except FileNotFoundError:
        raise ValueError(f"{folder}: meshes {missing or 'of its parts'} listed in result.json are missing from "
                         "textured_objs/ and there is no point_sample/ to use instead") from None  # fmt: skip
    return "point_sample"


def _partnet_category(folder: Path) -> str:
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{meta_path}: invalid JSON ({err})") from None
        category = meta.get("original_model_cat") or meta.get("model_cat") if isinstance(meta, dict) else None
        if category:
            return category_name(category)
    return _name_category(folder.name)


def _name_category(folder_name: str) -> str:
    """The category a PartNet-Mobility folder's name gives: without a trailing _<id> (bucket_100454 -> bucket)."""
    return category_name(re.sub(r"_[A-Za-z]*\d+$", "", folder_name))


def _subsample(obj: PartObject, n: int, seed: int) -> PartObject:
    """At most n points, a random subset deterministic for the seed (as load_partnet_point_sample takes them)."""
    if len(obj) <= n:
        return obj
    keep = np.sort(np.random.default_rng(seed).choice(len(obj), n, replace=False))
    return obj.subset(keep)


def _read_shape(shape: BenchShape, n_points: int, seed: int) -> tuple[PartObject, str, str]:
    """The shape as a PartObject in its file's units and frame, its kind and its up axis."""
    if shape.source == "procedural":
        mesh, names = generate_mesh(shape.category, shape.seed)
        provenance = f"procedural:{shape.category}:seed={shape.seed}"
        return object_from_mesh(mesh, names, n_points, seed, shape.category, provenance), "procedural", "+z"
    path = Path(shape.path)
    if not path.exists():
        raise FileNotFoundError(f"shape {shape.shape_id}: {path} not found")
    if path.is_dir():
        if _partnet_kind(path) == "mesh":
            return load_partnet_mobility(path, n=n_points, seed=seed), "partnet_mesh", PARTNET_UP
        obj = _subsample(load_partnet_point_sample(path, seed=seed), n_points, seed)
        return obj, "partnet_point_sample", PARTNET_UP
    if path.suffix.lower() in MESH_SUFFIXES:
        mesh, names = _read_mesh(path)
        _require_parts(mesh.face_parts, names, path)
        return object_from_mesh(mesh, names, n_points, seed, shape.category, str(path)), "mesh", ""
    obj = load_labelled_points(path)
    _require_parts(obj.part_ids, obj.part_names, path)
    return _subsample(obj, n_points, seed), "points", ""


def _closed(mesh: PartMesh) -> tuple[bool, float]:
    """(watertight and consistently wound once coincident vertices are merged, signed volume)."""
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    closed = bool(tm.is_watertight and tm.is_winding_consistent)
    return closed, float(tm.volume) if closed else 0.0


def load_shape(shape: BenchShape, up: str = "+z", extent: float | None = None, n_points: int = 2048,
               seed: int = 0) -> LoadedShape:  # fmt: skip
    """Load one benchmark shape into the object frame (metres, +z up, on z = 0, centred in x and y).

    up: the up axis of a file shape ("+x" ... "-z", UP_AXES). PartNet-Mobility folders (every "shared"
      shape) are +y up whatever is asked, and procedural shapes are already +z up: up is ignored for them.
    extent: largest bounding-box side in metres after rescaling a file shape; None: typical_extent of
      its category. Procedural shapes are metric and are never rescaled (scale 1.0). The bounding box
      is the mesh's, or the points' when there is no mesh.
    n_points: the size of the sample obj.points (a point file or point sample with fewer points keeps
      them all); seed: the sampling seed (deterministic).

    A PartNet-Mobility folder whose listed meshes are not all present is read from its point sample.
    A closed mesh wound inside out is turned outward. ValueError for an unknown up axis, a
    non-positive extent or an unusable shape; FileNotFoundError when its file is gone.
    """
    up_rotation(up)  # an unknown axis is an error for every source
    if extent is not None and not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive number of metres, got {extent!r}")
    if isinstance(n_points, bool) or int(n_points) != n_points or n_points <= 0:
        raise ValueError(f"n_points must be a positive integer, got {n_points!r}")
    obj, kind, file_up = _read_shape(shape, int(n_points), seed)
    file_up = file_up or up
    rotation = up_rotation(file_up)
    geometry = obj.mesh.vertices[np.unique(obj.mesh.faces)] if obj.mesh is not None else obj.points
    scale = 1.0
    if shape.source != "procedural":
        size = float(np.ptp(geometry, axis=0).max()) if len(geometry) else 0.0
        if not size > 0:
            raise ValueError(f"shape {shape.shape_id}: zero size, cannot be rescaled")
        scale = (typical_extent(shape.category) if extent is None else float(extent)) / size
        obj = obj.scaled(scale)
    turned = (geometry * scale) @ rotation.T
    lo, hi = turned.min(0), turned.max(0)
    obj = obj.transformed(rotation, np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]]))
    closed = False
    if obj.mesh is not None:
        closed, volume = _closed(obj.mesh)
        if closed and volume < 0:  # inside out: make the faces (and sampled normals) point outward
            obj.mesh = PartMesh(obj.mesh.vertices, obj.mesh.faces[:, ::-1], obj.mesh.face_parts)
            obj.normals = None if obj.normals is None else -obj.normals
    obj.category = shape.category
    obj.provenance = obj.provenance or shape.shape_id
    obj.extras.update(shape_id=shape.shape_id, kind=kind, up=file_up, scale=scale)
    return LoadedShape(shape, obj, scale, closed)
