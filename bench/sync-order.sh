#!/usr/bin/env bash
# Checks, from the system calls of a real run, that `route` prints a batch only once its commit
# is on the disk (docs/benchmarks.md, "SQLite's WAL synced on a thread of its own"): routes the
# routing benchmark's leads into a fresh SQLite state under `strace`, then, at each write to
# stdout (one a batch), counts the WAL commit frames written before the start of the last WAL
# `fsync` that ended before it. The Nth batch printed needs at least N commits synced. Also
# run on the same trace without its `fsync` calls, where every batch must fail the check, to
# show that the check can fail.
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
strace -f -e trace=pwrite64,fsync,fdatasync,write -y -x -s 8 -o "$work/trace.txt" \
  target/release/switchboard route "$out/policy.route" --state "$work/state.db" \
  --now 2026-11-23T10:00:00Z --quiet --threads "$threads" --leads "$work/leads.ndjson" \
  > "$work/decisions.ndjson"
grep -v fsync "$work/trace.txt" > "$work/unsynced.txt"
echo "the run:"
python3 bench/sync_order.py "$work/trace.txt"
echo "the same without its fsync calls (must fail):"
! python3 bench/sync_order.py "$work/unsynced.txt"
