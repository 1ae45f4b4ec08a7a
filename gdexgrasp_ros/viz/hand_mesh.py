"""The human hand's surface posed as a grasp says, for markers and renders (ROS-free).

The OpenHand takes ~2 s to build, so HandMeshPoser builds it on a background thread at
construction and waits for it (bounded) on first use; close() waits for the build to finish
(the interpreter exiting under the mesh build's C++ code aborts the process).
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from ..geometry.rotations import matrix_to_rot6d


class HandMeshPoser:
    def __init__(self, build: bool = True):
        self._hand = None
        self.error = ""
        self._ready = threading.Event()
        # Not a daemon: killing it inside the mesh build's C++ code at exit aborts the process.
        self._thread = threading.Thread(target=self._build, name="open_hand_build")
        if build:
            self._thread.start()
        else:
            self.error = "hand meshes are disabled"
            self._ready.set()

    def _build(self) -> None:
        from ..hand.open_hand import OpenHand

        try:
            self._hand = OpenHand()
        except Exception as err:  # noqa: BLE001 - meshes are optional: report and go on without them
            self.error = f"cannot build the OpenHand: {err!r}"
        finally:
            self._ready.set()

    def pose(self, wrist: np.ndarray, joint_names, joints, wait: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
        """(vertices (V, 3), faces (F, 3)) of the OpenHand at a 4x4 wrist pose and joint angles;
        ValueError saying why when that is not possible."""
        if not self._ready.wait(timeout=wait) or self._hand is None:
            raise ValueError(self.error or "the hand model is still being built")
        hand = self._hand
        if list(joint_names) and list(joint_names) != list(hand.joint_names):
            raise ValueError("joint names differ from the OpenHand's")
        q = np.asarray(joints, dtype=float)
        if q.shape != (hand.dof,) or not np.isfinite(q).all():
            raise ValueError(f"needs {hand.dof} finite joint positions, got {q.shape[0] if q.ndim else 0}")
        T = np.asarray(wrist, dtype=float)
        with torch.no_grad():
            out = hand.forward(matrix_to_rot6d(torch.as_tensor(T[:3, :3], dtype=torch.float32)[None]),
                               torch.as_tensor(T[:3, 3], dtype=torch.float32)[None],
                               torch.as_tensor(q, dtype=torch.float32)[None])  # fmt: skip
        return out.vertices[0].numpy().astype(float), hand.faces.numpy()

    def close(self, on_interrupt=None) -> None:
        """Wait for the background build (a few seconds at most). A further Ctrl-C (a launcher
        forwards its own SIGINT too) must not cut the wait short."""
        while self._thread.is_alive():
            try:
                self._ready.wait(0.2)
                self._thread.join(timeout=0.2)
            except KeyboardInterrupt:
                if on_interrupt is not None:
                    on_interrupt()
