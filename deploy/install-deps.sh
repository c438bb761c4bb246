#!/usr/bin/env bash
# Installs what grproxy's sandbox, tests and benchmarks need on a Debian machine:
# mariadb-server (mariadbd, mariadb-install-db, mariadb CLI), sysbench, and the Python
# client used by the client-matrix tests. Idempotent: does nothing when all is present.
#
#   deploy/install-deps.sh           # sandbox and tests
#   deploy/install-deps.sh --bench   # also what deploy/bench.py needs for its Galera rows and
#                                    # chart: galera-4, mariadb-backup (mariabackup, the SST
#                                    # method), socat (used by the SST scripts) and matplotlib
#   deploy/install-deps.sh --mtr     # also mariadb-test (mariadb-test-run and the mysql-test
#                                    # suites) for tests/mtr.rs, MariaDB's own tests through
#                                    # the proxy (docs/compatibility.md)
# Options combine: deploy/install-deps.sh --mtr --bench
set -euo pipefail

bench=0
mtr=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    --mtr) mtr=1 ;;
    *) echo "usage: $0 [--bench] [--mtr]" >&2; exit 2 ;;
  esac
done

need_apt=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
command -v mariadb >/dev/null 2>&1 || need_apt+=(mariadb-client)
command -v mariadb-dump >/dev/null 2>&1 || need_apt+=(mariadb-client)  # state transfer
command -v sysbench >/dev/null 2>&1 || need_apt+=(sysbench)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ "$bench" -eq 1 ]; then
  [ -f /usr/lib/galera/libgalera_smm.so ] || need_apt+=(galera-4)
  command -v mariabackup >/dev/null 2>&1 || need_apt+=(mariadb-backup)
  command -v socat >/dev/null 2>&1 || need_apt+=(socat)
fi
if [ "$mtr" -eq 1 ]; then
  [ -x /usr/share/mysql/mysql-test/mariadb-test-run ] || need_apt+=(mariadb-test)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The package starts a system-wide server; grproxy runs its own instances.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mariadb >/dev/null 2>&1 || true; fi
  $SUDO service mariadb stop >/dev/null 2>&1 || true
fi

if ! python3 -c 'import pymysql' >/dev/null 2>&1; then
  echo "install-deps: installing PyMySQL" >&2
  python3 -m pip install --quiet 'PyMySQL==1.1.1'
fi
if ! python3 -c 'import mysql.connector' >/dev/null 2>&1; then
  echo "install-deps: installing mysql-connector-python" >&2
  python3 -m pip install --quiet 'mysql-connector-python==9.1.0'
fi
if [ "$bench" -eq 1 ] && ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
  echo "install-deps: installing matplotlib" >&2
  python3 -m pip install --quiet 'matplotlib>=3.7,<4'
fi
