#!/usr/bin/env bash
# Runs every test: unit tests (pure logic) and integration tests against real mariadbd
# processes that the harness starts on free ports, and the short list of MariaDB's own
# mysql-test suite through the proxy (tests/mtr.rs). Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh --mtr
cargo build --quiet --all-targets
cargo test --quiet -- --test-threads="${TEST_THREADS:-2}"
