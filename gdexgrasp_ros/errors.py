"""Error codes shared by the library and the ROS action interface.

The values mirror the constants of gdexgrasp_msgs/action/SynthesizeGrasp (Result); a test
checks that both stay equal. The library raises GraspError; the action server turns it into
(error_code, error_string) of the result.
"""

from enum import IntEnum


class ErrorCode(IntEnum):
    SUCCESS = 0
    INVALID_GOAL = -1
    NO_CLOUD = -2
    EMPTY_CLOUD = -3
    NO_INSTRUCTION = -4
    TRANSFORM_FAILED = -5
    ANALYSIS_FAILED = -6
    PART_NOT_FOUND = -7
    NO_GRASP_FOUND = -8
    TIMEOUT = -9
    CANCELED = -10
    INTERNAL_ERROR = -11
    BUSY = -12
    NOT_ACTIVE = -13


class GraspError(Exception):
    """A failure with an error code that the action result reports as is."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.timings: dict[str, float] = {}  # seconds of the stages that ran before the failure

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"
