#!/usr/bin/env bash
# Starts a local grproxy sandbox: installs mariadb-server if missing, builds grproxy, then
# `grproxy sandbox up`. Arguments are passed on (defaults: --nodes 3 --dir ./sandbox --port 6033).
# Stop it with: target/release/grproxy sandbox down --dir ./sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cargo build --release --quiet
args=("$@")
[[ " ${args[*]-} " == *" --dir "* ]] || args+=(--dir ./sandbox)
[[ " ${args[*]-} " == *" --nodes "* ]] || args+=(--nodes 3)
[[ " ${args[*]-} " == *" --port "* ]] || args+=(--port 6033)
exec target/release/grproxy sandbox up "${args[@]}"
