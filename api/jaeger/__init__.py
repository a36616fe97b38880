"""Jaeger's query API (the one Grafana's Jaeger data source and the Jaeger UI call)."""
