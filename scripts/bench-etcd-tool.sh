#!/usr/bin/env bash
# Strata against etcd 3.6.14 and 3.4.23 measured with etcd's own load tool
# (`benchmark`, 3.6.14), so the performance table does not rest on
# strata-bench alone (docs/PERFORMANCE.md, "etcd's benchmark tool").
#
# Each round starts every server fresh (empty data dir, loopback, the same
# flags), runs every row against it, stops it; rounds alternate the server
# order. Prints "server round row requests/s p50 p99" lines, then per row the
# median (min–max) requests/s of each server and the ratios of the medians.
#
# Needs: target/release/strata (`cargo build --release -p strata`), the
# anchors unpacked into target/anchors (`../shared/anchors/unpack
# target/anchors`) and Debian's /usr/bin/etcd. Run: `ROUNDS=3
# scripts/bench-etcd-tool.sh` (STRATA=path for another binary). A few minutes per round.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
ANCH=${STRATA_ANCHORS:-$ROOT/target/anchors}
B=$ANCH/benchmark
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-strata etcd36 etcd34}
declare -A BIN=([strata]=${STRATA:-$ROOT/target/release/strata} [etcd36]=$ANCH/etcd [etcd34]=/usr/bin/etcd)
WORK=$(mktemp -d)
trap 'kill $(cat $WORK/pid 2>/dev/null) 2>/dev/null; rm -rf $WORK' EXIT

# name|benchmark arguments. 256-byte values and 8-byte keys as strata-bench's table.
ROWS=(
  "put c1|--clients 1 --conns 1 put --total 3000 --key-size 8 --val-size 256 --key-space-size 100000"
  "put c16|--clients 16 --conns 4 put --total 20000 --key-size 8 --val-size 256 --key-space-size 100000"
  "put c256|--clients 256 --conns 16 put --total 40000 --key-size 8 --val-size 256 --key-space-size 100000"
  "get l c16|--clients 16 --conns 4 range foo --consistency l --total 20000"
  "get s c16|--clients 16 --conns 4 range foo --consistency s --total 20000"
  "get l c256|--clients 256 --conns 16 range foo --consistency l --total 40000"
  "txn-put c16|--clients 16 --conns 4 txn-put --total 20000 --key-size 8 --val-size 256 --key-space-size 100000"
  "lease-keepalive c16|--clients 16 --conns 4 lease-keepalive --total 20000"
)

start() { # server -> starts it on 127.0.0.1:31379
  local dir=$WORK/data-$1
  rm -rf "$dir"
  ETCD_UNSUPPORTED_ARCH=amd64 ${BIN[$1]} --data-dir "$dir" \
    --listen-client-urls http://127.0.0.1:31379 --advertise-client-urls http://127.0.0.1:31379 \
    --listen-peer-urls http://127.0.0.1:31380 --initial-advertise-peer-urls http://127.0.0.1:31380 \
    --initial-cluster default=http://127.0.0.1:31380 >"$WORK/$1.log" 2>&1 &
  echo $! >"$WORK/pid"
  for _ in $(seq 100); do
    curl -sf http://127.0.0.1:31379/health >/dev/null && return
    sleep 0.1
  done
  echo "$1 did not start" >&2
}

stop() {
  kill "$(cat "$WORK/pid")" 2>/dev/null
  wait "$(cat "$WORK/pid")" 2>/dev/null
  sleep 1
}

one_round() { # server round
  start "$1"
  # The key the range rows read.
  "$B" --endpoints 127.0.0.1:31379 put --total 1 --key-size 3 --val-size 256 >/dev/null 2>&1
  "$ANCH/etcdctl" --endpoints 127.0.0.1:31379 put foo bar >/dev/null
  for row in "${ROWS[@]}"; do
    local name=${row%%|*} args=${row#*|} out
    # shellcheck disable=SC2086
    out=$("$B" --endpoints 127.0.0.1:31379 $args 2>/dev/null)
    local rps p50 p99
    rps=$(sed -n 's/.*Requests\/sec:\s*//p' <<<"$out" | head -1)
    p50=$(sed -n 's/.*50% in \([0-9.]*\) secs.*/\1/p' <<<"$out" | head -1)
    p99=$(sed -n 's/.*99% in \([0-9.]*\) secs.*/\1/p' <<<"$out" | head -1)
    echo "$1 $2 ${name// /_} ${rps:-0} ${p50:-0} ${p99:-0}"
  done
  stop
}

for r in $(seq "$ROUNDS"); do
  order=$SERVERS
  # Alternate the order so that no server always runs on a warmer machine.
  [ $((r % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
  for s in $order; do one_round "$s" "$r"; done
done | tee "$WORK/results"

python3 - "$WORK/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    server, _round, row, rps, _p50, _p99 = line.split()
    rows.setdefault(row, {}).setdefault(server, []).append(float(rps))
def fmt(v): return f"{statistics.median(v):,.0f} ({min(v):,.0f}–{max(v):,.0f})"
print("\n| row | " + " | ".join(next(iter(rows.values())).keys()) + " | strata/etcd36 | strata/etcd34 |")
for row, by in rows.items():
    med = {s: statistics.median(v) for s, v in by.items()}
    ratio = lambda b: f"{med['strata'] / med[b]:.2f}" if med.get(b) and 'strata' in med else "-"
    print(f"| {row.replace('_', ' ')} | " + " | ".join(fmt(v) for v in by.values()) + f" | {ratio('etcd36')} | {ratio('etcd34')} |")
EOF
