"""gdexgrasp: task-oriented dexterous grasp synthesis (G-DexGrasp) for ROS 2."""

__version__ = "0.1.0"
