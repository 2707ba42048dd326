#!/bin/sh
# Runs Google's Python client against the standalone emulator, as a user would:
# start `cargo run --example emulator -- --port 0`, read its line, run the checks.
# Needs: pip install google-api-python-client
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet --example emulator
out=$(mktemp)
target/debug/examples/emulator --port 0 >"$out" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do
    [ -s "$out" ] && break
    sleep 0.1
done
"${PYTHON:-python3}" tests/python/third_party_client.py --line "$(head -n 1 "$out")"
