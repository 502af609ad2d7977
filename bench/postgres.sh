#!/usr/bin/env bash
# The PostgreSQL state against SQLite and `:memory:` (docs/benchmarks.md, "State on PostgreSQL"):
# `route` (release build) on the same generated leads with each store, then four `route`
# processes at once on one PostgreSQL database, each with a quarter of the leads; then `sweep` at
# 12:00 of the leads routed at 10:00 (a quarter of them have a step due), SQLite and PostgreSQL
# (one router's database). Starts a
# throwaway cluster of its own (initdb in a temporary directory, fsync on, a free port; as the
# `postgres` user when run as root). Usage: bench/postgres.sh [LEADS] (default 100000).
# With BASELINE=PATH (an earlier build of the binary), it then runs one router (and its sweep)
# and four routers of that build and of this one, alternating, RUNS rounds (default 3), and
# prints the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-100000}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 2; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$bin/postgres" --version)"
cargo build --release --quiet
cargo bench --bench route -- --bench --leads "$count" --write bench/out/pg >/dev/null
work=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"
as_pg "$bin/initdb" -D "$work/data" -U switchboard --auth=trust >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# `exec` in the background subshell: `$!` is the server itself, so the trap below stops it.
(if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$work/data" -p "$port" -k "$work" -c listen_addresses=127.0.0.1; else exec "$bin/postgres" -D "$work/data" -p "$port" -k "$work" -c listen_addresses=127.0.0.1; fi) >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"; true' EXIT
until psql -qAt -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c 'select 1' >/dev/null 2>&1; do sleep 0.2; done
# Before each timed run: the cluster's dirty pages written out and the files synced, so that
# no run pays for the writes of the one before (a four-router run right after the sweeps
# took longer than one router).
settle() {
  psql -q -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c 'checkpoint'
  sync
}
policy=bench/out/pg/policy.route
leads=bench/out/pg/leads.ndjson
timed() { # label, state, then any more arguments of `route`
  local start end label=$1 state=$2
  shift 2
  settle
  start=$(date +%s.%N)
  target/release/switchboard route "$policy" --state "$state" --now 2026-11-23T10:00:00Z --leads "$leads" --quiet "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "t=$end-$start; print(f'| $label | {t:.2f} s | {$count/t:,.0f} |')"
}
echo "| route, $count leads | time | leads/s |"
echo "|---|---:|---:|"
timed ":memory:" ":memory:"
rm -f "$work/state.db"*
timed "SQLite" "$work/state.db"
psql -q -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c 'create database one'
timed "PostgreSQL, one router" "postgres://switchboard@127.0.0.1:$port/one"
psql -q -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c 'create database onethread'
timed "PostgreSQL, one router, --threads 1" "postgres://switchboard@127.0.0.1:$port/onethread" --threads 1
swept() { # label, binary, state: `sweep` at 12:00 of the leads routed at 10:00
  local start end fired
  settle
  start=$(date +%s.%N)
  fired=$("$2" sweep "$policy" --state "$3" --now 2026-11-23T12:00:00Z --quiet | wc -l)
  end=$(date +%s.%N)
  python3 -c "t=$end-$start; print(f'| $1 | {t:.2f} s | $fired | {t * 1000 / max($fired, 1):.3f} ms |')"
}
echo
echo "| sweep at 12:00 | time | steps | per step |"
echo "|---|---:|---:|---:|"
swept "SQLite" target/release/switchboard "$work/state.db"
swept "PostgreSQL" target/release/switchboard "postgres://switchboard@127.0.0.1:$port/one"
echo
psql -q -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c 'create database four'
split -n l/4 -d "$leads" "$work/part."
settle
start=$(date +%s.%N)
for part in "$work"/part.0*; do
  target/release/switchboard route "$policy" --state "postgres://switchboard@127.0.0.1:$port/four" \
    --now 2026-11-23T10:00:00Z --leads "$part" --quiet >/dev/null &
done
wait $(jobs -p | grep -v "^$server$") 2>/dev/null || true
end=$(date +%s.%N)
python3 -c "t=$end-$start; print(f'| PostgreSQL, four routers at once (a quarter each) | {t:.2f} s | {$count/t:,.0f} |')"
[ -n "${BASELINE:-}" ] || exit 0
# One router on all the leads, or four at once on a quarter each, on a new database; seconds.
run_pg() { # BINARY ROUTERS DATABASE
  local binary=$1 routers=$2 db=$3 start end
  psql -q -h 127.0.0.1 -p "$port" -U switchboard -d postgres -c "create database $db"
  settle
  start=$(date +%s.%N)
  if [ "$routers" = 1 ]; then
    "$binary" route "$policy" --state "postgres://switchboard@127.0.0.1:$port/$db" \
      --now 2026-11-23T10:00:00Z --leads "$leads" --quiet >/dev/null
  else
    pids=()
    for part in "$work"/part.0*; do
      "$binary" route "$policy" --state "postgres://switchboard@127.0.0.1:$port/$db" \
        --now 2026-11-23T10:00:00Z --leads "$part" --quiet >/dev/null &
      pids+=($!)
    done
    wait "${pids[@]}"
  fi
  end=$(date +%s.%N)
  python3 -c "print(f'{$end-$start:.2f}')"
}
declare -A times
runs=${RUNS:-3}
for round in $(seq "$runs"); do
  for who in baseline this; do
    binary=$BASELINE
    [ "$who" = this ] && binary=target/release/switchboard
    times[$who-1]+="$(run_pg "$binary" 1 "${who}_one_$round") "
    settle
    start=$(date +%s.%N)
    "$binary" sweep "$policy" --state "postgres://switchboard@127.0.0.1:$port/${who}_one_$round" \
      --now 2026-11-23T12:00:00Z --quiet >"$work/swept.$who"
    end=$(date +%s.%N)
    times[$who-sweep]+="$(python3 -c "print(f'{$end-$start:.2f}')") "
    times[$who-4]+="$(run_pg "$binary" 4 "${who}_four_$round") "
  done
done
echo
echo "| build | one router | four routers | four against one | sweep of one router's leads |"
echo "|---|---:|---:|---:|---:|"
for who in baseline this; do
  python3 -c "
import statistics
one = statistics.median([float(t) for t in '${times[$who-1]}'.split()])
four = statistics.median([float(t) for t in '${times[$who-4]}'.split()])
sweep = statistics.median([float(t) for t in '${times[$who-sweep]}'.split()])
print(f'| $who | {one:.2f} s ({$count/one:,.0f} leads/s) | {four:.2f} s ({$count/four:,.0f} leads/s) | {one/four:.2f}x | {sweep:.2f} s |')"
  echo "(runs, s: one ${times[$who-1]}; four ${times[$who-4]}; sweep ${times[$who-sweep]})"
done
if cmp -s "$work/swept.baseline" "$work/swept.this"; then
  echo "the last round's sweeps printed the same lines"
else
  echo "the last round's sweeps printed different lines"
fi
