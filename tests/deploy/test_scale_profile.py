"""docker-compose.yml's `scale` profile and the image it builds, as pure logic plus Debian's
`docker-compose config` (no Docker daemon here: the image is not built). It checks what the
profile must hold together: one lake URL and data volume for every lake service, the roles,
the lake extra and its pins in the image, the default services left as they were, and host
ports that do not collide when both sets run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from deploy.requirements import requirements
from tests.grafana.support import require_binary

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DEFAULT_SERVICES = {"backend", "prometheus", "grafana"}
LAKE_SERVICES = {"lake-init", "ingest-1", "ingest-2", "query", "maintain"}
LAKE_BUILD_ARGS = {"FLOWSCOPE_EXTRAS": "lake", "FLOWSCOPE_CONSTRAINTS": "constraints-lake.txt"}


def _config(*profile: str) -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors merged, variables substituted)."""
    binary = require_binary("docker-compose", "docker-compose")
    done = subprocess.run(
        [binary, "-f", str(COMPOSE), *profile, "config"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


def test_the_default_services_stay_out_of_the_profile() -> None:
    scale = _config("--profile", "scale")["services"]
    # (docker-compose 1.29's `config` lists every service, whatever the profiles given)
    assert {name for name, s in scale.items() if "profiles" not in s} == DEFAULT_SERVICES
    assert set(scale) == DEFAULT_SERVICES | LAKE_SERVICES | {"catalog", "otel-collector"}
    backend = scale["backend"]
    assert backend["build"] == {"context": str(REPO)} and backend["image"] == "flowscope:local"
    assert "profiles" not in backend


def test_every_lake_service_opens_the_same_lake_from_the_lake_image() -> None:
    services = _config("--profile", "scale")["services"]
    stores = set()
    for name in LAKE_SERVICES:
        service = services[name]
        assert service["profiles"] == ["scale"], name
        assert service["image"] == "flowscope:lake", name
        assert service["build"]["args"] == LAKE_BUILD_ARGS, name
        env = service["environment"]
        stores.add((env["FLOWSCOPE_STORE"], env["FLOWSCOPE_DATA_PATH"]))
        assert "flowscope-lake:/lake:rw" in service["volumes"], name
    ((store, data_path),) = stores
    assert store.startswith("ducklake:postgres:") and "host=catalog" in store and data_path == "/lake"
    catalog = services["catalog"]["environment"]
    assert f"dbname={catalog['POSTGRES_DB']}" in store and f"user={catalog['POSTGRES_USER']}" in store
    assert f"password={catalog['POSTGRES_PASSWORD']}" in store


def test_roles_commands_and_start_order() -> None:
    services = _config("--profile", "scale")["services"]
    for name, role in (("ingest-1", "ingest"), ("ingest-2", "ingest"), ("query", "query")):
        assert services[name]["entrypoint"] == ["flowscope", "serve"]
        assert services[name]["command"] == ["--role", role]
        # bound to 0.0.0.0 inside the network: token auth, with lake-init's tokens
        assert services[name]["environment"]["FLOWSCOPE_AUTH"] == "token"
        assert services[name]["depends_on"] == {"lake-init": {"condition": "service_completed_successfully"}}
    assert services["maintain"]["entrypoint"] == ["flowscope", "maintain"]
    assert services["maintain"]["healthcheck"] == {"test": ["NONE"]}  # (disable: true) no HTTP port
    init = services["lake-init"]
    assert init["entrypoint"] == ["python", "/app/deploy/bootstrap_tokens.py"]
    assert init["depends_on"] == {"catalog": {"condition": "service_healthy"}}
    assert "flowscope-lake-secrets:/run/flowscope-secrets:rw" in init["volumes"]
    assert "flowscope-lake-secrets:/run/flowscope-secrets:ro" in services["otel-collector"]["volumes"]


def test_no_two_services_publish_one_host_port() -> None:
    published: dict[str, str] = {}
    for name, service in _config("--profile", "scale")["services"].items():
        for port in service.get("ports", []):
            host = str(port["published"] if isinstance(port, dict) else port.split(":")[0])
            assert host not in published, f"{name} and {published[host]} both publish {host}"
            published[host] = name


def test_the_image_installs_the_lake_extra_pinned() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    # The defaults build the image as before: the project's dependencies, constraints.txt.
    assert 'ARG FLOWSCOPE_EXTRAS=""' in dockerfile
    assert "ARG FLOWSCOPE_CONSTRAINTS=constraints.txt" in dockerfile
    assert re.search(r"requirements\.py .*pyproject\.toml \"\$FLOWSCOPE_EXTRAS\"", dockerfile)
    assert dockerfile.count('-c "/tmp/flowscope/$FLOWSCOPE_CONSTRAINTS"') == 2  # dependencies and wheel
    for extras, constraints in (("", "constraints.txt"), ("lake", "constraints-lake.txt")):
        assert f" {constraints} " in dockerfile.split("COPY pyproject.toml", 1)[1].splitlines()[0] + " "
        pins = _pins(REPO / constraints)
        wanted = requirements(REPO / "pyproject.toml", extras)
        unpinned = [r for r in wanted if _name(r) not in pins]
        assert not unpinned, f"{constraints} pins none of {unpinned}"
    lake = {_name(r) for r in requirements(REPO / "pyproject.toml", "lake")}
    assert {"duckdb-extension-ducklake", "duckdb-extension-postgres"} <= lake
    assert _pins(REPO / "constraints-lake.txt")["duckdb"] == "1.5.5"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {_name(line): line.split("==", 1)[1] for line in lines if "==" in line}
