"""sensor_msgs/PointCloud2 <-> numpy, without sensor_msgs_py (not available as a wheel).

Reads x, y, z of any float type plus an optional per-point label field, honours
point_step / row_step padding, endianness and organised (height > 1) clouds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

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
_LABEL_FIELDS = ("label", "part", "part_id", "segment")


class CloudFormatError(ValueError):
    """The PointCloud2 cannot be read (missing fields, inconsistent sizes)."""


@dataclass
class CloudArrays:
    points: np.ndarray  # (H, W, 3) when organised (height > 1), else (N, 3); float64, may hold NaN
    labels: np.ndarray | None  # same leading shape as points, int64; None when the cloud has no label field
    frame_id: str


def is_empty(msg: PointCloud2) -> bool:
    return msg.width * msg.height == 0


def _dtype(msg: PointCloud2, names: list[str]) -> np.dtype:
    endian = ">" if msg.is_bigendian else "<"
    by_name = {f.name: f for f in msg.fields}
    spec = {"names": [], "formats": [], "offsets": [], "itemsize": msg.point_step}
    for name in names:
        f = by_name[name]
        if f.datatype not in _FIELD_DTYPES:
            raise CloudFormatError(f"field '{name}' has unknown datatype {f.datatype}")
        if f.count not in (0, 1):
            raise CloudFormatError(f"field '{name}' has count {f.count}; only scalar fields are read")
        spec["names"].append(name)
        spec["formats"].append(np.dtype(_FIELD_DTYPES[f.datatype]).newbyteorder(endian))
        spec["offsets"].append(f.offset)
    return np.dtype(spec)


def cloud_to_arrays(msg: PointCloud2) -> CloudArrays:
    names = {f.name for f in msg.fields}
    missing = [n for n in ("x", "y", "z") if n not in names]
    if missing:
        raise CloudFormatError(f"PointCloud2 lacks field(s) {missing}; has {sorted(names)}")
    label_name = next((n for n in _LABEL_FIELDS if n in names), None)
    wanted = ["x", "y", "z"] + ([label_name] if label_name else [])
    dtype = _dtype(msg, wanted)
    if msg.point_step * msg.width > msg.row_step or msg.row_step * msg.height > len(msg.data):
        raise CloudFormatError(
            f"PointCloud2 sizes disagree: width {msg.width} x point_step {msg.point_step}, "
            f"row_step {msg.row_step} x height {msg.height}, {len(msg.data)} data bytes"
        )
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.row_step * msg.height]
    rows = buf.reshape(msg.height, msg.row_step)[:, : msg.point_step * msg.width]
    rec = np.ascontiguousarray(rows).view(dtype).reshape(msg.height, msg.width)
    points = np.stack([rec["x"], rec["y"], rec["z"]], axis=-1).astype(np.float64)
    labels = rec[label_name].astype(np.int64) if label_name else None
    if msg.height == 1:
        points = points.reshape(-1, 3)
        labels = labels.reshape(-1) if labels is not None else None
    return CloudArrays(points=points, labels=labels, frame_id=msg.header.frame_id)


def arrays_to_cloud(points: np.ndarray, header: Header | None = None, labels: np.ndarray | None = None) -> PointCloud2:
    """Pack (N, 3) or organised (H, W, 3) points (+ optional int labels) as float32 xyz (+ int32 label)."""
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 3:
        raise ValueError(f"points must be (N, 3) or (H, W, 3), got {np.shape(points)}")
    height, width = pts.shape[:2]
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    formats = [np.float32] * 3
    if labels is not None:
        lab = np.asarray(labels, dtype=np.int32).reshape(height, width)
        fields.append(PointField(name="label", offset=12, datatype=PointField.INT32, count=1))
        formats.append(np.int32)
    rec = np.zeros((height, width), dtype={"names": [f.name for f in fields], "formats": formats})
    for i, n in enumerate("xyz"):
        rec[n] = pts[..., i]
    if labels is not None:
        rec["label"] = lab
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = height, width
    msg.fields = fields
    msg.is_bigendian = False
    msg.point_step = rec.dtype.itemsize
    msg.row_step = msg.point_step * width
    msg.is_dense = bool(np.isfinite(pts).all())
    msg.data = rec.tobytes()
    return msg
