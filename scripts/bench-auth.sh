#!/usr/bin/env bash
# Auth cost (docs/PERFORMANCE.md, "Auth"): put and linearizable range without auth,
# with auth and a simple token, and with auth and a JWT (ES256), strata vs etcd 3.6.14
# vs etcd 3.4.23, measured with etcd's own benchmark tool (3.6.14), 3 rounds each, all
# in one run. The benchmark logs in as `bench`, a user whose role may read and write
# every key from \x01 on (not root: the permission check runs). Needs:
# target/release/strata, ../shared/anchors unpacked into /tmp/anch
# (`../shared/anchors/unpack /tmp/anch`), Debian's etcd, and openssl.
set -u
B=/tmp/anch/benchmark
CTL=/tmp/anch/etcdctl
ROUNDS=${ROUNDS:-3}
K=${TMPDIR:-/tmp}/bench-auth-keys
mkdir -p $K
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out $K/jwt.key
openssl ec -in $K/jwt.key -pubout -out $K/jwt.pub 2>/dev/null
declare -A BIN=([strata]=$(cd "$(dirname "$0")/.." && pwd)/target/release/strata [etcd36]=/tmp/anch/etcd [etcd34]=/usr/bin/etcd)
run_server() { # name mode
  local name=$1 mode=$2 dir=${TMPDIR:-/tmp}/data-$1-$2 port=31379 peer=31380 extra=()
  rm -rf $dir
  if [ $mode = jwt ]; then extra=(--auth-token "jwt,pub-key=$K/jwt.pub,priv-key=$K/jwt.key,sign-method=ES256"); fi
  ETCD_UNSUPPORTED_ARCH=amd64 ${BIN[$name]} --data-dir $dir --listen-client-urls http://127.0.0.1:$port --advertise-client-urls http://127.0.0.1:$port \
    --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer --initial-cluster default=http://127.0.0.1:$peer \
    "${extra[@]}" > ${TMPDIR:-/tmp}/$name-$mode.log 2>&1 &
  echo $! > ${TMPDIR:-/tmp}/pid
  sleep 3
}
ep=127.0.0.1:31379
for name in strata etcd36 etcd34; do
  for mode in none simple jwt; do
    run_server $name $mode
    user=()
    if [ $mode != none ]; then
      $CTL --endpoints $ep user add root:rootpw >/dev/null
      $CTL --endpoints $ep user grant-role root root >/dev/null
      $CTL --endpoints $ep user add bench:benchpw >/dev/null
      $CTL --endpoints $ep role add bench >/dev/null
      $CTL --endpoints $ep role grant-permission bench readwrite $'\x01' --from-key >/dev/null
      $CTL --endpoints $ep user grant-role bench bench >/dev/null
      $CTL --endpoints $ep auth enable >/dev/null
      user=(--user bench:benchpw)
    fi
    $CTL --endpoints $ep "${user[@]}" put foo bar >/dev/null
    for r in $(seq $ROUNDS); do
      p=$($B --endpoints $ep "${user[@]}" --clients 16 --conns 4 put --total 20000 --key-size 8 --val-size 256 --key-space-size 100000 2>/dev/null | sed -n 's/.*Requests\/sec:\s*//p')
      g=$($B --endpoints $ep "${user[@]}" --clients 16 --conns 4 range foo --consistency l --total 20000 2>/dev/null | sed -n 's/.*Requests\/sec:\s*//p')
      echo "$name $mode round$r put $p get $g"
    done
    kill $(cat ${TMPDIR:-/tmp}/pid); sleep 1
  done
done
