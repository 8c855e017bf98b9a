#!/usr/bin/env bash
# Runs SIM_SEEDS (default 500) fresh seeds starting from SIM_FIRST_SEED (default: derived from
# today's date, so every day explores new seeds; the printed seed replays any failure).
set -euo pipefail
sim=$1
count=${SIM_SEEDS:-500}
first=${SIM_FIRST_SEED:-$(( $(date +%Y%m%d) * 1000 ))}
echo "chorus-sim --seeds=${first}:${count}"
exec "$sim" --seeds="${first}:${count}"
