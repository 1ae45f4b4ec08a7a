"""One goal executes at a time; the goal policy decides what happens to goals that arrive meanwhile.

- queue: they wait in arrival order (at most `max_queued`; beyond that they are answered BUSY);
- reject: they are answered BUSY at once;
- preempt: the running goal is asked to stop (it ends CANCELED, "preempted") and the new one runs next.

Works on rclpy ServerGoalHandles (goal_id, execute()) from the action server's handle_accepted
callback; the execute callback asks `turned_away` / `preempted` and calls `finished` at its end.
A queued goal whose client vanished is still executed: it ends by its own time limit, or at once
when it was canceled meanwhile.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


def goal_key(handle) -> bytes:
    return bytes(handle.goal_id.uuid)


class GoalScheduler:
    def __init__(self, policy: Callable[[], str], max_queued: Callable[[], int]):
        self._policy, self._max_queued = policy, max_queued
        self._lock = threading.Lock()
        self._running = None
        self._queue: deque = deque()
        self._turned_away: set[bytes] = set()
        self._preempted: set[bytes] = set()

    def accepted(self, handle) -> None:
        """handle_accepted_callback: run it now, queue it, or mark it to be answered BUSY."""
        with self._lock:
            start = handle
            if self._running is None:
                self._running = handle
            elif self._policy() == "preempt":
                self._preempted.add(goal_key(self._running))
                self._queue.appendleft(handle)
                start = None
            elif self._policy() == "queue" and len(self._queue) < self._max_queued():
                self._queue.append(handle)
                start = None
            else:
                self._turned_away.add(goal_key(handle))  # its execute callback answers BUSY at once
        if start is not None:
            start.execute()

    def turned_away(self, handle) -> bool:
        with self._lock:
            key = goal_key(handle)
            if key in self._turned_away:
                self._turned_away.discard(key)
                return True
            return False

    def preempted(self, handle) -> bool:
        with self._lock:
            return goal_key(handle) in self._preempted

    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    def finished(self, handle) -> None:
        """The running goal ended: start the next one, if any."""
        with self._lock:
            self._preempted.discard(goal_key(handle))
            if self._running is not handle:
                return
            self._running = self._queue.popleft() if self._queue else None
            nxt = self._running
        if nxt is not None:
            nxt.execute()
