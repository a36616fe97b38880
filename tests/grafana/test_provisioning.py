"""Provisioning lint: YAML parses, uids are unique and resolve, paths match compose; compose validates."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.grafana.support import (
    DASHBOARDS,
    GRAFANA,
    INFINITY_UID,
    JAEGER_UID,
    PROMETHEUS_UID,
    REPO,
    load_dashboards,
    panels,
    require_binary,
    targets,
)

COMPOSE = REPO / "docker-compose.yml"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _datasources() -> list[dict[str, Any]]:
    found = []
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml")):
        doc = _yaml(path)
        assert doc["apiVersion"] == 1
        found.extend(doc["datasources"])
    return found


def _compose() -> dict[str, Any]:
    return _yaml(COMPOSE)  # type: ignore[no-any-return]


def _mounts(service: str) -> dict[str, str]:
    """container path -> host path (or volume name) of a compose service's volumes."""
    out = {}
    for volume in _compose()["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


def test_all_yaml_parses() -> None:
    files = [*(GRAFANA / "provisioning").rglob("*.y*ml"), REPO / "deploy" / "prometheus.yml", COMPOSE]
    assert len(files) >= 4
    for path in files:
        assert _yaml(path), path


def test_datasource_uids_unique_and_as_dashboards_expect() -> None:
    sources = _datasources()
    uids = [d["uid"] for d in sources]
    assert len(uids) == len(set(uids))
    by_uid = {d["uid"]: d for d in sources}
    assert by_uid[PROMETHEUS_UID]["type"] == "prometheus"
    assert by_uid[JAEGER_UID]["type"] == "jaeger"
    assert by_uid[INFINITY_UID]["type"] == "yesoreyeram-infinity-datasource"
    assert sum(bool(d.get("isDefault")) for d in sources) == 1


def test_datasources_point_at_compose_services() -> None:
    services = _compose()["services"]
    by_uid = {d["uid"]: d for d in _datasources()}
    assert by_uid[PROMETHEUS_UID]["url"] == "http://prometheus:9090"
    assert "9090:9090" in services["prometheus"]["ports"]
    for uid in (JAEGER_UID, INFINITY_UID):
        assert by_uid[uid]["url"] == "http://backend:8000", uid
    assert "8000:8000" in services["backend"]["ports"]
    jaeger = by_uid[JAEGER_UID]
    headers = {
        jaeger["jsonData"][k]: jaeger["secureJsonData"][k.replace("Name", "Value")]
        for k in jaeger["jsonData"]
        if k.startswith("httpHeaderName")
    }
    assert "X-Workspace-Slug" in headers and headers["Authorization"].startswith("Bearer ")
    infinity = by_uid[INFINITY_UID]
    assert infinity["url"] in infinity["jsonData"]["allowedHosts"]
    # Every file Grafana reads at provisioning ($__file{...}) is on a volume mounted into grafana.
    mounts = _mounts("grafana")
    values = [str(v) for d in _datasources() for v in (d.get("secureJsonData") or {}).values()]
    files = [path for value in values for path in re.findall(r"\$__file\{([^}]+)\}", value)]
    assert files, "the data sources read the backend's token from a file"
    for path in files:
        mount = next((m for m in mounts if path.startswith(m.rstrip("/") + "/")), None)
        assert mount, f"{path} is not on a volume mounted into grafana: {mounts}"
        assert mounts[mount] in _mounts("backend").values(), "the backend writes the token to the same volume"


def test_dashboard_uids_unique_and_datasources_exist() -> None:
    dashboards = load_dashboards()
    assert {d["uid"] for d in dashboards.values()} == {
        "flowscope-workflows",
        "flowscope-execution",
        "flowscope-collector",
    }
    assert len(DASHBOARDS) == 3
    known = {d["uid"] for d in _datasources()}
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            ds = panel.get("datasource")
            if ds and panel["type"] != "row":
                assert ds["uid"] in known, f"{name} / {panel['title']}: {ds}"
        for target in targets({name: dashboard}):
            assert target.datasource_uid in known, f"{name} / {target.where}: {target.datasource_uid}"
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"


def test_dashboard_links_resolve() -> None:
    dashboards = load_dashboards()
    uids = {d["uid"] for d in dashboards.values()}
    text = "".join(p.read_text() for p in DASHBOARDS)
    linked = set(re.findall(r"/d/([\w-]+)/", text))
    assert linked and linked <= uids
    drill = next(d for d in dashboards.values() if d["uid"] == "flowscope-execution")
    assert "execution_id" in {v["name"] for v in drill["templating"]["list"]}
    assert any(p["type"] == "traces" and p["datasource"]["uid"] == JAEGER_UID for p in panels(drill))
    for dashboard in dashboards.values():
        names = {v["name"] for v in dashboard["templating"]["list"]}
        if dashboard["uid"] != "flowscope-collector":
            assert "workspace" in names
    overview = next(d for d in dashboards.values() if d["uid"] == "flowscope-workflows")
    assert {v["name"] for v in overview["templating"]["list"]} == {"workspace", "workflow"}


def test_provider_paths_match_compose_mounts() -> None:
    mounts = _mounts("grafana")
    assert Path(mounts["/etc/grafana/provisioning"]).resolve() == (
        REPO / "grafana" / "provisioning"
    ).resolve() or (mounts["/etc/grafana/provisioning"] == "./grafana/provisioning")
    for path in (GRAFANA / "provisioning" / "dashboards").glob("*.y*ml"):
        for provider in _yaml(path)["providers"]:
            target = provider["options"]["path"]
            assert mounts.get(target) == "./grafana/dashboards", (
                f"provider path {target} is not mounted: {mounts}"
            )
    home = _compose()["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    directory, _, filename = home.rpartition("/")
    assert mounts[directory] == "./grafana/dashboards" and (GRAFANA / "dashboards" / filename).exists()


def test_compose_services() -> None:
    services = _compose()["services"]
    backend, grafana = services["backend"], services["grafana"]
    assert backend["build"] == "." and (REPO / "Dockerfile").exists()
    assert "/healthz" in " ".join(backend["healthcheck"]["test"])
    assert {"4317:4317", "4318:4318", "8000:8000"} <= set(backend["ports"])
    assert "/var/lib/flowscope" in _mounts("backend")
    env = backend["environment"]
    assert env["FLOWSCOPE_HOST"] == "0.0.0.0" and env["FLOWSCOPE_AUTH"] == "token"
    assert _mounts("prometheus")["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus.yml"
    scrape = _yaml(REPO / "deploy" / "prometheus.yml")["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["backend:8000"] and scrape["metrics_path"] == "/metrics"
    image, _, tag = grafana["image"].partition(":")
    assert image == "grafana/grafana" and re.fullmatch(r"\d+\.\d+\.\d+", tag), "pin Grafana's version"
    genv = grafana["environment"]
    # GF_INSTALL_PLUGINS is deprecated (Grafana 12+ packaging/docker/run.sh): preinstall_sync, id@version
    assert re.fullmatch(r"yesoreyeram-infinity-datasource@\d+\.\d+\.\d+", genv["GF_PLUGINS_PREINSTALL_SYNC"])
    assert genv["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and genv["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


@pytest.mark.parametrize("profile", [(), ("--profile", "scale")], ids=["default", "scale"])
def test_docker_compose_config_validates(profile: tuple[str, ...]) -> None:
    """The default stack, and with the `scale` profile's lake services (tests/deploy/ checks
    what the profile holds)."""
    binary = require_binary("docker-compose", "docker-compose")
    done = subprocess.run(
        [binary, "-f", str(COMPOSE), *profile, "config", "-q"], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
