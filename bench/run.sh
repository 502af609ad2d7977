#!/usr/bin/env bash
# Reproduces the figures in docs/benchmarks.md: each benchmark in turn, then the peak memory of
# `switchboard route` on 100,000 and 1,000,000 leads (GNU time). Needs Debian's `time` package
# for the memory part.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rustc: $(rustc --version)"
cargo bench --bench check
cargo bench --bench graph
cargo bench --bench route
cargo build --release
out=bench/out
for count in 100000 1000000; do
  cargo bench --bench route -- --bench --leads "$count" --write "$out/$count" >/dev/null
  for state in :memory: sqlite; do
    rm -rf "$out/state.db"*
    target=$([ "$state" = sqlite ] && echo "$out/state.db" || echo ":memory:")
    /usr/bin/time -f "$count leads, state $state: %e s, peak RSS %M KiB" \
      target/release/switchboard route "$out/$count/policy.route" --state "$target" \
      --now 2026-11-23T10:00:00Z --leads "$out/$count/leads.ndjson" >/dev/null
  done
done
