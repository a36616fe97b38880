"""Jaeger query API v3 over HTTP (OTLP JSON), as Jaeger v2's api_v3 gateway serves it."""
