"""The compose stack's auth story, without Docker: the entrypoint's token bootstrap, then a
token-auth server answering Grafana's data sources exactly as they are provisioned."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.grafana.support import GRAFANA, INFINITY_UID, JAEGER_UID, REPO
from tests.support.server import start_server

BOOTSTRAP = REPO / "deploy" / "bootstrap_tokens.py"


def _headers(datasource: dict, secrets_dir: Path) -> dict[str, str]:
    """The HTTP headers Grafana sends for a provisioned data source ($__file and env expanded)."""
    out = {}
    for key, name in datasource.get("jsonData", {}).items():
        if key.startswith("httpHeaderName"):
            value = datasource["secureJsonData"][key.replace("Name", "Value")]
            value = value.replace("${FLOWSCOPE_WORKSPACE_SLUG}", "default")
            if "$__file{" in value:
                path = value.split("$__file{", 1)[1].split("}", 1)[0]
                content = (secrets_dir / Path(path).name).read_text()
                value = value.replace(f"$__file{{{path}}}", content)
            out[name] = value
    return out


def test_bootstrapped_tokens_open_the_data_sources(tmp_path: Path) -> None:
    db, secrets_dir = tmp_path / "flowscope.duckdb", tmp_path / "secrets"
    env = {**os.environ, "FLOWSCOPE_DB": str(db), "FLOWSCOPE_SECRETS_DIR": str(secrets_dir)}
    for _ in range(2):  # the second start keeps the tokens it finds valid
        subprocess.run([sys.executable, str(BOOTSTRAP)], env=env, check=True, cwd=REPO, timeout=60)
    first = (secrets_dir / "grafana-viewer.token").read_text()
    assert first and "\n" not in first
    sources = {
        d["uid"]: d
        for d in yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "flowscope.yaml").read_text())[
            "datasources"
        ]
    }
    server = start_server(db, "--auth", "token")
    try:
        jaeger = _headers(sources[JAEGER_UID], secrets_dir)
        assert set(jaeger) == {"X-Workspace-Slug", "Authorization"}
        assert server.get("/api/services", headers=jaeger).status_code == 200
        refused = server.get("/api/services")
        assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == 401
        infinity = _headers(sources[INFINITY_UID], secrets_dir)
        assert server.get("/api/grafana/executions", headers=infinity).status_code == 200
        assert server.get("/api/grafana/executions").status_code == 401
        assert server.get("/metrics").status_code == 200  # Prometheus scrapes without a token
        ingest = (secrets_dir / "ingest-editor.token").read_text()
        body = server.post(
            "/api/workflows",
            json={"definition": {"name": "x", "steps": []}},
            headers={"Authorization": f"Bearer {ingest}"},
        )
        assert body.status_code != 401 and body.status_code != 403, body.text  # an editor token
        assert server.post("/api/workflows", json={}, headers=jaeger).status_code == 403  # viewer only
    finally:
        server.terminate()
