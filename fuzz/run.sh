#!/usr/bin/env bash
# Runs a fuzz target: fuzz/run.sh [TARGET] [SECONDS]  (default: check, 600 s).
# Targets: check, graph, lead_reader, csv_leads, format, lsp, reparse, roster, use_resolution, lifecycle,
# hook_mapping.
# Seeds the corpus with every policy in the repository. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")"
target="${1:-check}"
seconds="${2:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p "corpus/$target"
# Seed with every policy in the repository (for `graph`, followed by a NUL and lead bytes).
find .. -name '*.route' -not -path '*/target/*' -not -path '*/corpus/*' | while read -r policy; do
  name="corpus/$target/$(basename "$policy")"
  if [ "$target" = lead_reader ] || [ "$target" = csv_leads ] || [ "$target" = roster ] || [ "$target" = lifecycle ] || [ "$target" = hook_mapping ]; then
    continue
  elif [ "$target" = graph ]; then
    { cat "$policy"; printf '\0'; head -c 256 /dev/urandom; } > "$name"
  else
    cp "$policy" "$name"
  fi
done
if [ "$target" = roster ]; then
  find .. -name '*.json' -path '*roster*' -not -path '*/target/*' -not -path '*/corpus/*' -not -path '*/node_modules/*' | while read -r f; do
    cp "$f" "corpus/$target/$(echo "$f" | tr '/' '_')"
  done
  find ../../shared/testdata -name '*.json' -size -8k 2>/dev/null | head -200 | while read -r f; do cp "$f" "corpus/$target/"; done || [ $? -eq 141 ]  # head closed the pipe
fi
if [ "$target" = csv_leads ]; then
  cp ../examples/*.csv "corpus/$target/"
fi
if [ "$target" = lead_reader ]; then
  cp ../examples/*.ndjson "corpus/$target/"
  find ../../shared/testdata -name '*.json' -size -8k 2>/dev/null | head -400 | while read -r f; do cp "$f" "corpus/$target/"; done || [ $? -eq 141 ]  # head closed the pipe
fi
if [ "$target" = hook_mapping ]; then
  # Each example mapping with its example payload, NUL between.
  for crm in hubspot salesforce; do
    { cat "../examples/hooks/$crm.map.json"; printf '\0'; cat "../examples/hooks/$crm.payload.json"; } \
      > "corpus/$target/$crm"
  done
fi
if [ "$target" = lifecycle ]; then
  # Events for the leads L-0..L-3 that the target routes, and sweeps between them.
  printf '%s\n' '{"lead":"L-0","event":"touched","at":"2026-11-23T10:12:00+01:00","by":"anna"}' \
    'sweep 120' '{"lead":"L-1","event":"rejected","at":"2026-11-23T10:05:00+01:00","by":"anna"}' \
    '{"lead":"L-2","event":"closed","at":"2026-11-23T10:40:00+01:00"}' 'sweep 400' \
    > "corpus/$target/events.ndjson"
fi
# The machine's toolchain is stable: let cargo-fuzz use its -Z flags, without sanitizers.
export RUSTC_BOOTSTRAP=1
cargo fuzz run "$target" --sanitizer none --release -- -max_total_time="$seconds" -max_len=65536 -timeout=10
