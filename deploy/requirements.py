"""Print the requirements the image installs (one a line): pyproject.toml's dependencies plus
those of the extras named in argv[2] (comma-separated, may be empty), e.g. `lake` for the
lake services of docker-compose's `scale` profile. The Dockerfile installs them, pinned by the
constraints file it is given, in a layer of their own, before the package itself."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: str) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    names = [e.strip() for e in extras.split(",") if e.strip()]
    unknown = [e for e in names if e not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}: pyproject.toml has {sorted(optional)}")
    return [*project["dependencies"], *(r for e in names for r in optional[e])]


if __name__ == "__main__":
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")))
