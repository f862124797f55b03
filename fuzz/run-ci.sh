#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 30) from the checked-in seeds, on
# nightly with cargo-fuzz; fails on any crash. Long runs: see docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo +nightly fuzz build ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"}
for target in token_parse contact_parse cursor_decode key_parse router_json; do
  mkdir -p "$work/$target"
  cp seeds/"$target"/* "$work/$target"/
  echo "fuzz: $target for ${seconds}s"
  status=0
  cargo +nightly fuzz run ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"} "$target" "$work/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$work/$target.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units)|ERROR|panicked' "$work/$target.log" || true
  if [ "$status" -ne 0 ]; then tail -n 40 "$work/$target.log"; echo "fuzz: $target FAILED"; exit 1; fi
done
