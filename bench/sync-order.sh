#!/usr/bin/env bash
# Checks, from the system calls of a real run, that `route` prints a batch only once its commit
# is on the disk (docs/benchmarks.md, "SQLite's WAL synced on a thread of its own"): creates a
# SQLite state, routes the routing benchmark's leads into it under `strace`, then, at each
# write to stdout (one a batch), counts the WAL commits written before the start of the last
# WAL `fsync` that ended before it. The Nth batch printed needs at least N commits synced (the
# state is created before the trace, so every commit in it is a batch's). Then checks the same
# trace without the printing thread's `fsync` calls, where batches must fail, to show that the
# check can fail.
#
#   bench/sync-order.sh [LEADS] [THREADS]      (default 100000 leads, 2 threads)
#
# Needs strace and python3, and the leads `bench/route-cli.sh 1000000` writes.
set -euo pipefail
cd "$(dirname "$0")/.."
leads=${1:-100000}
threads=${2:-2}
out=bench/out/cli-1000000
[ -f "$out/leads.ndjson" ] || { echo "no $out/leads.ndjson: run bench/route-cli.sh first" >&2; exit 2; }
command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 2; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n "$leads" "$out/leads.ndjson" > "$work/leads.ndjson"
target/release/switchboard state init --state "$work/state.db" > /dev/null
strace -f -e trace=pwrite64,fsync,fdatasync,write -y -x -s 8 -o "$work/trace.txt" \
  target/release/switchboard route "$out/policy.route" --state "$work/state.db" \
  --now 2026-11-23T10:00:00Z --quiet --threads "$threads" --leads "$work/leads.ndjson" \
  > "$work/decisions.ndjson"
echo "the run:"
python3 bench/sync_order.py "$work/trace.txt"
echo "the same without the printing thread's fsync calls (must fail):"
status=0
python3 bench/sync_order.py "$work/trace.txt" --without-printing-syncs || status=$?
[ "$status" -eq 1 ] || { echo "expected the check to fail (exit 1), got exit $status" >&2; exit 1; }
