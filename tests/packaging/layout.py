"""What pyproject.toml says is installed, and where each part comes from in the repository.

setuptools installs the folders of `package-dir` under the one import name `flowscope`
(`api/` is `flowscope.api`, ...): these helpers read that mapping, so the tests follow
pyproject.toml instead of keeping a second copy of it.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
CONSTRAINTS = REPO / "constraints.txt"


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def package_dirs() -> dict[str, Path]:
    """Each mapped package name -> its folder in the repository, shallowest first."""
    mapping = pyproject()["tool"]["setuptools"]["package-dir"]
    return {name: REPO / mapping[name] for name in sorted(mapping, key=lambda n: n.count("."))}


def listed_packages() -> set[str]:
    return set(pyproject()["tool"]["setuptools"]["packages"])


def source_of(package: str) -> Path:
    """The repository folder of a (sub)package, through the nearest mapped parent."""
    parts = package.split(".")
    for depth in range(len(parts), 0, -1):
        mapped = package_dirs().get(".".join(parts[:depth]))
        if mapped is not None:
            return mapped.joinpath(*parts[depth:])
    raise LookupError(f"{package} is under no package-dir entry")


def package_folders() -> dict[str, Path]:
    """Every folder with an __init__.py under a mapped folder, by the package name it installs as."""
    found: dict[str, Path] = {}
    for name, folder in package_dirs().items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder)
            if "__pycache__" in relative.parts or any(not p.isidentifier() for p in relative.parts):
                continue
            found[".".join((name, *relative.parts))] = init.parent
    return found


def installed_path(source: Path) -> str:
    """Where a repository file lands inside the wheel (`api/sql/x.sql` -> `flowscope/api/sql/x.sql`)."""
    best = max(
        ((name, folder) for name, folder in package_dirs().items() if source.is_relative_to(folder)),
        key=lambda item: len(item[1].parts),
    )
    name, folder = best
    return "/".join((*name.split("."), *source.relative_to(folder).parts))


def link_tree(dest: Path) -> Path:
    """`dest/flowscope/...` laid out as installed, made of symlinks to the repository's files
    (tools that walk a package's folder, such as import-linter, see the mapped subpackages)."""
    mapped = package_dirs()
    for name, folder in mapped.items():
        target = dest.joinpath(*name.split("."))
        nested = {n.rpartition(".")[2] for n in mapped if n.rpartition(".")[0] == name}
        if not nested:
            target.symlink_to(folder, target_is_directory=True)
            continue
        target.mkdir(parents=True)
        for entry in folder.iterdir():
            if entry.name not in nested and entry.name != "__pycache__":
                (target / entry.name).symlink_to(entry)
    return dest
