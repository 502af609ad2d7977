#!/usr/bin/env bash
# Reproduces the "Against peers" section of docs/benchmarks.md: builds bench/peers/ (Switchboard,
# GoRules ZEN, a CEL first-match loop and the serde_json floor; outside the workspace, so that
# `cargo test` never builds ZEN's JavaScript engine) in release mode, checks the translators
# (`cargo test --release`), and runs the comparison on one pinned core.
#
#   bench/run-peers.sh                     # all sizes, 1,000,000 leads, 5 runs
#   bench/run-peers.sh --sizes 100 --runs 3 --leads 100000 --budget 5
#
# Arguments go to the benchmark (see bench/peers/src/main.rs). The first build takes several
# minutes (ZEN bundles QuickJS and SWC). Set CORE to choose the core (default: the last one), and
# CARGO_LOCK=FILE to run cargo under `flock FILE` (for machines where builds share a lock).
set -euo pipefail
cd "$(dirname "$0")/peers"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
echo "rustc: $(rustc --version)"
echo "peers: $(grep -E '^(zen-engine|cel) ' Cargo.toml | tr -d '"=' | tr -s ' ' | paste -sd, - | sed 's/,/, /')"
lock=()
if [ -n "${CARGO_LOCK:-}" ]; then lock=(flock "$CARGO_LOCK"); fi
"${lock[@]}" cargo build --release
"${lock[@]}" cargo test --release
# The `switchboard` command itself, timed from the command line on every core (issue 21).
(cd ../.. && "${lock[@]}" cargo build --release --bin switchboard)
cli="$(cd ../.. && pwd)/target/release/switchboard"
core=${CORE:-$(($(nproc) - 1))}
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v taskset >/dev/null; then
  pin=(taskset -c "$core")
  echo "pinned to core $core"
else
  pin=()
  echo "taskset not found: not pinned"
fi
"${pin[@]}" target/release/switchboard-peers --cli "$cli" "$@"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
