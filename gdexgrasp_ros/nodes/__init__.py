"""Thin ROS 2 adapters: message conversion, parameters, and calls into the library."""
