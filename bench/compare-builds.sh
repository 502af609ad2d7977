#!/usr/bin/env bash
# Two or more builds of `switchboard` against each other on the routing benchmark's leads:
# `route` with a fresh SQLite state (or STATE=:memory:), THREADS threads (default 2), RUNS
# rounds in which every build runs once, in turn, so that a change in the machine's speed
# falls on all of them alike. Per build: the median and mean wall time and CPU time (user +
# system, from /usr/bin/time), and whether every build printed the same decisions (md5).
# docs/benchmarks.md measures small changes this way: the CPU time moves less from run to run
# than the wall time, and a run that keeps both cores busy is bound by it.
#
#   bench/compare-builds.sh RUNS BINARY BINARY [BINARY...]
#
# Uses the leads `bench/route-cli.sh 1000000` writes (run it first). Each run starts once the
# state and the output of the run before are removed and `sync` has returned.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bench/compare-builds.sh RUNS BINARY BINARY [BINARY...]" >&2; exit 2; }
runs=$1
shift
out=bench/out/cli-1000000
[ -f "$out/leads.ndjson" ] || { echo "no $out/leads.ndjson: run bench/route-cli.sh first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
for binary in "$@"; do
  [ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
state=${STATE:-$work/state.db}
for round in $(seq "$runs"); do
  for index in $(seq $#); do
    binary=${!index}
    rm -f "$work"/state.db* "$work/decisions-$index.ndjson"
    sync
    /usr/bin/time -f "$index %e %U %S" -a -o "$work/times" \
      "$binary" route "$out/policy.route" --state "$state" --now 2026-11-23T10:00:00Z \
      --leads "$out/leads.ndjson" --quiet --threads "${THREADS:-2}" \
      > "$work/decisions-$index.ndjson" || [ $? -eq 1 ]
  done
  echo "round $round done" >&2
done
stats() { sort -n | awk '{a[NR]=$1; s+=$1} END {printf "%.3f s | %.3f s", a[int((NR+1)/2)], s/NR}'; }
echo "$runs rounds, state ${STATE:-SQLite}, ${THREADS:-2} threads"
echo "| build | wall median | wall mean | CPU median | CPU mean |"
echo "|---|---:|---:|---:|---:|"
for index in $(seq $#); do
  wall=$(awk -v i="$index" '$1 == i {print $2}' "$work/times" | stats)
  cpu=$(awk -v i="$index" '$1 == i {print $3 + $4}' "$work/times" | stats)
  echo "| ${!index} | $wall | $cpu |"
done
distinct=$(md5sum "$work"/decisions-*.ndjson | awk '{print $1}' | sort -u | wc -l)
if [ "$distinct" -eq 1 ]; then
  echo "decisions: the same from every build"
else
  echo "decisions: $distinct different outputs"
fi
