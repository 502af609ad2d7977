#!/usr/bin/env bash
# `switchboard route` from the command line against the serde_json floor, on the same leads,
# output to a file (docs/benchmarks.md, "Route at the speed of reading"): the floor, route
# `--state :memory:` with one thread and two, route with a fresh SQLite state with one thread
# and two, and the floor and route (two threads) through a pipe; RUNS rounds alternating,
# median wall time of each. With BASELINE=PATH (an earlier build of the binary), that binary
# runs too, with its own default settings. Every run starts once the state and the output of the
# run before are removed and `sync` has returned, so that no run pays for disk work another left
# (a removed state's blocks freed, pages written back, and an old output truncated: `>` on the
# 300 MB of decisions of the run before took about 95 ms of each run's time on ext4 mounted with
# `discard`, until 2026-12-07); SYNC=0 skips the `sync`.
#
#   bench/route-cli.sh [LEADS] [RUNS]      (default 1000000 leads, 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
leads=${1:-1000000}
runs=${2:-5}
out=bench/out/cli-$leads
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rustc: $(rustc --version); commit $(git rev-parse --short HEAD)"
cargo build --release --quiet
cargo bench --bench route --quiet --no-run 2>/dev/null
if [ ! -f "$out/leads.ndjson" ]; then
  cargo bench --bench route --quiet -- --bench --leads "$leads" --write "$out" >/dev/null
fi
bench_binary=$(ls -t target/release/deps/route-* | grep -v '\.d$' | head -1)
switchboard=target/release/switchboard
route() { # BINARY STATE [ARGS...]
  local binary=$1 state=$2
  shift 2
  "$binary" route "$out/policy.route" --state "$state" --now 2026-11-23T10:00:00Z \
    --leads "$out/leads.ndjson" --quiet "$@" > "$out/decisions.ndjson" || [ $? -eq 1 ]
}
# The same through a pipe (what a harness that reads stdout measures): route writes about 180
# bytes a lead, the floor 25.
route_piped() {
  local binary=$1 state=$2
  shift 2
  "$binary" route "$out/policy.route" --state "$state" --now 2026-11-23T10:00:00Z \
    --leads "$out/leads.ndjson" --quiet "$@" | cat > "$out/decisions.ndjson"
}
declare -A times
names=(floor "memory-1" "memory-2" "sqlite-1" "sqlite-2" "floor-piped" "memory-2-piped")
[ -n "${BASELINE:-}" ] && names+=("baseline-memory" "baseline-sqlite")
for round in $(seq "$runs"); do
  for name in "${names[@]}"; do
    rm -f "$out"/state.db* "$out/decisions.ndjson" "$out/floor.ndjson"
    [ "${SYNC:-1}" = 0 ] || sync
    start=$(date +%s%N)
    case $name in
      floor) "$bench_binary" --floor "$out/leads.ndjson" "$out/floor.ndjson" 2>/dev/null ;;
      memory-1) route "$switchboard" :memory: --threads 1 ;;
      memory-2) route "$switchboard" :memory: --threads 2 ;;
      sqlite-1) route "$switchboard" "$out/state.db" --threads 1 ;;
      sqlite-2) route "$switchboard" "$out/state.db" --threads 2 ;;
      floor-piped) "$bench_binary" --floor "$out/leads.ndjson" /dev/stdout 2>/dev/null | cat > "$out/floor.ndjson" ;;
      memory-2-piped) route_piped "$switchboard" :memory: --threads 2 ;;
      baseline-memory) route "$BASELINE" :memory: ;;
      baseline-sqlite) route "$BASELINE" "$out/state.db" ;;
    esac
    end=$(date +%s%N)
    times[$name]+="$(( (end - start) / 1000000 )) "
  done
  echo "round $round done" >&2
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor=$(median "${times[floor]}")
memory=$(median "${times[memory-1]}")
echo
echo "$leads leads, $runs rounds, median wall time (all runs, ms)"
echo "| run | median | leads/s | of the floor | of route :memory: one thread | runs (ms) |"
echo "|---|---:|---:|---:|---:|---|"
for name in "${names[@]}"; do
  m=$(median "${times[$name]}")
  awk -v n="$name" -v m="$m" -v l="$leads" -v f="$floor" -v b="$memory" -v all="${times[$name]}" \
    'BEGIN { printf "| %s | %.2f s | %.0f | %.2f | %.2f | %s |\n", n, m/1000, l/(m/1000), f/m, b/m, all }'
done
# Issue 21's SQLite goal: a SQLite state at 0.5x of `:memory:` or better, same thread count.
for threads in 1 2; do
  awk -v t="$threads" -v s="$(median "${times[sqlite-$threads]}")" \
    -v m="$(median "${times[memory-$threads]}")" \
    'BEGIN { printf "SQLite of :memory:, %d thread%s: %.3fx\n", t, (t > 1 ? "s" : ""), m/s }'
done
