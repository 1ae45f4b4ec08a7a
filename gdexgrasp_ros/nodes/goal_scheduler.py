"""One goal executes at a time; the goal policy decides what happens to goals that arrive meanwhile.

- queue: they wait in arrival order (at most `max_queued`; beyond that they are answered BUSY);
- reject: they are answered BUSY at once;
- preempt: the running goal is asked to stop (it ends CANCELED, "preempted") and the new one runs next;
  goals still waiting are answered BUSY (only the newest goal matters).

Works on rclpy ServerGoalHandles (goal_id, execute()) from the action server's handle_accepted
callback; the execute callback asks `turned_away` / `preempted` / `withdrawn` and calls `finished`
at its end. A queued goal canceled by its client leaves the queue at once (`withdraw`) and ends
CANCELED; a queued goal whose client vanished runs when its turn comes and ends by its time limit.
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
        self._withdrawn: set[bytes] = set()

    def accepted(self, handle) -> None:
        """handle_accepted_callback: run it now, queue it, or mark it to be answered BUSY."""
        with self._lock:
            start = [handle]
            if self._running is None:
                self._running = handle
            elif self._policy() == "preempt":
                self._preempted.add(goal_key(self._running))
                start = list(self._queue)  # older waiting goals: BUSY now, only the newest runs next
                self._turned_away.update(goal_key(h) for h in start)
                self._queue.clear()
                self._queue.append(handle)
            elif self._policy() == "queue" and len(self._queue) < self._max_queued():
                self._queue.append(handle)
                start = []
            else:
                self._turned_away.add(goal_key(handle))  # its execute callback answers BUSY at once
        for h in start:
            _execute(h)

    def withdraw(self, handle) -> bool:
        """A waiting goal's client canceled it: out of the queue, executed now (it answers CANCELED)."""
        with self._lock:
            if handle not in self._queue:
                return False
            self._queue.remove(handle)
            self._withdrawn.add(goal_key(handle))
        _execute(handle)
        return True

    def withdrawn(self, handle) -> bool:
        with self._lock:
            key = goal_key(handle)
            found = key in self._withdrawn
            self._withdrawn.discard(key)
            return found

    def busy(self) -> bool:
        with self._lock:
            return self._running is not None

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
        """The running goal ended: start the next one that can start, if any."""
        with self._lock:
            self._preempted.discard(goal_key(handle))
            if self._running is not handle:
                return
            self._running = None
        while True:
            with self._lock:
                if self._running is not None or not self._queue:
                    return
                self._running = nxt = self._queue.popleft()
            if _execute(nxt):
                return
            with self._lock:  # it could not start (canceled meanwhile): the next one
                self._running = None


def _execute(handle) -> bool:
    """Start a goal's execute callback; False when rclpy refuses (a cancel raced the transition)."""
    try:
        handle.execute()
    except Exception:  # noqa: BLE001 - rclpy raises RCLError for an invalid state transition
        return False
    return True
