#!/usr/bin/env bash
# `make bench-cluster`: chorus next to etcd and Redis, one system at a time, on this machine, with
# the same load generator (`chorus bench`) and the same workloads:
#   - chorus: 3 nodes on loopback (every write fsynced on a quorum before it is acknowledged);
#   - etcd 3.4 (Debian): 3 members on loopback, its default fsync, via the v3 JSON gateway;
#   - redis-server 7 (Debian): one node, appendonly yes + appendfsync always (durable, not
#     replicated), and for reference one with persistence off.
# SET/put of 100-byte values, then GET/range (linearizable on chorus and etcd), over 100,000 keys,
# at concurrency 1, 16, 64, 256; chorus and Redis also pipelined 16 deep. Then resident memory per
# key with 1,000,000 keys. Writes build/bench-cluster/results.json, a table with the ratios
# (results.md, also printed and appended to docs/BENCHMARKS.md) and a chart (results.png, gnuplot).
#   SECONDS_PER_RUN=5 CONCURRENCY="1 16 64 256" scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release}
CHORUS=$BIN/src/chorus/cli/chorus
CHORUSD=$BIN/src/chorus/server/chorusd
OUT=${OUT:-build/bench-cluster}
SECS=${SECONDS_PER_RUN:-5}
CONC=${CONCURRENCY:-1,16,64,256}
MEMKEYS=${MEMORY_KEYS:-1000000}
rm -rf "$OUT" && mkdir -p "$OUT"
JSON=$OUT/results.json
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }
trap cleanup EXIT INT TERM

bench() {  # bench <system> <target> <endpoints> <workload> <concurrency list> <pipeline>
  "$CHORUS" bench --system "$1" --target "$2" --endpoints "$3" --workload "$4" \
    --concurrency "$5" --pipeline "$6" --seconds "$SECS" --json "$JSON"
}

wait_port() {
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
  echo "bench-cluster: port $1 did not open" >&2
  return 1
}

rss_kib() { awk '/VmRSS/ {print $2}' /proc/$1/status; }

# Loads fresh keys mem:0..N-1 (not the benchmark's key:*, which are there already) with 100-byte
# values through redis-cli --pipe; prints the RSS growth per key.
memory_per_key() {  # memory_per_key <port> <pid>
  local before after
  before=$(rss_kib "$2")
  python3 -c "
import sys
v = b'v' * 100
out = sys.stdout.buffer
for i in range($MEMKEYS):
    k = b'mem:%d' % i
    out.write(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$100\r\n%s\r\n' % (len(k), k, v))
" | redis-cli -p "$1" --pipe >/dev/null
  sleep 1
  after=$(rss_kib "$2")
  echo $(( (after - before) * 1024 / MEMKEYS ))
}

echo "== chorus: 3 nodes"
rm -rf "$OUT/chorus" && mkdir -p "$OUT/chorus/certs"
"$CHORUS" certs init --dir "$OUT/chorus/certs" >/dev/null
peers=1=127.0.0.1:7411,2=127.0.0.1:7412,3=127.0.0.1:7413
for i in 1 2 3; do
  "$CHORUS" certs issue $i --dir "$OUT/chorus/certs" >/dev/null
  "$CHORUSD" --id $i --data-dir "$OUT/chorus/node-$i" --client-address 127.0.0.1:740$i \
    --peer-address 127.0.0.1:741$i --peers $peers --tls-ca "$OUT/chorus/certs/ca.crt" \
    --tls-cert "$OUT/chorus/certs/node-$i.crt" --tls-key "$OUT/chorus/certs/node-$i.key" \
    --log-level warn >"$OUT/chorus/node-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 100); do
  "$CHORUS" cluster status --nodes 127.0.0.1:7401 --timeout-ms 500 2>/dev/null | grep -qE ' (leader|follower) ' &&
    [ "$(redis-cli -p 7401 set warmup 1 2>/dev/null)" = OK ] && break  # an error reply exits 0 too
  sleep 0.2
done
EPS=127.0.0.1:7401,127.0.0.1:7402,127.0.0.1:7403
bench chorus resp $EPS set "$CONC" 1
bench chorus resp $EPS get "$CONC" 1
bench chorus resp $EPS set 64 16
bench chorus resp $EPS get 64 16
chorus_mem=$(memory_per_key 7401 "${pids[0]}")
echo "chorus: $chorus_mem bytes of RSS per key (node 1)"
cleanup

echo "== etcd: 3 members"
cluster=e1=http://127.0.0.1:2391,e2=http://127.0.0.1:2392,e3=http://127.0.0.1:2393
for i in 1 2 3; do
  etcd --name e$i --data-dir "$OUT/etcd/e$i" --listen-client-urls http://127.0.0.1:238$i \
    --advertise-client-urls http://127.0.0.1:238$i --listen-peer-urls http://127.0.0.1:239$i \
    --initial-advertise-peer-urls http://127.0.0.1:239$i --initial-cluster $cluster \
    --initial-cluster-state new --log-level error >"$OUT/etcd-$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do wait_port 238$i; done
for _ in $(seq 1 100); do
  curl -sf -X POST -d '{"key":"d2FybXVw","value":"MQ=="}' http://127.0.0.1:2381/v3/kv/put \
    >/dev/null && break
  sleep 0.2
done
EPS=127.0.0.1:2381,127.0.0.1:2382,127.0.0.1:2383
bench etcd etcd $EPS set "$CONC" 1
bench etcd etcd $EPS get "$CONC" 1
cleanup

echo "== redis-server: appendonly yes, appendfsync always"
redis-server --port 7501 --dir "$OUT" --appendonly yes --appendfsync always --save "" \
  --daemonize no >"$OUT/redis-aof.log" 2>&1 &
pids+=($!)
wait_port 7501
bench "redis-aof-always" resp 127.0.0.1:7501 set "$CONC" 1
bench "redis-aof-always" resp 127.0.0.1:7501 get "$CONC" 1
bench "redis-aof-always" resp 127.0.0.1:7501 set 64 16
bench "redis-aof-always" resp 127.0.0.1:7501 get 64 16
redis_mem=$(memory_per_key 7501 "${pids[0]}")
echo "redis: $redis_mem bytes of RSS per key"
cleanup

echo "== redis-server: no persistence (reference)"
redis-server --port 7502 --appendonly no --save "" --daemonize no >"$OUT/redis-mem.log" 2>&1 &
pids+=($!)
wait_port 7502
bench "redis-no-persistence" resp 127.0.0.1:7502 set "$CONC" 1
bench "redis-no-persistence" resp 127.0.0.1:7502 set 64 16
cleanup

python3 scripts/bench_report.py "$JSON" "$OUT" "$chorus_mem" "$redis_mem" "$MEMKEYS"
# The record: every run is appended to docs/BENCHMARKS.md (APPEND_DOCS=0 to skip).
if [ "${APPEND_DOCS:-1}" = 1 ]; then
  { echo; echo "### make bench-cluster, $(date -u '+%Y-%m-%d %H:%M UTC')"; echo;
    cat "$OUT/results.md"; } >>docs/BENCHMARKS.md
  echo "appended to docs/BENCHMARKS.md (chart: $OUT/results.png)"
fi
