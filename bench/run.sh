#!/usr/bin/env bash
# Reproduces the figures in docs/benchmarks.md: release build, then each benchmark in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rustc: $(rustc --version)"
cargo bench --bench check
cargo bench --bench graph
