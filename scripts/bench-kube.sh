#!/usr/bin/env bash
# Kubernetes-shaped benchmark (docs/PERFORMANCE.md): the kube-apiserver's own request mix,
# through a real kube-apiserver (1.36.2, the anchor), against Strata and against etcd 3.6.14
# (and Debian's etcd 3.4.23 when /usr/bin/etcd is there).
#
# What it measures, per store and round, each round on a fresh store and a fresh apiserver:
#   CLIENTS workers, each in its own namespace, loop for DURATION seconds over what controllers
#   and kubectl users do to an object: create a ConfigMap, GET it, update it (PUT of the object
#   just read, carrying its resourceVersion: optimistic concurrency, as controllers do), LIST
#   the namespace's ConfigMaps (limit=50), and every 4th iteration DELETE the oldest one.
#   Every HTTP call is one operation. One watch per namespace (an informer's: LIST, then WATCH
#   from its resourceVersion) stays open and is drained: the apiserver serves it from its watch
#   cache, fed by its own watch on the store, as in a real cluster.
# It reports:
#   - operations/s, total and per kind, and the HTTP p50/p99 the client sees;
#   - 409s (update conflicts) and other failures, counted apart: each worker owns its objects,
#     so both should be 0;
#   - apiserver-to-store latency from the apiserver's own histogram etcd_request_duration_seconds
#     (labels operation, resource, group), scraped from /metrics before and after the timed
#     phase: mean = Δsum/Δcount per operation for resource=configmaps, and p99 as the upper
#     bound of the Δbucket it falls in (the buckets are coarse: 5, 25, 50, 100 ms, ...), and
#     how many store requests of each operation the phase caused (a DELETE reads first; a
#     LIST served from the watch cache costs the store a "get" of the current revision);
#   - CPU time of the store and of the apiserver per operation (/proc/<pid>/stat), the steadiest
#     figure on a shared machine, and the load generator's own (it shares the cores);
#   - whether the apiserver turned on RequestWatchProgress for the store (it does from etcd
#     3.4.31 / 3.5.13 on, by the version the store reports): with it, consistent LISTs are
#     served from the watch cache, without it they go to the store, so the two stores only
#     carry the same mix when both say "on".
# Then per store the median (min–max) over the rounds, and the ratio Strata / etcd 3.6.14 of
# the medians.
#
# Needs: target/release/strata (else target/debug/strata; STRATA=path to choose), the anchors
# unpacked into target/anchors (`../shared/anchors/unpack target/anchors`: etcd and
# kube-apiserver), python3 (standard library only), openssl, curl. The load generator, the
# apiserver and the store share the machine's cores: read ratios, not absolute numbers.
#
# Run:  ROUNDS=3 DURATION=20 CLIENTS=16 scripts/bench-kube.sh
#   also STORES="strata etcd36 etcd34" (default: all that exist), VALUE_SIZE=1024 (bytes of
#   data per ConfigMap), KEEP=1 (keep the work dir with the logs).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ANCHORS=${ANCHORS:-$ROOT/target/anchors}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-16}
VALUE_SIZE=${VALUE_SIZE:-1024}
TOKEN=admin-token

if [ -z "${STRATA:-}" ]; then
  STRATA=$ROOT/target/release/strata
  [ -x "$STRATA" ] || STRATA=$ROOT/target/debug/strata
fi
declare -A BIN=([strata]=$STRATA [etcd36]=$ANCHORS/etcd [etcd34]=/usr/bin/etcd)
if [ -z "${STORES:-}" ]; then
  STORES="strata etcd36"
  [ -x /usr/bin/etcd ] && STORES="$STORES etcd34"
fi
APISERVER=$ANCHORS/kube-apiserver
for f in "$APISERVER" $(for s in $STORES; do echo "${BIN[$s]}"; done); do
  [ -x "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 1; }
done
echo "strata binary: $STRATA ($(stat -c %y "$STRATA" | cut -d. -f1))"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-kube.XXXXXX")
STORE_PID= API_PID=
stop() { # pid: TERM, then KILL if it is still there after 20 s; reap it
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
cleanup() {
  stop "$API_PID"; stop "$STORE_PID"; API_PID= STORE_PID=
  if [ "${KEEP:-}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
store_healthy() { curl -sf "http://127.0.0.1:$1/health" | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(curl -sk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$1/readyz")" = ok ]; }

# The apiserver's service-account keys and token file, made once: a PKCS#8 private key to
# sign with and its public key ("BEGIN PUBLIC KEY") to verify with, which the apiserver reads.
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
openssl rsa -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub" 2>/dev/null
echo "$TOKEN,admin,uid-admin,\"system:masters\"" > "$WORK/tokens.csv"

# The load generator and the report. `run` drives one apiserver and prints one JSON result;
# `line` prints a result as one summary line; `summary` prints the medians over all results.
cat > "$WORK/kube_load.py" <<'PY'
import collections, http.client, json, os, re, ssl, statistics, sys, threading, time

TLS = ssl._create_unverified_context()  # the apiserver's self-signed serving certificate
KINDS = ["create", "get", "update", "list", "delete"]
CLK = os.sysconf("SC_CLK_TCK")


def connect(port):
    return http.client.HTTPSConnection("127.0.0.1", port, context=TLS, timeout=60)


class Api:
    """One keep-alive HTTPS connection, as a client-go transport keeps one."""

    def __init__(self, port, token):
        self.port, self.conn = port, connect(port)
        self.headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}

    def call(self, method, path, body=None):
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except (http.client.HTTPException, OSError) as e:
            # No retry: a retried POST would count twice or come back 409. A new connection
            # for the next call.
            self.conn.close()
            self.conn = connect(self.port)
            return 0, str(e).encode()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


METRIC = re.compile(r'^etcd_request_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="([^"]*)"')


def scrape(api):
    """etcd_request_duration_seconds from /metrics: {(series, operation, resource, le): value}."""
    status, body = api.call("GET", "/metrics")
    if status != 200:
        raise SystemExit(f"GET /metrics: {status} {body[:200]!r}")
    out = {}
    for line in body.decode().splitlines():
        m = METRIC.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(2)))
            key = (m.group(1), labels.get("operation", ""), labels.get("resource", ""), labels.get("le", ""))
            out[key] = float(m.group(3))
    return out


def store_latency(before, after, resource):
    """Per operation (and "all") on one resource: store requests, mean seconds, and the upper
    bound of the bucket holding the 99th percentile."""
    delta = collections.defaultdict(float)
    for key, value in after.items():
        series, op, res, le = key
        if res == resource:
            d = value - before.get(key, 0.0)
            delta[(series, op, le)] += d
            delta[(series, "all", le)] += d
    result = {}
    for op in sorted({op for (_, op, _) in delta}):
        count = delta[("count", op, "")]
        if count <= 0:
            continue
        buckets = sorted(((float(le), v) for (s, o, le), v in delta.items() if s == "bucket" and o == op))
        p99 = None
        for le, cumulative in buckets:
            if cumulative >= 0.99 * count:
                p99 = le
                break
        result[op] = {"n": int(count), "mean": delta[("sum", op, "")] / count, "p99le": p99}
    return result


def config_map(name, size, gen):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "data": {"gen": str(gen), "payload": ("x" * size)}}


def watcher(port, token, ns, counts, errors, started):
    """An informer's reflector on the namespace's ConfigMaps: LIST, then WATCH from the list's
    resourceVersion with bookmarks; drains the stream and counts its events. (A watch without
    a resourceVersion but with bookmarks is refused by this apiserver when the store does not
    get RequestWatchProgress; reflectors never send one.)"""
    api = Api(port, token)
    status, body = api.call("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=500")
    rv = json.loads(body)["metadata"]["resourceVersion"] if status == 200 else ""
    api.conn.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&allowWatchBookmarks=true"
                     f"&resourceVersion={rv}&timeoutSeconds=3600", headers=api.headers)
    resp = api.conn.getresponse()
    started.release()
    if resp.status != 200:
        errors[ns] += 1
        return
    while True:
        line = resp.readline()
        if not line:
            errors[ns] += 1  # the stream ended early: timeoutSeconds outlasts any run
            return
        if line.startswith(b'{"type":"ERROR"'):
            errors[ns] += 1
        counts[ns] += 1


def run(port, token, clients, duration, size, store_pid, api_pid):
    admin = Api(port, token)
    namespaces = [f"bench-{i}" for i in range(clients)]
    for ns in namespaces:
        status, body = admin.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if status != 201:
            raise SystemExit(f"create namespace {ns}: {status} {body[:300]!r}")

    # Watches first, so they see every event of the timed phase.
    events, watch_errors = collections.Counter(), collections.Counter()
    started = threading.Semaphore(0)
    for ns in namespaces:
        threading.Thread(target=watcher, args=(port, token, ns, events, watch_errors, started), daemon=True).start()
    for _ in namespaces:
        started.acquire()

    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = [0.0]
    results = [None] * clients

    def worker(i):
        api, ns = Api(port, token), namespaces[i]
        base = f"/api/v1/namespaces/{ns}/configmaps"
        lat = {k: [] for k in KINDS}
        status = {k: collections.Counter() for k in KINDS}
        live = collections.deque()  # names created and not yet deleted, oldest first
        n = 0

        def timed(kind, method, path, body=None, record=True):
            t = time.perf_counter()
            code, payload = api.call(method, path, body)
            if record:
                lat[kind].append(time.perf_counter() - t)
                status[kind][code] += 1
            return code, payload

        def iteration(record):
            nonlocal n
            n += 1
            name = f"cm-{n}"
            code, _ = timed("create", "POST", base, config_map(name, size, 0), record)
            if code == 201:
                live.append(name)
            code, payload = timed("get", "GET", f"{base}/{name}", None, record)
            if code == 200:
                obj = json.loads(payload)
                obj["data"]["gen"] = "1"  # keeps metadata.resourceVersion: a conflict would be a 409
                timed("update", "PUT", f"{base}/{name}", obj, record)
            timed("list", "GET", f"{base}?limit=50", None, record)
            if n % 4 == 0 and live:
                timed("delete", "DELETE", f"{base}/{live.popleft()}", None, record)

        # Warm-up (not counted): the connection's TLS handshake, the first object of the namespace.
        for _ in range(2):
            iteration(False)
        ready.wait()
        go.wait()
        while time.perf_counter() < deadline[0]:
            iteration(True)
        results[i] = (lat, status)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    before = scrape(admin)
    events_before = sum(events.values())
    cpu_before = (cpu_seconds(store_pid), cpu_seconds(api_pid), time.process_time())
    start = time.perf_counter()
    deadline[0] = start + duration
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu_after = (cpu_seconds(store_pid), cpu_seconds(api_pid), time.process_time())
    after = scrape(admin)
    time.sleep(0.5)  # the last events reach the watchers
    events_during = sum(events.values()) - events_before

    lat = {k: [] for k in KINDS}
    status = {k: collections.Counter() for k in KINDS}
    for r in results:
        if r is None:  # the worker died (its traceback is on stderr)
            continue
        for k in KINDS:
            lat[k] += r[0][k]
            status[k].update(r[1][k])
    everything = sorted(x for k in KINDS for x in lat[k])
    ops = len(everything)
    per_op = max(ops, 1)  # (0 operations only when every worker died)

    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None

    ok = {200, 201}
    return {
        "ops": ops, "elapsed": elapsed, "ops_s": ops / elapsed,
        "per_kind": {k: {"ops_s": len(lat[k]) / elapsed,
                         "p50": pct(sorted(lat[k]), 0.5), "p99": pct(sorted(lat[k]), 0.99)} for k in KINDS},
        "p50": pct(everything, 0.5), "p99": pct(everything, 0.99),
        "conflicts": sum(s[409] for s in status.values()),
        "failures": {f"{k}:{c}": n for k in KINDS for c, n in status[k].items() if c not in ok and c != 409},
        "store": store_latency(before, after, "configmaps"),
        "store_cpu_us_per_op": (cpu_after[0] - cpu_before[0]) / per_op * 1e6,
        "apiserver_cpu_us_per_op": (cpu_after[1] - cpu_before[1]) / per_op * 1e6,
        # The load generator's own CPU: on a small machine it competes with the servers.
        "client_cpu_us_per_op": (cpu_after[2] - cpu_before[2]) / per_op * 1e6,
        "watch_events": events_during,
        "watch_errors": sum(watch_errors.values()),
        "workers_failed": results.count(None),
    }


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def line(r):
    kinds = " ".join(f"{k} {r['per_kind'][k]['ops_s']:.0f}" for k in KINDS)
    store = r["store"]
    # mean ms / how many store requests of that operation the phase caused
    per_op = " ".join(f"{op} {ms(store[op]['mean'])}/{store[op]['n']}" for op in KINDS if op in store)
    extra = " ".join(f"{op} {ms(v['mean'])}/{v['n']}" for op, v in store.items() if op not in KINDS + ["all"])
    a = store.get("all", {"mean": None, "n": 0, "p99le": None})
    fails = sum(r["failures"].values())
    if r["workers_failed"]:
        print(f"{r['label']} round {r['round']}: {r['workers_failed']} worker(s) died; their operations are missing")
    print(f"{r['label']:<7} round {r['round']}: {r['ops_s']:.0f} ops/s ({kinds}); "
          f"http p50 {ms(r['p50'])} ms p99 {ms(r['p99'])} ms; 409s {r['conflicts']} failures {fails}"
          + (f" {r['failures']}" if fails else ""))
    print(f"{'':<7}   store (configmaps): mean {ms(a['mean'])} ms (ms/requests: {per_op}{'; ' + extra if extra else ''}), "
          f"p99 <= {ms(a['p99le'])} ms, {a['n'] / max(r['ops'], 1):.2f} store requests per op; "
          f"CPU/op store {r['store_cpu_us_per_op']:.0f} us apiserver {r['apiserver_cpu_us_per_op']:.0f} us "
          f"client {r['client_cpu_us_per_op']:.0f} us; "
          f"watch events {r['watch_events']} (errors {r['watch_errors']}); "
          f"reports {r['version']}, progress notify {r['progress']}")


def summary(rows):
    by = collections.OrderedDict()
    for r in rows:
        by.setdefault(r["label"], []).append(r)
    metrics = [("ops/s", lambda r: r["ops_s"], "{:.0f}"),
               ("http p50 ms", lambda r: r["p50"] * 1e3, "{:.2f}"),
               ("http p99 ms", lambda r: r["p99"] * 1e3, "{:.2f}"),
               ("store mean ms", lambda r: r["store"]["all"]["mean"] * 1e3, "{:.2f}"),
               ("store CPU us/op", lambda r: r["store_cpu_us_per_op"], "{:.0f}"),
               ("apiserver CPU us/op", lambda r: r["apiserver_cpu_us_per_op"], "{:.0f}")]
    medians = {}
    print(f"median (min-max) over {max(len(v) for v in by.values())} round(s):")
    for label, rs in by.items():
        parts = []
        for name, f, fmt in metrics:
            xs = [f(r) for r in rs]
            med = statistics.median(xs)
            medians[(label, name)] = med
            parts.append(f"{name} {fmt.format(med)} ({fmt.format(min(xs))}-{fmt.format(max(xs))})")
        print(f"  {label:<7} " + "; ".join(parts))
    if "strata" in by and "etcd36" in by:
        print("Strata / etcd 3.6.14 (medians; ops/s above 1 and the others below 1 favour Strata): " + "; ".join(
            f"{name} {medians[('strata', name)] / medians[('etcd36', name)]:.2f}x" for name, _, _ in metrics
            if medians[("etcd36", name)]))
        progress = {label: {r["progress"] for r in by[label]} for label in ("strata", "etcd36")}
        if progress["strata"] != progress["etcd36"]:
            print(f"note: progress notify strata {sorted(progress['strata'])} vs etcd36 {sorted(progress['etcd36'])}: "
                  "consistent LISTs went to one store and to the other's watch cache, not the same mix "
                  f"(strata reported {sorted({r['version'] for r in by['strata']})}; a stale binary?)")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        port, token, clients, duration, size, store_pid, api_pid = sys.argv[2:9]
        result = run(int(port), token, int(clients), float(duration), int(size), int(store_pid), int(api_pid))
        print(json.dumps(result))
    elif sys.argv[1] == "line":
        line(json.loads(sys.stdin.read()))
    elif sys.argv[1] == "summary":
        summary([json.loads(l) for l in open(sys.argv[2]) if l.strip()])
PY

# round STORE N: one fresh store and apiserver, one timed phase; appends the result to results.jsonl.
round() {
  local name=$1 r=$2 dir=$WORK/$1-$2 port peer api
  mkdir -p "$dir"
  port=$(free_port); peer=$(free_port); api=$(free_port)
  ETCD_UNSUPPORTED_ARCH=amd64 "${BIN[$name]}" --data-dir "$dir/data" \
    --listen-client-urls http://127.0.0.1:$port --advertise-client-urls http://127.0.0.1:$port \
    --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer \
    --initial-cluster default=http://127.0.0.1:$peer > "$dir/store.log" 2>&1 &
  STORE_PID=$!
  if ! wait_for 30 store_healthy $port; then
    echo "$name round $r: store not healthy within 30 s; log:" >&2; tail -20 "$dir/store.log" >&2
    stop "$STORE_PID"; STORE_PID=; return 1
  fi
  local version
  version=$(curl -s "http://127.0.0.1:$port/version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["etcdserver"])')

  # The flags of the anchors README and crates/strata/tests/e2e/kubernetes/apiserver.rs; one
  # apiserver, so no endpoint reconciler. system:masters is exempt from priority and fairness,
  # so the apiserver does not throttle the workers.
  "$APISERVER" --etcd-servers=http://127.0.0.1:$port --etcd-compaction-interval=1m \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$WORK/sa.pub" --service-account-signing-key-file="$WORK/sa.key" \
    --authorization-mode=RBAC --token-auth-file="$WORK/tokens.csv" \
    --secure-port=$api --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --cert-dir="$dir/certs" --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
    > "$dir/apiserver.log" 2>&1 &
  API_PID=$!
  if ! wait_for 120 apiserver_ready $api; then
    echo "$name round $r: apiserver /readyz not ok within 120 s; log:" >&2; tail -20 "$dir/apiserver.log" >&2
    stop "$API_PID"; API_PID=; stop "$STORE_PID"; STORE_PID=; return 1
  fi
  # The feature checker logs only a refusal; it runs at start, before /readyz.
  local progress=on
  grep -q 'RequestWatchProgress feature is not supported' "$dir/apiserver.log" && progress=off
  local ready_lines
  ready_lines=$(wc -l < "$dir/apiserver.log")

  local out
  if out=$(python3 "$WORK/kube_load.py" run $api $TOKEN "$CLIENTS" "$DURATION" "$VALUE_SIZE" $STORE_PID $API_PID); then
    out=$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(label=sys.argv[2], round=int(sys.argv[3]), version=sys.argv[4], progress=sys.argv[5]); print(json.dumps(r))' \
      "$out" "$name" "$r" "$version" "$progress")
    echo "$out" >> "$WORK/results.jsonl"
    python3 "$WORK/kube_load.py" line <<< "$out"
  else
    echo "$name round $r: load generator failed; apiserver log tail:" >&2; tail -20 "$dir/apiserver.log" >&2
  fi
  # klog's error lines (E<mmdd> <time> ...) logged after /readyz: start-up logs a few
  # harmless ones (no kube-system namespace yet, ...).
  local errors
  errors=$(tail -n +$((ready_lines + 1)) "$dir/apiserver.log" | grep -aE '^([^ ]* )?E[0-9]{4} ')
  if [ -n "$errors" ]; then
    echo "          apiserver logged $(wc -l <<< "$errors") error line(s), first: $(head -1 <<< "$errors" | cut -c1-220)"
  fi

  stop "$API_PID"; API_PID=
  stop "$STORE_PID"; STORE_PID=
  [ "${KEEP:-}" = 1 ] || rm -rf "$dir"
}

echo "kube-apiserver mix: $CLIENTS clients, ${DURATION}s, $ROUNDS round(s), ConfigMaps of ${VALUE_SIZE} B; stores: $STORES"
# Rounds outermost, so a change in the machine's load over the run falls on every store alike.
for r in $(seq "$ROUNDS"); do
  for name in $STORES; do
    round "$name" "$r"
  done
done
[ -s "$WORK/results.jsonl" ] && python3 "$WORK/kube_load.py" summary "$WORK/results.jsonl"
