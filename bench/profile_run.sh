#!/usr/bin/env bash
# Profiles the running service under load (issue 11). Run it under an emulator:
#
#   scripts/with-emulator bench/profile_run.sh [PORT] [SECONDS] [OUT]
#
# Starts `strategy-service serve` (one uvicorn worker) in the background, warms it up for
# 5 s, measures its CPU per paper trade for SECONDS without the profiler, then records
# SECONDS of py-spy (raw collapsed stacks, --nonblocking) under the same load (10 clients,
# execute + close), summarises the profile, and stops the service by its process id.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8765}
secs=${2:-15}
out=${3:-/tmp/prof.txt}
extra=${4:-}  # more py-spy flags, e.g. --gil (only the thread holding the GIL: Python CPU)
base="http://127.0.0.1:${port}"
.venv/bin/strategy-service serve --host 127.0.0.1 --port "$port" >/tmp/profile-service-"$port".log 2>&1 &
svc=$!
stop_service() { kill "$svc" 2>/dev/null || true; wait "$svc" 2>/dev/null || true; }
trap stop_service EXIT
echo "service pid $svc" >&2
echo "-- warm-up (5 s)"
.venv/bin/python bench/profile_load.py drive --base "$base" --pid "$svc" --seconds 5
echo "-- without the profiler (${secs} s)"
.venv/bin/python bench/profile_load.py drive --base "$base" --pid "$svc" --seconds "$secs"
echo "-- with py-spy record --nonblocking (${secs} s)"
.venv/bin/py-spy record -p "$svc" -d "$secs" -r 100 -f raw -o "$out" --nonblocking $extra >/tmp/py-spy-"$port".log 2>&1 &
spy=$!
.venv/bin/python bench/profile_load.py drive --base "$base" --pid "$svc" --seconds "$secs"
wait "$spy" || { echo "py-spy failed:" >&2; cat /tmp/py-spy-"$port".log >&2; }
.venv/bin/python bench/profile_load.py summarise "$out" --top 25
