#!/usr/bin/env bash
# Installs the client libraries the client-API tests drive, only when missing (idempotent):
# Mastodon.py (PyPI, pinned) in a virtualenv at $1 (default: target/tmp/clients-venv), toot
# (Debian), and masto.js + megalodon (npm, pinned by package-lock.json) in tests/clients/node_modules.
# Used by tests/run and, when the venv is missing, by tests/client_api.rs itself.
set -euo pipefail
VENV=${1:-"$(cd "$(dirname "$0")/../.." && pwd)/target/tmp/clients-venv"}
MASTODON_PY=2.3.3
# One install at a time: client_api.rs's three tests call this concurrently under plain `cargo test`
# (tests/run installs first), and two pips or two `npm ci`s into one place break each other.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.install-lock"
flock 9
if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import mastodon, sys; from importlib.metadata import version; sys.exit(version('Mastodon.py') != '$MASTODON_PY')" 2>/dev/null; }; then
  command -v python3 >/dev/null || { echo "python3 is missing: the client API tests need Python 3.9+ with venv" >&2; exit 1; }
  echo "   installing Mastodon.py $MASTODON_PY into $VENV (pip, PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "Mastodon.py==$MASTODON_PY"
fi

# toot (Debian's package; the tests run /usr/bin/toot), when missing: apt-get install, with an
# apt-get update only when that fails.
if ! command -v toot >/dev/null; then
  echo "   installing toot (apt-get install toot)"
  SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq toot >/dev/null 2>&1 ||
    { "${SUDO[@]}" apt-get update -qq >/dev/null && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq toot >/dev/null; } ||
    { echo "could not install the Debian package toot (the client API tests drive it)" >&2; exit 1; }
fi

# masto.js and megalodon (npm, pinned in package-lock.json), when Node.js is there: npm ci again
# only when package.json or the lock changed.
cd "$(dirname "$0")"
if command -v npm >/dev/null; then
  stamp=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  if [ ! -f node_modules/masto/package.json ] || [ "$(cat node_modules/.pipit-lock-sha256 2>/dev/null)" != "$stamp" ]; then
    echo "   installing masto.js and megalodon (npm ci in tests/clients)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$stamp" > node_modules/.pipit-lock-sha256
  fi
fi
