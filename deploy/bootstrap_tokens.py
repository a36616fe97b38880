"""Container entrypoint step: make sure the tokens the compose stack needs exist.

Binding to a non-loopback address forces token auth (DESIGN.md), so Grafana needs a
viewer token and OTLP clients on the host need an editor token. On first start each
is created in the store and its secret written to SECRETS_DIR (a volume Grafana
mounts read-only); on later starts a file whose token still verifies is kept.

The store is the one `serve` would open from the same environment (FLOWSCOPE_STORE,
FLOWSCOPE_DB, FLOWSCOPE_DATA_PATH). On the DuckDB file this runs before `flowscope serve`
opens it (DuckDB allows one process per file). On a lake (docker-compose's `scale` profile)
it runs once, as its own service, before any node starts: it creates the lake, so nodes
never race to create it, and writes the tokens every node then verifies from the lake. There
it also writes `otelcol-auth.yaml`, the OpenTelemetry Collector config fragment that sets the
editor token on the collector's exports to the ingest nodes (the collector merges it with
deploy/otel-collector.yaml).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from flowscope.api.auth import create_token, verify_token
from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID

from flowscope.compose import open_configured_store, store_target
from flowscope.startup_errors import load_settings

TOKENS = (("grafana-viewer.token", "viewer", "grafana"), ("ingest-editor.token", "editor", "otlp-ingest"))
EDITOR_TOKEN = "ingest-editor.token"
COLLECTOR_AUTH = "otelcol-auth.yaml"


def collector_auth(secret: str) -> str:
    """The collector config fragment carrying the editor token on the load-balancing
    exporter's OTLP/gRPC exports (`protocol.otlp.headers`: the OTLP exporter's headers; JSON is
    YAML, and quotes the secret safely)."""
    headers = {"authorization": f"Bearer {secret}"}
    doc = {"exporters": {"loadbalancing": {"protocol": {"otlp": {"headers": headers}}}}}
    return json.dumps(doc, indent=2) + "\n"


def main() -> None:
    settings = load_settings({})
    secrets_dir = Path(os.environ.get("FLOWSCOPE_SECRETS_DIR", "/run/flowscope-secrets"))
    workspace = os.environ.get("FLOWSCOPE_TOKEN_WORKSPACE", DEFAULT_WORKSPACE_ID)
    secrets_dir.mkdir(parents=True, exist_ok=True)
    store = open_configured_store(settings)
    try:
        for filename, role, name in TOKENS:
            path = secrets_dir / filename
            if path.exists() and verify_token(store.catalog, path.read_text().strip()) is not None:
                continue
            secret, token = create_token(store.catalog, workspace, role, name)
            path.write_text(secret)  # no newline: Grafana's $__file{} inlines the content as is
            path.chmod(0o644)  # Grafana's and the collector's containers run as other users
            print(f"created {role} token {token.id} for workspace {workspace!r}: {path}", file=sys.stderr)
    finally:
        store.close()
    if store_target(settings).lake is not None:
        auth = secrets_dir / COLLECTOR_AUTH
        auth.write_text(collector_auth((secrets_dir / EDITOR_TOKEN).read_text().strip()))
        auth.chmod(0o644)


if __name__ == "__main__":
    main()
