#!/usr/bin/env bash
# TLS cost (docs/PERFORMANCE.md, "TLS"): put and linearizable range, plain vs TLS,
# strata vs etcd 3.6.14 vs etcd 3.4.23, measured with etcd's own benchmark tool
# (3.6.14), 3 rounds each, all in one run. Needs: target/release/strata,
# ../shared/anchors unpacked into /tmp/anch (`../shared/anchors/unpack /tmp/anch`),
# Debian's etcd, and in $C a ca.pem and a server s.pem/s-key.pem for 127.0.0.1
# (any CA; e.g. made with openssl).
set -u
B=/tmp/anch/benchmark
C=${C:-/tmp/mytls}
ROUNDS=${ROUNDS:-3}
declare -A BIN=([strata]=$(cd "$(dirname "$0")/.." && pwd)/target/release/strata [etcd36]=/tmp/anch/etcd [etcd34]=/usr/bin/etcd)
run_server() { # name mode -> starts, echoes endpoint
  local name=$1 mode=$2 dir=${TMPDIR:-/tmp}/data-$1-$2 port=31379 peer=31380
  rm -rf $dir
  local scheme=http extra=()
  if [ $mode = tls ]; then scheme=https; extra=(--cert-file $C/s.pem --key-file $C/s-key.pem); fi
  ETCD_UNSUPPORTED_ARCH=amd64 ${BIN[$name]} --data-dir $dir --listen-client-urls $scheme://127.0.0.1:$port --advertise-client-urls $scheme://127.0.0.1:$port \
    --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer --initial-cluster default=http://127.0.0.1:$peer \
    "${extra[@]}" > ${TMPDIR:-/tmp}/$name-$mode.log 2>&1 &
  echo $! > ${TMPDIR:-/tmp}/pid
  sleep 3
}
for name in strata etcd36 etcd34; do
  for mode in plain tls; do
    run_server $name $mode
    ep=127.0.0.1:31379; tlsf=()
    if [ $mode = tls ]; then ep=https://127.0.0.1:31379; tlsf=(--cacert $C/ca.pem); fi
    $B --endpoints $ep "${tlsf[@]}" put --total 10 --key-size 3 --val-size 256 >/dev/null 2>&1
    /tmp/anch/etcdctl --endpoints $ep "${tlsf[@]}" put foo bar >/dev/null 2>&1
    for r in $(seq $ROUNDS); do
      p=$($B --endpoints $ep "${tlsf[@]}" --clients 16 --conns 4 put --total 20000 --key-size 8 --val-size 256 --key-space-size 100000 2>/dev/null | sed -n 's/.*Requests\/sec:\s*//p')
      g=$($B --endpoints $ep "${tlsf[@]}" --clients 16 --conns 4 range foo --consistency l --total 20000 2>/dev/null | sed -n 's/.*Requests\/sec:\s*//p')
      echo "$name $mode round$r put $p get $g"
    done
    kill $(cat ${TMPDIR:-/tmp}/pid); sleep 1
  done
done
