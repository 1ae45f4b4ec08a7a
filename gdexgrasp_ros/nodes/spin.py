"""Running a node on a MultiThreadedExecutor until Ctrl-C or shutdown, the same way for every node."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, num_threads: int, close: Callable[[], None] | None = None) -> None:
    executor = MultiThreadedExecutor(num_threads=num_threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        (close or node.destroy_node)()
        rclpy.try_shutdown()


def exit_on_bad_configuration(name: str, err: Exception) -> None:
    """A bad configuration is the user's to fix: say what, exit non-zero, no traceback."""
    rclpy.logging.get_logger(name).fatal(f"cannot start: {err}")
    rclpy.try_shutdown()
    raise SystemExit(1) from None


def construct_or_exit(name: str, factory: Callable[[], Node], config_errors: tuple[type[Exception], ...]) -> Node:
    """Build the node; a bad configuration exits 1 with a message, a Ctrl-C during start-up exits 0."""
    try:
        return factory()
    except config_errors as err:
        exit_on_bad_configuration(name, err)
    except Exception:
        if not rclpy.ok():  # shut down (SIGINT) while starting: not an error
            raise SystemExit(0) from None
        raise
