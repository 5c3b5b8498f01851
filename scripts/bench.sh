#!/usr/bin/env bash
# Measures fbench against the raw ceiling of its transport, side by side, on this machine:
#   scripts/bench.sh            full run (about 18 minutes): the table, bench.json, saturation_ratio=R
#   scripts/bench.sh --short    a quick pass that proves the script works (CI); timings not judged
# Options are passed to scripts/benchdriver (--reps N, --out FILE, --depth N).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./scripts/benchdriver "$@"
