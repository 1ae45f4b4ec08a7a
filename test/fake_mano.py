"""A fake MANO_RIGHT.pkl (random geometry, MANO's array shapes, chumpy-pickled) for tests that need one."""

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
V = 778


class _FakeCh:
    """Pickles like a chumpy array: class chumpy.ch.Ch with the data in its state's 'x'."""

    def __init__(self, x):
        self.x = x


def _fake_model(rng):
    weights = rng.random((V, 16)) ** 4
    jreg = rng.random((16, V)) * (rng.random((16, V)) < 0.05)
    comps = np.linalg.qr(rng.normal(size=(45, 45)))[0]
    return {
        "v_template": rng.normal(0, 0.05, (V, 3)),
        "f": rng.integers(0, V, (1538, 3)).astype(np.uint32),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array([[2**32 - 1] + PARENTS[1:], list(range(16))], dtype=np.int64),
        "J_regressor": scipy.sparse.csc_matrix(jreg / jreg.sum(1, keepdims=True)),
        "shapedirs": _FakeCh(rng.normal(0, 0.01, (V, 3, 10))),
        "posedirs": rng.normal(0, 0.005, (V, 3, 135)),
        "hands_components": comps,
        "hands_mean": rng.normal(0, 0.1, 45),
        "bs_type": "lrotmin",
    }


def write_fake_mano(path: Path, seed: int = 7) -> Path:
    """Pickle a fake model as MANO ships it (chumpy arrays, protocol 2) without chumpy installed."""
    rng = np.random.default_rng(seed)
    chumpy, chumpy_ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
    _FakeCh.__module__, _FakeCh.__qualname__, _FakeCh.__name__ = "chumpy.ch", "Ch", "Ch"
    chumpy_ch.Ch = _FakeCh
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy_ch})
    try:
        with Path(path).open("wb") as fh:
            pickle.dump(_fake_model(rng), fh, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    return Path(path)
