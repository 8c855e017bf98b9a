#!/usr/bin/env bash
# `make run`: a local 3-node chorus cluster on loopback, in the foreground until Ctrl-C.
#   node i (1..3): clients 127.0.0.1:700i (RESP), peers 127.0.0.1:710i (mutual TLS),
#                  admin HTTP 127.0.0.1:720i (/metrics /health /ready /status)
# Certificates are made once under $DATA/certs; data and logs stay in $DATA (default ./data), so
# running it again keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release}
CHORUS=$BIN/src/chorus/cli/chorus
CHORUSD=$BIN/src/chorus/server/chorusd
DATA=${DATA:-./data}
CERTS=$DATA/certs
NODES=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
PEERS=1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103

for port in 7001 7002 7003 7101 7102 7103 7201 7202 7203; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "make run: port $port is in use (another cluster running?); stop it first" >&2
    exit 1
  fi
done

mkdir -p "$CERTS"
"$CHORUS" certs init --dir "$CERTS" >/dev/null
for i in 1 2 3; do
  [ -f "$CERTS/node-$i.crt" ] || "$CHORUS" certs issue $i --dir "$CERTS" >/dev/null
done

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping the cluster..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "stopped; data and logs kept in $DATA"
}
trap stop INT TERM EXIT

for i in 1 2 3; do
  "$CHORUSD" --id $i --data-dir "$DATA/node-$i" \
    --client-address 127.0.0.1:700$i --peer-address 127.0.0.1:710$i \
    --admin-address 127.0.0.1:720$i --peers $PEERS \
    --tls-ca "$CERTS/ca.crt" --tls-cert "$CERTS/node-$i.crt" --tls-key "$CERTS/node-$i.key" \
    >>"$DATA/node-$i.log" 2>&1 &
  pids+=($!)
done

echo "starting 3 nodes (logs: $DATA/node-{1,2,3}.log)..."
for _ in $(seq 1 150); do
  if "$CHORUS" cluster status --nodes $NODES --timeout-ms 500 2>/dev/null | grep -q ' leader '; then
    break
  fi
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "make run: a node exited; see $DATA/node-*.log" >&2
      tail -n 5 "$DATA"/node-*.log >&2
      exit 1
    fi
  done
  sleep 0.2
done

"$CHORUS" cluster status --nodes $NODES
cat <<TXT

The cluster is up. In another terminal:

  redis-cli -p 7001 set hello world        # a write, committed on a majority
  redis-cli -p 7002 get hello              # a linearizable read on another node
  $CHORUS cluster status
                                           # roles, terms, commit/applied index, lag
  curl -s http://127.0.0.1:7201/metrics    # Prometheus metrics (also :7202, :7203)

Ctrl-C stops all three nodes cleanly (the data stays in $DATA).
TXT

last=""
while true; do
  sleep 2
  now=$("$CHORUS" cluster status --nodes $NODES --timeout-ms 1000 2>&1 | awk '{print $1, $2, $3}' | tr '\n' ' ')
  if [ "$now" != "$last" ]; then
    echo
    echo "$(date +%H:%M:%S) cluster status:"
    "$CHORUS" cluster status --nodes $NODES --timeout-ms 1000 || true
    last=$now
  fi
done
