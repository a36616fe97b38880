"""Flowscope: an OpenTelemetry-native telemetry backend for workflow executions."""

__version__ = "0.1.0"
