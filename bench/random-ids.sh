#!/usr/bin/env bash
# `switchboard route` on the routing benchmark's leads as they are (ids that count up: L-0, L-1,
# …) and with every id replaced by a random UUID (docs/benchmarks.md, "random ids are SQLite's
# worst case"): `:memory:` and a fresh SQLite state, two threads, RUNS rounds alternating,
# with the bytes each SQLite run wrote (`wchar` of /proc/PID/io).
#
#   bench/random-ids.sh [LEADS] [RUNS]      (default 1000000 leads, 2 rounds)
#
# Uses the leads `bench/route-cli.sh LEADS` writes (run it first).
set -euo pipefail
cd "$(dirname "$0")/.."
leads=${1:-1000000}
runs=${2:-2}
out=bench/out/cli-$leads
[ -f "$out/leads.ndjson" ] || { echo "no $out/leads.ndjson: run bench/route-cli.sh $leads first" >&2; exit 2; }
cargo build --release --quiet
switchboard=target/release/switchboard
# The same lines, each `"id":"…"` (the first member) replaced by a UUID drawn with a fixed seed.
python3 - "$out/leads.ndjson" "$out/random-ids.ndjson" <<'PY'
import random, re, sys
random.seed(7)
first_id = re.compile(r'^\{"id":"[^"]*"')
with open(sys.argv[1]) as leads, open(sys.argv[2], "w") as out:
    for line in leads:
        u = "%032x" % random.getrandbits(128)
        uuid = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
        out.write(first_id.sub('{"id":"' + uuid + '"', line, count=1))
PY
run() { # NAME STATE LEADS
  local name=$1 state=$2 file=$3 start end written=""
  rm -f "$out"/random-state.db*
  start=$(date +%s.%N)
  "$switchboard" route "$out/policy.route" --state "$state" --now 2026-11-23T10:00:00Z \
    --leads "$file" --quiet --threads 2 > /dev/null &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    written=$(awk '/^wchar/ { print $2 }' "/proc/$pid/io" 2>/dev/null || true)
    sleep 0.2
  done
  wait "$pid" || [ $? -eq 1 ]
  end=$(date +%s.%N)
  printf '%-22s %6.2f s  %s bytes written\n' "$name" "$(echo "$end - $start" | bc)" "${written:-?}"
}
for round in $(seq "$runs"); do
  echo "round $round"
  run "memory, counting ids" :memory: "$out/leads.ndjson"
  run "memory, random ids" :memory: "$out/random-ids.ndjson"
  run "sqlite, counting ids" "$out/random-state.db" "$out/leads.ndjson"
  run "sqlite, random ids" "$out/random-state.db" "$out/random-ids.ndjson"
done
rm -f "$out"/random-state.db* "$out/random-ids.ndjson"
