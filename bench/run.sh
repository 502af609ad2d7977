#!/usr/bin/env bash
# Reproduces the figures in docs/benchmarks.md: each benchmark in turn, then the peak memory of
# `switchboard route` on 100,000 and 1,000,000 leads and of the diff backtest (GNU time). Needs
# Debian's `time` package for the memory part.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rustc: $(rustc --version)"
cargo bench --bench check
cargo bench --bench graph
cargo bench --bench route
cargo bench --bench allocations
bench/route-cli.sh 1000000 3   # BASELINE=OLD_BINARY adds an earlier build to the rounds
cargo bench --bench simulate
cargo bench --bench csv
cargo bench --bench diff
cargo bench --bench lsp_latency
cargo bench --bench serve
bench/postgres.sh 30000   # needs PostgreSQL installed
cargo build --release
# The shapes that were once quadratic, from the command line; against an earlier build when
# BASELINE names its binary (docs/benchmarks.md, Hostile shapes).
bench/hostile.sh 3
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
# The diff backtest against routing once, on the same 1,000,000 leads (docs/benchmarks.md, Diff).
cargo bench --bench diff -- --bench --leads 1000000 --write "$out/diff" >/dev/null
/usr/bin/time -f "route :memory:, 1000000 leads: %e s, peak RSS %M KiB" \
  target/release/switchboard route "$out/diff/old.route" --state :memory: \
  --now 2026-11-23T10:00:00Z --leads "$out/diff/leads.ndjson" >/dev/null
for format in human json; do
  # diff exits 1: the policies differ.
  /usr/bin/time -f "diff --leads --format $format, 1000000 leads: %e s, peak RSS %M KiB" \
    target/release/switchboard diff "$out/diff/old.route" "$out/diff/new.route" --format "$format" \
    --now 2026-11-23T10:00:00Z --leads "$out/diff/leads.ndjson" >/dev/null || [ $? -eq 1 ]
done
