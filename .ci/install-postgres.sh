#!/usr/bin/env bash
# Make sure PostgreSQL's server programs (initdb, pg_ctl) are installed: the test
# tests/integration/registry/test_postgres_topology.py starts its own throw-away cluster with them. When they are
# missing, Debian's `postgresql` package is installed (as root, or with passwordless sudo).
# Used by .ci/run, `make postgres-server` and the test's fixture.
set -euo pipefail

have_postgres() {
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_postgres; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "error: PostgreSQL (initdb) is not installed and this user cannot install it;" \
        "run: apt-get install -y postgresql" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql; then
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql
fi
if ! have_postgres; then
    echo "error: the postgresql package is installed but initdb was not found" >&2
    exit 1
fi
