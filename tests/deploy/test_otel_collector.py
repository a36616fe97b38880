"""deploy/otel-collector.yaml, checked as pure logic (no collector binary here: none is on PyPI,
Debian or npm). It checks the config against the keys the `loadbalancing` exporter declares
(opentelemetry-collector-contrib, exporter/loadbalancingexporter: config.go's mapstructure
tags as generated into config.schema.yaml, the README for the routing keys), against the
compose file's ingest nodes, and against the token fragment deploy/bootstrap_tokens.py writes.

What it catches: a misspelled or unknown key of the exporter or its resolvers, a routing key
that is not the trace id, two resolvers or none, an `endpoint` the exporter would override, a
backend that is no ingest node's OTLP/gRPC port, a pipeline naming an undefined component, a
token fragment at a path the config lacks. What it cannot: the OTLP exporter's own keys under
`protocol.otlp` beyond those named here, the receiver's and processor's keys, value types the
collector would refuse, and whether a given collector release accepts the whole file
(`otelcol-contrib validate --config` would)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "otel-collector.yaml"
COMPOSE = REPO / "docker-compose.yml"

# exporter/loadbalancingexporter/config.schema.yaml (generated from config.go): the Config's
# keys, those of the squashed TimeoutConfig (`timeout`) and BackOffConfig (`retry_on_failure`).
EXPORTER_KEYS = {
    "protocol", "resolver", "routing_key", "routing_attributes", "sending_queue",
    "timeout", "retry_on_failure",
}  # fmt: skip
RESOLVER_KEYS = {"static", "dns", "k8s", "aws_cloud_map"}
STATIC_KEYS = {"hostnames"}
DNS_KEYS = {"hostname", "port", "interval", "timeout"}
# README: routing_key values; traceID is the one that keeps a trace on one backend (spans, logs).
ROUTING_KEYS = {"service", "traceID", "metric", "resource", "streamID", "attributes"}
# The OTLP exporter's settings used here (`endpoint` is the resolver's to fill in).
OTLP_KEYS_USED = {"timeout", "tls", "headers"}
OTLP_GRPC_PORT = 4317


def _config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())  # type: ignore[no-any-return]


def _exporter() -> dict[str, Any]:
    return _config()["exporters"]["loadbalancing"]  # type: ignore[no-any-return]


def test_the_exporter_uses_only_declared_keys() -> None:
    exporter = _exporter()
    assert set(exporter) <= EXPORTER_KEYS, set(exporter) - EXPORTER_KEYS
    resolver = exporter["resolver"]
    assert set(resolver) <= RESOLVER_KEYS and len(resolver) == 1, "exactly one resolver"
    if "static" in resolver:
        assert set(resolver["static"]) <= STATIC_KEYS
    if "dns" in resolver:
        assert set(resolver["dns"]) <= DNS_KEYS
    otlp = exporter["protocol"]["otlp"]
    assert set(exporter["protocol"]) == {"otlp"}
    assert "endpoint" not in otlp, "the exporter overrides it with each backend's"
    assert set(otlp) <= OTLP_KEYS_USED
    assert otlp["tls"] == {"insecure": True}  # the nodes' gRPC port is plaintext


def test_it_routes_spans_and_logs_by_trace_id() -> None:
    exporter = _exporter()
    # Set explicitly: newer releases default to `service` for logs.
    assert exporter["routing_key"] == "traceID" and exporter["routing_key"] in ROUTING_KEYS
    assert "routing_attributes" not in exporter  # only meaningful with routing_key: attributes
    pipelines = _config()["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs"}
    for pipeline in pipelines.values():
        assert pipeline["exporters"] == ["loadbalancing"]


def test_every_pipeline_names_defined_components() -> None:
    config = _config()
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                assert name in config[kind], f"{kind} {name} is not defined"
    grpc, http = (config["receivers"]["otlp"]["protocols"][p]["endpoint"] for p in ("grpc", "http"))
    assert grpc.endswith(":4317") and http.endswith(":4318")


def test_the_backends_are_the_ingest_nodes_otlp_grpc_ports() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    ingest = sorted(name for name, s in services.items() if s.get("command") == ["--role", "ingest"])
    assert len(ingest) == 2, ingest
    hostnames = _exporter()["resolver"]["static"]["hostnames"]
    assert hostnames == [f"{name}:{OTLP_GRPC_PORT}" for name in ingest]
    collector = services["otel-collector"]
    assert "./deploy/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro" in collector["volumes"]


def test_the_token_fragment_lands_on_the_exporters_otlp_settings() -> None:
    spec = importlib.util.spec_from_file_location("bootstrap_tokens", REPO / "deploy" / "bootstrap_tokens.py")
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    secret = 'fst_a"b\\c: d'  # quotes, a backslash and a colon survive as YAML
    fragment = yaml.safe_load(bootstrap.collector_auth(secret))
    headers = fragment["exporters"]["loadbalancing"]["protocol"]["otlp"]["headers"]
    assert headers == {"authorization": f"Bearer {secret}"}
    # the collector merges it into the same exporter (a path the config has, a key it allows)
    assert "otlp" in _exporter()["protocol"] and "headers" in OTLP_KEYS_USED
    collector = yaml.safe_load(COMPOSE.read_text())["services"]["otel-collector"]
    assert f"--config=/run/flowscope-secrets/{bootstrap.COLLECTOR_AUTH}" in collector["command"]
