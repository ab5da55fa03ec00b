#!/usr/bin/env bash
# Hand-off rate and client-visible errors of a scale step, at a realistic
# size: a real etcd and three sesh-nodes with --etcd (TLS and tokens, as in
# production), KEYS sessions preloaded, then n4 joins and is decommissioned
# again, each step under a closed-loop web mix from sesh-load. Reports, per
# step, the hand-off (sessions and bytes received, seconds, sessions/s,
# MB/s), the share of all replicas that moved against the 1/N that
# placement promises, and sesh-load's errors.
#
#   KEYS=1000000 bash bench/scale.sh          # about 4 minutes
#   KEYS=100000 RATE_MB=8 bash bench/scale.sh # RATE_MB: --handoff_max_bytes_per_s in MiB (0: unbounded)
#
# Everything runs on loopback ports picked at start, in a temp dir, and is
# stopped (by PID) at the end. Results: $OUT/report.txt (default
# bench/results/scale-<time>/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
KEYS=${KEYS:-1000000}
RATE_MB=${RATE_MB:-0}
CONCURRENCY=${CONCURRENCY:-32}
# Seconds of load around each step (the step must end within it).
LOAD_S=${LOAD_S:-$((30 + KEYS / 10000))}
OUT=${OUT:-$root/bench/results/scale-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

log() { echo "[scale.sh $(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tmp=$(mktemp -d /tmp/sesh-scale.XXXXXX)
pids=()
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  mkdir -p "$OUT/logs" && cp "$tmp"/*.log "$OUT/logs/" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v etcd >/dev/null || die "etcd is not installed (bash tools/setup.sh)"
bazel build //node:sesh-node //client:seshctl //bench:sesh-load 2>&1 | tail -1 >&2
mkdir "$tmp/bin"
cp bazel-bin/node/sesh-node bazel-bin/client/seshctl bazel-bin/bench/sesh-load "$tmp/bin/"
git rev-parse --short HEAD >"$OUT/commit.txt" 2>/dev/null || true

read -r e1 e2 p1 p2 p3 p4 q1 q2 q3 q4 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
bash tools/gen_certs.sh "$tmp/tls" n1 n2 n3 n4 >/dev/null 2>&1
client=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench")
admin=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.admin")

etcd --name scale --data-dir "$tmp/etcd" \
  --listen-client-urls "http://127.0.0.1:$e1" --advertise-client-urls "http://127.0.0.1:$e1" \
  --listen-peer-urls "http://127.0.0.1:$e2" --initial-advertise-peer-urls "http://127.0.0.1:$e2" \
  --initial-cluster "scale=http://127.0.0.1:$e2" >"$tmp/etcd.log" 2>&1 &
pids+=($!)

start_node() {  # i client_port peer_port [flags]
  local i=$1 port=$2 peer=$3
  shift 3
  "$tmp/bin/sesh-node" --node_id="n$i" --listen="127.0.0.1:$port" \
    --peer_listen="127.0.0.1:$peer" --data_dir="$tmp/n$i" \
    --tls_cert="$tmp/tls/n$i.pem" --tls_key="$tmp/tls/n$i.key" \
    --cluster_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/tokens" \
    --etcd="127.0.0.1:$e1" --port_file="$tmp/n$i.port" "$@" >"$tmp/n$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do
    [ -f "$tmp/n$i.port" ] && return 0
    sleep 0.1
  done
  tail -5 "$tmp/n$i.log" >&2
  die "n$i did not start"
}

# Members as "n1:NORMAL n2:NORMAL ...", from n1.
members() {
  "$tmp/bin/seshctl" --addr="127.0.0.1:$p1" "${admin[@]}" --json status 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); n=d["nodes"][0]["membership"]; print(" ".join(m["id"]+":"+m["state"] for m in n["members"]))' 2>/dev/null || true
}
wait_members() {  # expected
  for _ in $(seq 1 3000); do
    [ "$(members)" = "$1" ] && return 0
    sleep 0.2
  done
  die "membership did not become '$1' (now '$(members)')"
}

# etcd accepts connections before it serves: wait for its health check.
for _ in $(seq 1 200); do
  python3 -c "import json, urllib.request as u; assert json.load(u.urlopen('http://127.0.0.1:$e1/health', timeout=1))['health'] == 'true'" 2>/dev/null && break
  sleep 0.1
done
start_node 1 "$p1" "$q1"
start_node 2 "$p2" "$q2"
start_node 3 "$p3" "$q3"
wait_members "n1:NORMAL n2:NORMAL n3:NORMAL"
log "3 nodes managed in etcd; preloading $KEYS sessions"
"$tmp/bin/sesh-load" --addr="127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3" "${client[@]}" \
  --keys="$KEYS" --keys_file="$tmp/keys" --duration_s=1 --mix=get_touch:1 \
  --progress=false >"$OUT/preload.txt" 2>&1
# Closed-loop web mix while a step runs; its report names the errors.
load() {  # name seconds
  "$tmp/bin/sesh-load" --addr="127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3" "${client[@]}" \
    --keys="$KEYS" --keys_file="$tmp/keys" --skip_preload --duration_s="$2" \
    --concurrency="$CONCURRENCY" --mix=get_touch:8,update:1,create:1 \
    --progress=false >"$OUT/load-$1.txt" 2>&1 &
  load_pid=$!
}
stored() {  # node id -> its stored_sessions
  "$tmp/bin/seshctl" --addr="127.0.0.1:$p1" "${admin[@]}" --json status |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print([n["stored_sessions"] for n in d["nodes"] if n["id"]==sys.argv[1]][0])' "$1"
}

rate=$((RATE_MB * 1024 * 1024))
load join "$LOAD_S"
sleep 3
sessions_join=$(stored n1)  # every session: n1 holds all of them at 3 nodes
log "n4 joins (--handoff_max_bytes_per_s=$rate)"
join_start=$(date +%s.%N)
start_node 4 "$p4" "$q4" --handoff_max_bytes_per_s="$rate"
wait_members "n1:NORMAL n2:NORMAL n3:NORMAL n4:NORMAL"
join_s=$(python3 -c "import time; print(round(time.time() - $join_start, 1))")
wait "$load_pid" || true
sleep 5
load leave "$LOAD_S"
sleep 3
# Sessions now: n4's share plus the others' count the same sessions at
# RF 3 of 4, so count them on the whole cluster.
sessions_leave=$(( ($(stored n1) + $(stored n2) + $(stored n3) + $(stored n4)) / 3 ))
log "n4 leaves (seshctl decommission n4)"
leave_start=$(date +%s.%N)
"$tmp/bin/seshctl" --addr="127.0.0.1:$p1" "${admin[@]}" decommission n4 >&2
wait_members "n1:NORMAL n2:NORMAL n3:NORMAL"
leave_s=$(python3 -c "import time; print(round(time.time() - $leave_start, 1))")
wait "$load_pid" || true

python3 - "$tmp" "$OUT" "$sessions_join" "$sessions_leave" "$join_s" "$leave_s" "$KEYS" "$RATE_MB" >"$OUT/report.txt" <<'PY'
import glob, re, sys
tmp, out, s_join, s_leave, join_s, leave_s, keys, rate = sys.argv[1:]
counts = [int(s_join), int(s_leave)]
pat = re.compile(r"hand-off of epoch (\d+) done: (\d+) partitions, (\d+) records, (\d+) bytes in ([\d.]+) s")
steps = {}
for path in sorted(glob.glob(f"{tmp}/n*.log")):
    node = path.rsplit("/", 1)[1][:-4]
    for m in pat.finditer(open(path, errors="replace").read()):
        epoch, parts, recs, nbytes, secs = int(m[1]), int(m[2]), int(m[3]), int(m[4]), float(m[5])
        steps.setdefault(epoch, []).append((node, parts, recs, nbytes, secs))
def errors(name):
    text = open(f"{out}/load-{name}.txt", errors="replace").read()
    m = re.search(r"errors: (\d+) unexpected.*", text)
    ops = re.search(r"closed loop, [\d.]+ s .*?: (\d+) ops/s total", text)
    return (m.group(0) if m else "errors: (no report)"), (ops.group(1) if ops else "?")
print(f"Scale steps with KEYS={keys} preloaded ({counts[0]} sessions at the join, {counts[1]} at the leave), RF 3, TLS and tokens,")
print(f"--handoff_max_bytes_per_s {'unbounded' if rate == '0' else rate + ' MiB'}; hand-offs from the nodes' logs.")
print()
names = ["join n4 (3 -> 4)", "leave n4 (4 -> 3)"]
walls = [join_s, leave_s]
# The last two epochs with hand-offs: the cluster's forming came first.
for (epoch, rows), name, wall, load, sessions in zip(sorted(steps.items())[-2:], names, walls, ["join", "leave"], counts):
    recs = sum(r[2] for r in rows)
    err, ops = errors(load)
    print(f"{name}: epoch {epoch}, step took {wall} s (register to settled)")
    for node, parts, r, b, s in rows:
        print(f"  {node} fetched {parts} partitions: {r} records, {b/1e6:.1f} MB in {s:.1f} s"
              f" = {r/s if s else 0:.0f} records/s, {b/1e6/s if s else 0:.1f} MB/s")
    # Each moved session is fetched from two replicas (docs/scaling.md).
    moved = recs // 2
    print(f"  sessions moved: {moved} (records fetched / 2) = {moved/(3*sessions) if sessions else 0:.3f}"
          f" of the {3*sessions} replicas (placement: 1/4 = 0.250)")
    print(f"  load during the step: {ops} ops/s, {err}")
PY
cat "$OUT/report.txt"
