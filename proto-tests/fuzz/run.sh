#!/usr/bin/env bash
# Fuzzes the wire decoder for a bounded time on a stable toolchain: proto-tests/fuzz/run.sh [seconds]
# [extra libFuzzer flags...]. Installs cargo-fuzz if missing. Exits non-zero when a crash is found;
# the input is saved under proto-tests/fuzz/artifacts/decode/. See docs/fuzzing.md.
set -euo pipefail

secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

mkdir -p "$here/corpus/decode"
# RUSTC_BOOTSTRAP lets stable rustc accept the -Z flags cargo-fuzz passes (sanitizer coverage).
# The first corpus directory collects new inputs; the committed seeds and the regressions (past
# crashes) are read too.
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --fuzz-dir "$here" --sanitizer none decode \
    "$here/corpus/decode" "$here/seeds/decode" "$here/regressions" \
    -- -max_total_time="$secs" -max_len=16384 -timeout=10 -print_final_stats=1 "$@"
