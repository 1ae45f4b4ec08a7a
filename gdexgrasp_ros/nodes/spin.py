"""Starting, spinning and stopping a node, the same way for every node: SIGINT and SIGTERM exit 0.

rclpy's own signal handling (rclpy 7.1, Jazzy) shuts the context down from its signal thread at
once, while the executor builds its wait set and callbacks publish on worker threads (an RCLError
"context is not valid" and a traceback, or a KeyboardInterrupt in the middle of the constructor);
and rclpy's Executor.shutdown() returns without waiting for running callbacks (its wait is
skipped) and MultiThreadedExecutor never stops its threads, so destroy_node ran under live
callbacks (SIGSEGV). Here instead:

1. SIGINT and SIGTERM only set a process-wide flag, `shutdown_requested()` (while the node is
   being constructed they also raise KeyboardInterrupt there: exit 0 at once);
2. the spin loop sees it within POLL_SECONDS and stops taking new work; callbacks already running
   finish (long ones consult `shutdown_requested()`, e.g. in a goal's should_cancel, and end early)
   and the tasks they leave behind (an action result to send) still run;
3. once every worker thread is idle, the executor is shut down and its threads joined, the node
   closed (`close`, default destroy_node), and only then the context shut down.
A callback still running after `timeout` seconds is logged and the process exits 1 without
destroying what it uses (a hang or a crash are worse).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

import rclpy
from rclpy.executors import (
    ConditionReachedException,
    Executor,
    ExternalShutdownException,
    ShutdownException,
    TimeoutException,
)
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions, uninstall_signal_handlers

POLL_SECONDS = 0.1  # how often the spin loop looks at the shutdown flag (the longest a signal waits)
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_requested = threading.Event()
_state = {"signal": None, "starting": False, "installed": False}


def shutdown_requested() -> bool:
    """True once SIGINT / SIGTERM arrived (or request_shutdown() was called): long work should end."""
    return _requested.is_set()


def request_shutdown() -> None:
    """Stop spin_until_shutdown as a signal would (e.g. from a test or a lifecycle transition)."""
    _requested.set()


def _on_signal(signum, _frame) -> None:
    # Runs in the main thread between bytecodes: set the flag, no logging (its lock may be held).
    _state["signal"] = signal.Signals(signum).name
    _requested.set()
    if _state["starting"]:
        raise KeyboardInterrupt  # leave the constructor now: construct_or_exit exits 0


def take_over_signals() -> None:
    """SIGINT and SIGTERM -> shutdown_requested(), in place of rclpy's handlers (idempotent)."""
    if _state["installed"] or threading.current_thread() is not threading.main_thread():
        return
    uninstall_signal_handlers()  # rclpy's, if rclpy.init installed them (a no-op otherwise)
    for sig in SHUTDOWN_SIGNALS:
        signal.signal(sig, _on_signal)
    _state["installed"] = True


def init(args=None) -> None:
    """rclpy.init with this module's signal handling instead of rclpy's."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    take_over_signals()


class _PoolExecutor(Executor):
    """MultiThreadedExecutor's scheme (ready callbacks run on a pool of threads) with a pool this
    module can wait for and stop, and a draining mode that waits on no node's entities: no new
    message, timer, request or goal is taken after the shutdown request, while tasks (an accepted
    goal's execution, an action result to send, done callbacks) still run."""

    def __init__(self, num_threads: int):
        super().__init__()
        self._pool = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="ros_callback")
        self._running: list[tuple[object, Future]] = []  # (rclpy Task, the pool's future running it)
        self._draining = False

    def spin_once(self, timeout_sec: float | None = None) -> None:
        self._step(timeout_sec)

    def _step(self, timeout_sec: float | None) -> bool:
        """Start at most one ready callback; False when none was ready within the timeout."""
        try:
            task, _entity, _node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec,
                                                                 nodes=[] if self._draining else None)  # fmt: skip
        except (TimeoutException, ShutdownException, ExternalShutdownException, ConditionReachedException):
            started = False
        else:
            self._running.append((task, self._pool.submit(task)))
            started = True
        self._reap()
        return started

    def _reap(self) -> None:
        for item in [item for item in self._running if item[1].done()]:
            self._running.remove(item)
            task, future = item
            future.result()
            if task.done():
                task.result()  # a callback's exception ends the spin, as with MultiThreadedExecutor

    def running(self) -> int:
        """How many callbacks the worker threads are in."""
        self._reap()
        return len(self._running)

    def drain(self, deadline: float) -> None:
        """Spin until the running callbacks and the tasks they leave behind are done (or the deadline)."""
        self._draining = True
        while time.monotonic() < deadline and self.context.ok():
            busy = self.running()
            # Done only when a look found nothing ready although nothing was running before it: a
            # callback that ends during the look may have left a task (the next goal, a result).
            if not self._step(POLL_SECONDS if busy else 0.0) and not busy and not self.running():
                return

    def stop(self, deadline: float) -> bool:
        """Wait for the worker threads to be idle, then end them; False if one is still in a callback."""
        _done, busy = wait_futures([f for _, f in self._running], timeout=max(0.0, deadline - time.monotonic()))
        if busy:
            return False
        self._pool.shutdown(wait=True)
        self.shutdown(timeout_sec=0.0)  # drops the nodes, the wait-set generator and the guard conditions
        return True


def spin_until_shutdown(node: Node, num_threads: int, close: Callable[[], None] | None = None, *,
                        timeout: float = 15.0) -> None:  # fmt: skip
    """Run `node`'s callbacks on `num_threads` threads until SIGINT / SIGTERM (or the context's
    shutdown), then stop cleanly (see the module's docstring): `close` (default node.destroy_node)
    runs once no callback runs; `timeout` bounds the wait for running callbacks."""
    take_over_signals()
    executor = _PoolExecutor(num_threads)
    executor.add_node(node)
    deadline = None
    try:
        while not _requested.is_set() and executor.context.ok():
            executor.spin_once(timeout_sec=POLL_SECONDS)
        deadline = time.monotonic() + timeout
        if executor.context.ok():
            node.get_logger().info(f"shutting down ({_state['signal'] or 'requested'})")
            executor.drain(deadline)
    finally:
        _requested.set()  # also when a callback's exception ended the spin: long work ends early
        if not executor.stop(deadline or time.monotonic() + timeout):
            node.get_logger().fatal(f"{executor.running()} callback(s) still running {timeout:.0f} s after the "
                                    "shutdown request: exiting without cleanup")  # fmt: skip
            os._exit(1)  # destroying the node under a running callback would crash the process
        (close or node.destroy_node)()
        rclpy.try_shutdown()


def exit_on_bad_configuration(name: str, err: Exception) -> None:
    """A bad configuration is the user's to fix: say what, exit non-zero, no traceback."""
    rclpy.logging.get_logger(name).fatal(f"cannot start: {err}")
    rclpy.try_shutdown()
    raise SystemExit(1) from None


def construct_or_exit(name: str, factory: Callable[[], Node], config_errors: tuple[type[Exception], ...]) -> Node:
    """Build the node; a bad configuration exits 1 with a message, SIGINT / SIGTERM during start-up exit 0."""
    take_over_signals()
    _state["starting"] = True
    try:
        return factory()
    except KeyboardInterrupt:  # a signal while starting (_on_signal): not an error
        rclpy.try_shutdown()
        raise SystemExit(0) from None
    except config_errors as err:
        exit_on_bad_configuration(name, err)
    except Exception:
        if not rclpy.ok() or shutdown_requested():  # shut down while starting: not an error
            rclpy.try_shutdown()
            raise SystemExit(0) from None
        raise
    finally:
        _state["starting"] = False
