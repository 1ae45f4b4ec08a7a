"""sensor_msgs/PointCloud2 <-> numpy, without sensor_msgs_py (not available as a wheel).

cloud_to_arrays reads x, y, z (FLOAT32 or FLOAT64) plus an optional per-point label field and
optional normals (normal_x, normal_y, normal_z, as PCL's PointNormal writes them), honouring
point_step / row_step padding, endianness and organised (height > 1) clouds. It
checks the whole layout before reading a byte, and refuses anything it cannot read truthfully
with a CloudFormatError that names the field or the sizes at fault (the action server answers
INVALID_GOAL "unreadable cloud: <message>"). The rules:

- fields: x, y and z present, each name declared once; x, y, z are FLOAT32 or FLOAT64 with
  count 1 (integer coordinates, such as a depth driver's millimetres, are not a PointCloud2
  convention: convert them to metres as floats); the label (the first of label, part,
  part_id, segment) is any integer type with count 1, or a float type whose values are all
  whole numbers (some exporters write integer labels as floats; 2.5 is refused, never
  rounded: that would invent a part). Normals come as all three of normal_x, normal_y, normal_z
  (one or two of them is an error), FLOAT32 or FLOAT64 with count 1; their values are checked
  with the request (finite and non-zero for every finite point). Count 0 is read as 1 (some
  publishers leave it unset).
- every field of a known datatype lies inside point_step (offset + size x count); the fields
  read (x, y, z, normals, label) do not overlap; a field not read may have an unknown datatype.
- point_step >= 1; width x point_step <= row_step < width x point_step + point_step: rows may
  be padded, but by less than one point (room for another point means width, point_step or
  row_step is wrong, e.g. a point_step smaller than the packed one).
- len(data) == row_step x height exactly: the message definition says so, and a mismatch
  either way means the sender's layout is not the one it describes.
- plausible values: non-finite coordinates are kept (NaN marks a missing pixel; preprocessing
  drops them), but if more than 1 % of the finite coordinate values are beyond 1e4 m or nonzero
  below 1e-30 m in magnitude (what byte-swapped or mistyped floats look like) the cloud is
  refused: check is_bigendian and the field types.

A layout the checks cannot tell from a different valid one is read as declared: in a row of
fewer points than point_step bytes, a point_step a few bytes smaller than the packed one can
still satisfy every rule (only the plausibility check may then notice the scrambled values).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from ..errors import ErrorCode, GraspError

_FIELD_DTYPES = {
    PointField.INT8: np.int8,
    PointField.UINT8: np.uint8,
    PointField.INT16: np.int16,
    PointField.UINT16: np.uint16,
    PointField.INT32: np.int32,
    PointField.UINT32: np.uint32,
    PointField.FLOAT32: np.float32,
    PointField.FLOAT64: np.float64,
}
_FLOAT_TYPES = (PointField.FLOAT32, PointField.FLOAT64)
_XYZ = ("x", "y", "z")
_NORMALS = ("normal_x", "normal_y", "normal_z")
_FLOAT_FIELDS = _XYZ + _NORMALS
_LABEL_FIELDS = ("label", "part", "part_id", "segment")
# Plausibility of coordinate values (metres): a larger or a nonzero smaller magnitude is absurd
# for a grasping scene; more than IMPLAUSIBLE_FRACTION of such values refuses the cloud.
MAX_ABS_COORDINATE = 1e4
MIN_ABS_COORDINATE = 1e-30
IMPLAUSIBLE_FRACTION = 0.01


class CloudFormatError(ValueError):
    """The PointCloud2 cannot be read (missing fields, inconsistent sizes, implausible values)."""


@dataclass
class CloudArrays:
    points: np.ndarray  # (H, W, 3) when organised (height > 1), else (N, 3); float64, may hold NaN
    labels: np.ndarray | None  # same leading shape as points, int64; None when the cloud has no label field
    frame_id: str
    normals: np.ndarray | None = None  # points' shape, float64 as sent (may hold NaN); None without normal fields


def is_empty(msg: PointCloud2) -> bool:
    return msg.width * msg.height == 0


def goal_cloud_arrays(msg: PointCloud2, what: str = "cloud") -> CloudArrays:
    """cloud_to_arrays for a goal: an unreadable cloud is GraspError INVALID_GOAL "unreadable <what>: ..."."""
    try:
        return cloud_to_arrays(msg)
    except CloudFormatError as err:
        raise GraspError(ErrorCode.INVALID_GOAL, f"unreadable {what}: {err}") from err


def _type_name(datatype: int) -> str:
    return np.dtype(_FIELD_DTYPES[datatype]).name if datatype in _FIELD_DTYPES else f"datatype {datatype}"


def _check_fields(msg: PointCloud2) -> dict[str, PointField]:
    """The fields to read (x, y, z and the label, if any), after checking every field rule."""
    names = [f.name for f in msg.fields]
    missing = [n for n in ("x", "y", "z") if n not in names]
    if missing:
        raise CloudFormatError(f"PointCloud2 lacks field(s) {missing}; has {sorted(names)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CloudFormatError(f"field '{twice[0]}' is declared {names.count(twice[0])} times")
    by_name = {f.name: f for f in msg.fields}
    label_name = next((n for n in _LABEL_FIELDS if n in by_name), None)
    normal_names = [n for n in _NORMALS if n in by_name]
    if normal_names and len(normal_names) < 3:
        missing = [n for n in _NORMALS if n not in by_name]
        raise CloudFormatError(f"PointCloud2 has {normal_names} but lacks {missing}: normals need all three fields")
    wanted = ["x", "y", "z"] + normal_names + ([label_name] if label_name else [])
    for name in wanted:
        f = by_name[name]
        if f.datatype not in _FIELD_DTYPES:
            raise CloudFormatError(
                f"field '{name}' has unknown datatype {f.datatype}; PointField datatypes are 1 (INT8) .. 8 (FLOAT64)"
            )
        if name in _XYZ and f.datatype not in _FLOAT_TYPES:
            raise CloudFormatError(
                f"field '{name}' is {_type_name(f.datatype)}; x, y, z must be FLOAT32 or FLOAT64 "
                "(metres; integer coordinates such as a depth driver's millimetres are not a PointCloud2 convention)"
            )
        if name in _NORMALS and f.datatype not in _FLOAT_TYPES:
            raise CloudFormatError(f"field '{name}' is {_type_name(f.datatype)}; normals must be FLOAT32 or FLOAT64")
        if f.count > 1:
            what = "a label must be"
            if name in _FLOAT_FIELDS:
                what = "x, y, z must be" if name in _XYZ else "a normal component must be"
            raise CloudFormatError(f"field '{name}' has count {f.count}; {what} a single value (count 1)")
    if msg.point_step < 1:
        raise CloudFormatError(f"point_step is {msg.point_step}; it must be at least 1 (the bytes of one point)")
    for f in msg.fields:
        if f.datatype not in _FIELD_DTYPES:
            continue  # not read, size unknown
        size = np.dtype(_FIELD_DTYPES[f.datatype]).itemsize * max(f.count, 1)
        if f.offset + size > msg.point_step:
            raise CloudFormatError(
                f"field '{f.name}' ({_type_name(f.datatype)} x {max(f.count, 1)} at offset {f.offset}) "
                f"ends at byte {f.offset + size}, past point_step {msg.point_step}"
            )
    # By start (then x, y, z, label order): any overlap shows between neighbours in this order.
    spans = []
    for i, n in enumerate(wanted):
        start = by_name[n].offset
        spans.append((start, i, start + np.dtype(_FIELD_DTYPES[by_name[n].datatype]).itemsize, n))
    for (a0, _, a1, a), (b0, _, b1, b) in pairwise(sorted(spans)):
        if b0 < a1:
            raise CloudFormatError(
                f"fields '{a}' and '{b}' overlap (bytes {a0}..{a1 - 1} and {b0}..{b1 - 1}); check their offsets"
            )
    return {n: by_name[n] for n in wanted}


def _check_sizes(msg: PointCloud2) -> None:
    packed = msg.width * msg.point_step
    if msg.row_step < packed:
        raise CloudFormatError(
            f"PointCloud2 sizes disagree: row_step {msg.row_step} is less than width {msg.width} x "
            f"point_step {msg.point_step} = {packed}"
        )
    if msg.row_step - packed >= msg.point_step and msg.height > 0:
        raise CloudFormatError(
            f"PointCloud2 sizes disagree: row_step {msg.row_step} leaves {msg.row_step - packed} bytes after width "
            f"{msg.width} x point_step {msg.point_step} = {packed}, room for another point: width, point_step or "
            "row_step is wrong"
        )
    expected = msg.row_step * msg.height
    if len(msg.data) != expected:
        raise CloudFormatError(
            f"PointCloud2 sizes disagree: data has {len(msg.data)} bytes, row_step {msg.row_step} x height "
            f"{msg.height} = {expected} expected"
        )


def _check_plausible(points: np.ndarray, msg: PointCloud2, fields: dict[str, PointField]) -> None:
    mag = np.abs(points.reshape(-1))
    finite = np.isfinite(mag)
    n_finite = int(np.count_nonzero(finite))
    if n_finite == 0:
        return
    with np.errstate(invalid="ignore"):
        bad = finite & ((mag > MAX_ABS_COORDINATE) | ((mag < MIN_ABS_COORDINATE) & (mag > 0)))
    n_bad = int(np.count_nonzero(bad))
    if n_bad > IMPLAUSIBLE_FRACTION * n_finite:
        example = float(mag[np.flatnonzero(bad)[0]])
        types = ", ".join(f"{n} {_type_name(fields[n].datatype)}" for n in _XYZ)
        raise CloudFormatError(
            f"implausible coordinates: {n_bad} of {n_finite} finite x/y/z values ({100 * n_bad / n_finite:.0f} %) "
            f"are beyond {MAX_ABS_COORDINATE:g} m or nonzero below {MIN_ABS_COORDINATE:g} m in magnitude "
            f"(e.g. {example:.3g}); the data is not what the header says: check is_bigendian "
            f"({bool(msg.is_bigendian)}) and the field types ({types})"
        )


def _read_labels(rec: np.ndarray, name: str, datatype: int) -> np.ndarray:
    """The label field as int64: any integer type; a float type only when every value is whole."""
    raw = rec[name]
    if datatype not in _FLOAT_TYPES:
        return raw.astype(np.int64)
    with np.errstate(invalid="ignore"):
        values = raw.astype(np.float64)
    whole = np.isfinite(values) & (np.abs(values) < 2.0**53)
    whole[whole] = values[whole] == np.round(values[whole])
    if not whole.all():
        example = float(values.reshape(-1)[np.flatnonzero(~whole.reshape(-1))[0]])
        raise CloudFormatError(
            f"field '{name}' is {_type_name(datatype)} with values that are not whole numbers (e.g. {example:g}); "
            "labels must be integers"
        )
    return values.astype(np.int64)


def cloud_to_arrays(msg: PointCloud2) -> CloudArrays:
    """The points (and labels) of a PointCloud2, after checking its layout (module docstring)."""
    fields = _check_fields(msg)
    _check_sizes(msg)
    label_name = next((n for n in fields if n not in _FLOAT_FIELDS), None)
    has_normals = "normal_x" in fields
    height, width = msg.height, msg.width
    if height * width == 0:
        points = np.zeros((height, width, 3))
        normals = np.zeros((height, width, 3)) if has_normals else None
        labels = np.zeros((height, width), dtype=np.int64) if label_name else None
    else:
        endian = ">" if msg.is_bigendian else "<"
        dtype = np.dtype(
            {
                "names": list(fields),
                "formats": [np.dtype(_FIELD_DTYPES[f.datatype]).newbyteorder(endian) for f in fields.values()],
                "offsets": [f.offset for f in fields.values()],
                "itemsize": msg.point_step,
            }
        )
        # A strided view of the message's bytes (no copy): rows of row_step, points of point_step.
        buf = np.frombuffer(msg.data, dtype=np.uint8)
        rec = np.ndarray((height, width), dtype=dtype, buffer=buf, strides=(msg.row_step, msg.point_step))
        with np.errstate(invalid="ignore"):  # signalling NaNs (mistyped or byte-swapped data) warn when cast
            points = np.stack([rec["x"], rec["y"], rec["z"]], axis=-1).astype(np.float64)
        _check_plausible(points, msg, fields)
        normals = None
        if has_normals:
            with np.errstate(invalid="ignore"):
                normals = np.stack([rec[n] for n in _NORMALS], axis=-1).astype(np.float64)
        labels = _read_labels(rec, label_name, fields[label_name].datatype) if label_name else None
    if height == 1:
        points = points.reshape(-1, 3)
        normals = normals.reshape(-1, 3) if normals is not None else None
        labels = labels.reshape(-1) if labels is not None else None
    return CloudArrays(points=points, labels=labels, frame_id=msg.header.frame_id, normals=normals)


def arrays_to_cloud(
    points: np.ndarray,
    header: Header | None = None,
    labels: np.ndarray | None = None,
    *,
    normals: np.ndarray | None = None,
    dtype=np.float32,
    big_endian: bool = False,
) -> PointCloud2:
    """Pack (N, 3) or organised (H, W, 3) points (+ optional normals of the same shape as
    normal_x/y/z, + optional int labels) as xyz [normal_x normal_y normal_z] [int32 label].

    dtype: np.float32 (default) or np.float64 for x, y, z and the normals; big_endian: the byte order written.
    """
    kind = np.dtype(dtype)
    if kind not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {kind}")
    pts = np.asarray(points, dtype=kind)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 3:
        raise ValueError(f"points must be (N, 3) or (H, W, 3), got {np.shape(points)}")
    height, width = pts.shape[:2]
    code = PointField.FLOAT32 if kind == np.float32 else PointField.FLOAT64
    order = ">" if big_endian else "<"
    columns = {n: pts[..., i] for i, n in enumerate("xyz")}
    if normals is not None:
        nrm = np.asarray(normals, dtype=kind)
        if nrm.size != pts.size:
            raise ValueError(f"normals must have the points' shape {np.shape(points)}, got {nrm.shape}")
        nrm = nrm.reshape(pts.shape)
        columns |= {n: nrm[..., i] for i, n in enumerate(_NORMALS)}
    fields = [PointField(name=n, offset=kind.itemsize * i, datatype=code, count=1) for i, n in enumerate(columns)]
    formats = [kind.newbyteorder(order)] * len(columns)
    if labels is not None:
        columns["label"] = np.asarray(labels, dtype=np.int32).reshape(height, width)
        fields.append(PointField(name="label", offset=len(fields) * kind.itemsize, datatype=PointField.INT32, count=1))
        formats.append(np.dtype(np.int32).newbyteorder(order))
    rec = np.zeros((height, width), dtype={"names": list(columns), "formats": formats})
    for name, values in columns.items():
        rec[name] = values
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = height, width
    msg.fields = fields
    msg.is_bigendian = bool(big_endian)
    msg.point_step = rec.dtype.itemsize
    msg.row_step = msg.point_step * width
    msg.is_dense = bool(np.isfinite(pts).all())
    msg.data = rec.tobytes()
    return msg
