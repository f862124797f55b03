#!/usr/bin/env bash
# HTTP load, demo against baseline: builds invite-demo, invite-loadgen and invite-baseline
# in release mode, then runs `invite-loadgen --compare` (each server on a fresh SQLite file
# in a temporary directory, on a free loopback port; default 16 clients, 2 × 20 s).
# Extra arguments go to invite-loadgen, e.g. `--clients 32 --duration 30s --json out.json`.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p invite-demo -p invite-loadgen
bin="${CARGO_TARGET_DIR:-target}/release"
exec "$bin/invite-loadgen" --compare \
  --demo-bin "$bin/invite-demo" --baseline-bin "$bin/invite-baseline" "$@"
