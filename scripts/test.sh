#!/usr/bin/env bash
# Runs Herold's whole test suite on a fresh machine.
#
# Installs or starts what the tests need, idempotently:
#   - a Python virtualenv in .test-peers/ with the pinned packages of
#     tests/support/requirements.txt: feedparser and icalendar (independent
#     feed checks), aiosmtpd (a real SMTP server), dkimpy (DKIM checks)
#   - Synapse, a real Matrix homeserver, in its own virtualenv
#     .test-peers/synapse with the pins of tests/support/requirements-synapse.txt
#     (the tests start one per test, see tests/common/synapse.rs)
#   - Chromium and chromedriver (Debian packages chromium, chromium-driver)
#     for the browser tests, and axe-core (npm, pinned in
#     tests/support/browser/package-lock.json) for their accessibility checks
#   - PostgreSQL 15 on 127.0.0.1:5432 (started if it is installed but stopped)
# then runs every test of every crate on SQLite and on PostgreSQL.
#
# Environment: HEROLD_TEST_PG (default postgres://postgres@127.0.0.1:5432),
# CARGO_TARGET_DIR (optional, reused between runs), extra args go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS=.test-peers
REQUIREMENTS=tests/support/requirements.txt
SYNAPSE_REQUIREMENTS=tests/support/requirements-synapse.txt

step() { printf '==> %s\n' "$*" >&2; }

# 1. Python test peers, reinstalled only when the pinned list changes.
if ! cmp -s "$REQUIREMENTS" "$PEERS/installed-requirements.txt"; then
    step "installing Python test peers into $PEERS/venv"
    python3 -m venv "$PEERS/venv"
    "$PEERS/venv/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$PEERS/installed-requirements.txt"
fi

# 1b. Synapse in its own virtualenv (its many dependencies stay out of the
#     peers' one), reinstalled only when its pins change. The marker is
#     written last, so an interrupted install is completed on the next run.
if ! cmp -s "$SYNAPSE_REQUIREMENTS" "$PEERS/synapse/installed-requirements.txt"; then
    step "installing Synapse (Matrix homeserver) into $PEERS/synapse"
    python3 -m venv "$PEERS/synapse"
    "$PEERS/synapse/bin/pip" install --quiet --disable-pip-version-check -r "$SYNAPSE_REQUIREMENTS"
    cp "$SYNAPSE_REQUIREMENTS" "$PEERS/synapse/installed-requirements.txt"
fi

# 1c. The browser tests' peers: Debian's Chromium and chromedriver (apt,
#     as root or through sudo), and axe-core from npm (npm ci: exactly the
#     locked version, reinstalled only when the lock changes).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "installing Chromium and chromedriver (Debian packages)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! cmp -s tests/support/browser/package-lock.json "$PEERS/browser/installed-lock.json"; then
    step "installing axe-core into $PEERS/browser"
    mkdir -p "$PEERS/browser"
    cp tests/support/browser/package.json tests/support/browser/package-lock.json "$PEERS/browser/"
    (cd "$PEERS/browser" && npm ci --silent --no-audit --no-fund)
    cp tests/support/browser/package-lock.json "$PEERS/browser/installed-lock.json"
fi

# 2. PostgreSQL.
PG_URL="${HEROLD_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
pg_up() { "$PEERS/venv/bin/python" - "$PG_URL" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
try:
    socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}
if ! pg_up; then
    step "starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
        done
    else
        echo "PostgreSQL is not installed; install it (apt-get install postgresql) or set HEROLD_TEST_PG" >&2
        exit 1
    fi
    for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
    pg_up || { echo "PostgreSQL did not come up at $PG_URL" >&2; exit 1; }
fi

# 3. The tests: unit, integration and doc tests of every crate. The
#    `fake-providers` feature lets tests point `herold serve`/`worker` at fake
#    providers (HEROLD_FAKE_PROVIDER); builds without it refuse that.
step "running the test suite (SQLite and PostgreSQL)"
export HEROLD_TEST_PYTHON="$PWD/$PEERS/venv/bin/python"
export HEROLD_TEST_SYNAPSE="$PWD/$PEERS/synapse/bin/python"
export HEROLD_TEST_AXE="$PWD/$PEERS/browser/node_modules/axe-core/axe.min.js"
cargo test --workspace --locked --features herold/fake-providers "$@"
