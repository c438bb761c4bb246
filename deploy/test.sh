#!/usr/bin/env bash
# Runs every test: unit tests (pure logic) and integration tests against real mariadbd
# processes that the harness starts on free ports. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cargo build --quiet --all-targets
cargo test --quiet -- --test-threads="${TEST_THREADS:-2}"
