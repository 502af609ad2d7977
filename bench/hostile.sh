#!/usr/bin/env bash
# The shapes an audit found quadratic (issue 18), checked by `switchboard check` from the command
# line: this build against an earlier one (BASELINE=path/to/switchboard), alternating, in one run.
# Prints one Markdown row per shape: the median of RUNS runs of each binary and their ratio.
# Needs python3 and bc. Usage: BASELINE=../old/target/release/switchboard bench/hostile.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
cargo build --release --quiet
new=target/release/switchboard
old="${BASELINE:-}"
limit=120
out=bench/out/hostile
mkdir -p "$out"
python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
def write(name, text):
    open(f"{out}/{name}.route", "w").write(text)
for rules in (2000, 8000, 32000):
    write(f"rules-{rules}", "schema lead { id: string  n: int }\nqueue q\n"
          + "".join(f"rule r{n}: when n = {n} -> queue q\n" for n in range(rules)))
for variants in (16000, 100000):
    names = [f"v{v}" for v in range(variants)]
    write(f"enum-{variants}", "schema lead { id: string  kind: enum { " + ", ".join(names) + " } }\nqueue q\n"
          + "".join(f"rule r_{n}: when kind = {n} -> queue q\n" for n in names[:16000])
          + "otherwise -> queue q\n")
for length in (30000, 1 << 20):
    name = "y" * length
    write(f"name-{length}", "schema lead { id: string  intent: enum { low, high } }\nqueue q\n"
          f"rule odd: when {name} = 1 and intent = {name} -> queue q\notherwise -> queue q\n")
PY
seconds() {  # seconds BINARY FILE: wall time of one check, or "timeout"
  local start end
  local status=0
  start=$(date +%s.%N)
  timeout "$limit" "$1" check "$2" >/dev/null 2>&1 || status=$?
  end=$(date +%s.%N)
  # check exits 1 on the shapes with errors; only timeout's 124 means it did not finish.
  [ "$status" -eq 124 ] && { echo timeout; return; }
  echo "$end - $start" | bc
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); runs: $runs"
echo
echo "| shape | before (median) | after (median) | before / after |"
echo "|---|---:|---:|---:|"
for file in "$out"/rules-*.route "$out"/enum-*.route "$out"/name-*.route; do
  before=(); after=()
  for _ in $(seq "$runs"); do
    [ -n "$old" ] && before+=("$(seconds "$old" "$file")")
    after+=("$(seconds "$new" "$file")")
  done
  a=$(printf '%s\n' "${after[@]}" | median)
  if [ -n "$old" ]; then
    if printf '%s\n' "${before[@]}" | grep -q timeout; then
      b="> ${limit} s"; ratio="> $(echo "$limit / $a" | bc)"
    else
      b=$(printf '%s\n' "${before[@]}" | median)
      ratio=$(echo "scale=1; $b / $a" | bc); b=$(printf '%.3f s' "$b")
    fi
  else
    b="-"; ratio="-"
  fi
  printf '| %s | %s | %.3f s | %sx |\n' "$(basename "$file" .route)" "$b" "$a" "$ratio"
done
