"""The committed web UI build (api/ui_static) matches its committed source (ui/).

`make run` needs no Node.js because the build output is committed. ui/scripts/postbuild.mjs
records the sha256 of every source file (including package-lock.json) and of every output
file in build-manifest.json; this test recomputes both, so a change to the source without
a rebuild, or a hand edit of the output, fails here. To rebuild:
`cd ui && npm ci && npm run build`, then commit ui/ and api/ui_static/.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flowscope.api.webui import STATIC_DIR

UI = Path(__file__).resolve().parents[2] / "ui"
SKIP = {"node_modules", "dist"}  # as in postbuild.mjs
MANIFEST = "build-manifest.json"
REBUILD = "rebuild with `cd ui && npm ci && npm run build` and commit ui/ and api/ui_static/"


def _digests(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIP.intersection(rel.parts):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _compare(actual: dict[str, str], recorded: dict[str, str], what: str) -> None:
    changed = sorted(k for k in actual.keys() & recorded.keys() if actual[k] != recorded[k])
    added = sorted(actual.keys() - recorded.keys())
    missing = sorted(recorded.keys() - actual.keys())
    assert not (changed or added or missing), (
        f"{what} differs from the build manifest: changed {changed}, new {added}, "
        f"missing {missing}; {REBUILD}"
    )


def test_the_committed_build_matches_its_source() -> None:
    manifest = json.loads((STATIC_DIR / MANIFEST).read_text(encoding="utf-8"))
    _compare(_digests(UI), manifest["source"], "ui/ (the source)")
    output = {k: v for k, v in _digests(STATIC_DIR).items() if k != MANIFEST}
    _compare(output, manifest["output"], "api/ui_static/ (the build)")


def test_the_build_ships_the_licences_of_what_it_bundles() -> None:
    notices = (STATIC_DIR / "licenses" / "THIRD-PARTY-LICENSES.txt").read_text(encoding="utf-8")
    for library in ("preact", "echarts", "zrender", "tslib"):
        assert f"\n{library} " in notices or notices.startswith(f"{library} "), library
    vendor = {p.parent.name.rsplit("-", 1)[0] for p in (STATIC_DIR / "vendor").glob("*/LICENSE")}
    assert vendor == {"swagger-ui-dist", "redoc"}
    lock = json.loads((UI / "package-lock.json").read_text(encoding="utf-8"))
    for name in ("echarts", "preact", "swagger-ui-dist", "redoc"):
        assert (
            lock["packages"][""]["dependencies"][name] == lock["packages"][f"node_modules/{name}"]["version"]
        ), f"{name} is not pinned to an exact version in ui/package.json"
