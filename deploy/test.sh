#!/usr/bin/env bash
# Runs every test: unit tests (pure logic) and integration tests against real mariadbd
# processes that the harness starts on free ports, and the short list of MariaDB's own
# mysql-test suite through the proxy (tests/mtr.rs). Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh --mtr
# No incremental build state (2 GB here) in a one-off CI build.
export CARGO_INCREMENTAL=0
cargo build --quiet --all-targets
cargo test --quiet -- --test-threads="${TEST_THREADS:-2}"
