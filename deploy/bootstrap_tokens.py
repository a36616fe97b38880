"""Container entrypoint step: make sure the tokens the compose stack needs exist.

Binding to a non-loopback address forces token auth (DESIGN.md), so Grafana needs a
viewer token and OTLP clients on the host need an editor token. On first start each
is created in the database and its secret written to SECRETS_DIR (a volume Grafana
mounts read-only); on later starts a file whose token still verifies is kept.
Runs before `flowscope serve` opens the database (DuckDB allows one process per file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flowscope.api.auth import create_token, verify_token
from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID
from flowscope.storage.duckdb.store import Store

TOKENS = (("grafana-viewer.token", "viewer", "grafana"), ("ingest-editor.token", "editor", "otlp-ingest"))


def main() -> None:
    db = Path(os.environ.get("FLOWSCOPE_DB", "/var/lib/flowscope/flowscope.duckdb"))
    secrets_dir = Path(os.environ.get("FLOWSCOPE_SECRETS_DIR", "/run/flowscope-secrets"))
    workspace = os.environ.get("FLOWSCOPE_TOKEN_WORKSPACE", DEFAULT_WORKSPACE_ID)
    secrets_dir.mkdir(parents=True, exist_ok=True)
    store = Store(db)
    try:
        for filename, role, name in TOKENS:
            path = secrets_dir / filename
            if path.exists() and verify_token(store.catalog, path.read_text().strip()) is not None:
                continue
            secret, token = create_token(store.catalog, workspace, role, name)
            path.write_text(secret)  # no newline: Grafana's $__file{} inlines the content as is
            path.chmod(0o644)  # Grafana's container runs as another user
            print(f"created {role} token {token.id} for workspace {workspace!r}: {path}", file=sys.stderr)
    finally:
        store.close()


if __name__ == "__main__":
    main()
