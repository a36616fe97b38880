#!/usr/bin/env bash
# Install the Debian packages the test suite uses, if they are missing.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# The web UI's browser tests (Playwright drives this chromium; it downloads no browser),
# with a font for readable screenshots.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# The install compiles storage/_wire_walk.c (optional for users; the suite checks it was built).
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# The DuckLake store's tests start their own PostgreSQL (tests/support/postgres.py).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
