#!/usr/bin/env bash
# Sesh against Redis on this machine, side by side (README, "Performance").
#
#   KEYS=100000 DURATION=8 CONCURRENCY=64 bash bench/run.sh
#
# Builds sesh-node and the benchmarks, starts a 3-node Sesh cluster (RF 3,
# default QUORUM writes) and a redis-server (no persistence) on loopback, on
# free ports, with their data in a temporary directory, and runs sesh-load
# against both with the same key count, value size and concurrency:
#   (a) get_touch:100, closed loop: peak Get+touch (Redis: GETEX ... EX)
#   (b) get:100, closed loop: the same without the touch; (a) against (b) is
#       the sliding-expiry overhead. (a) and (b) alternate ROUNDS times and
#       the report gives medians: on this shared machine one phase can run
#       20-30% off its neighbours, and a single (a) then (b) puts all of the
#       drift after warm-up into their ratio.
#   (c) the web mix (sesh-load's default), closed loop
#   (d) get_touch:100, open loop at half of the target's own (a) peak
#   (e) a sweep of open-loop get_touch rates, 5% to 100% of (a), for the plot
#   (f) update:100, closed loop (Sesh at ONE, QUORUM and ALL; Redis SET)
#   (h) get_touch:100 on TOUCH_KEYS fresh sessions with a 60 s idle timeout,
#       where a node writes most touches (it records one only when it moves
#       last_access by 1% of the idle timeout, 600 ms here, and a session is
#       visited every few seconds), and the same on fresh sessions with the
#       realistic 30 minutes, where it writes almost none. Each preloads its
#       own set just before it (60 s sessions must not expire meanwhile).
# Sesh only: (g) replication lag under the web mix. Redis with two replicas
# (a third target, "redis-wait": a primary and two `redis-server
# --replicaof`, each write followed by WAIT 1) runs (f) and (c): the
# durability a QUORUM write has. Every Sesh run reads the nodes' touch
# counters (NodeStats, admin token), so the report gives the share of
# touches written in each phase.
# Memory (RSS, data on disk, Redis used_memory) is taken after (b), before the
# mix adds sessions and tombstones. The targets run one after the other, each
# alone on the machine: the Sesh cluster is stopped before Redis starts, and
# Redis before its replicated setup starts. With PERF=1, an extra (a)-like
# run of Sesh is profiled with perf (nodes and sesh-load), outside the table.
#
# Writes into OUT: <target>-<phase>.json (sesh-load's output), report.md,
# latency.png (p99 against throughput, from the sweeps), the plot's data,
# and logs/ (progress, node and Redis logs; ignored by git: bench/results
# keeps the report, JSON and plot). Stops exactly the processes it started,
# by PID, on any exit.
#
# Environment: KEYS (sessions, 100000), DURATION (s per phase, 8),
# CONCURRENCY (callers, 64), OUT (bench/results/<date>), WARMUP (s, 1),
# SWEEP_DURATION (s per sweep point, 3), THREADS (sesh-load driver threads
# for the closed loops, 2), OPEN_THREADS (driver threads for the open loops,
# 1: on 2 cores a second driver thread buys closed-loop throughput but, in
# open loop, mostly preempts the servers and adds latency), PERF (0),
# REPORT_ONLY (1: only rewrite the report of the run in OUT), WARM (s of
# reads warming Sesh's block caches after the preload; 90 at 10^6), ROUNDS
# (alternating rounds of (a) and (b), 3), TOUCH_KEYS (sessions of each (h)
# set, the smaller of KEYS and 100000: created and measured within 60 s).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
KEYS=${KEYS:-100000}
DURATION=${DURATION:-8}
CONCURRENCY=${CONCURRENCY:-64}
WARMUP=${WARMUP:-1}
SWEEP_DURATION=${SWEEP_DURATION:-3}
# Seconds of reads that warm Sesh's nodes before the phases. At 10^6
# sessions, 10 s get phases on fresh nodes ran at 17k, 27k, 33k, 35k, 37k,
# 38k ops/s, then level off (node CPU per get 79 -> 30 us): 30 s of warm-up
# left phases (a) and (b) on that slope, (a) the more. 90 s reaches the
# plateau.
WARM=${WARM:-$((KEYS >= 500000 ? 90 : 5))}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
OPEN_THREADS=${OPEN_THREADS:-1}
PERF=${PERF:-0}
TOUCH_KEYS=${TOUCH_KEYS:-$((KEYS < 100000 ? KEYS : 100000))}
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
# Extra sesh-node flags for A/B runs, e.g. SESH_NODE_FLAGS=--anti_entropy_interval_ms=0
SESH_NODE_FLAGS=${SESH_NODE_FLAGS:-}
# Sesh runs as in production: TLS on both ports and a namespace token.
# INSECURE=1: plaintext, no tokens (for comparison only).
INSECURE=${INSECURE:-0}
# Of the target's closed-loop (a) peak. Low ones too: without the deep
# batching of a saturated closed loop, Sesh's open-loop capacity is well
# below its closed-loop peak.
SWEEP_FRACTIONS="0.05 0.1 0.2 0.3 0.5 0.7 0.9 1.0"

mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

log() { echo "[run.sh $(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
command -v redis-cli >/dev/null || die "redis-cli is not installed"
command -v python3 >/dev/null || die "python3 is needed for the report"

tmp=$(mktemp -d /tmp/sesh-bench.XXXXXX)
node_pids=()
redis_pid=""
replica_pids=()

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${node_pids[@]}" "${replica_pids[@]}"; do stop_pid "$pid"; done
  [ -n "$redis_pid" ] && stop_pid "$redis_pid"
  cp "$tmp"/*.log "$OUT/logs/" 2>/dev/null
  rm -rf "$tmp"
  [ "$rc" -eq 0 ] || log "failed (exit $rc); partial results in $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Build --------------------------------------------------------------------
[ "${REPORT_ONLY:-0}" = 1 ] || log "building //node:sesh-node //client:seshctl //bench:all"
bazel build //node:sesh-node //client:seshctl //bench:all 2>&1 | tail -3 >&2
# Private copies: a rebuild by someone else mid-run must not swap binaries.
mkdir "$tmp/bin"
cp bazel-bin/node/sesh-node bazel-bin/client/seshctl bazel-bin/bench/sesh-load \
  bazel-bin/bench/lag_probe "$tmp/bin/"
if [ "${REPORT_ONLY:-0}" != 1 ]; then
  git -C "$root" rev-parse --short HEAD >"$OUT/commit.txt" 2>/dev/null || true
  git -C "$root" status --short >>"$OUT/commit.txt" 2>/dev/null || true
fi

# --- Servers --------------------------------------------------------------------
read -r p1 p2 p3 q1 q2 q3 rport wport rr1 rr2 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

peers="n1=127.0.0.1:$p1/127.0.0.1:$q1,n2=127.0.0.1:$p2/127.0.0.1:$q2,n3=127.0.0.1:$p3/127.0.0.1:$q3"
sesh_addr="127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3"
# Client flags (sesh-load, seshctl) and the peer credentials of lag_probe.
if [ "$INSECURE" = 1 ]; then
  client_flags=(--insecure)
  probe_flags=(--insecure)
else
  bash "$root/tools/gen_certs.sh" "$tmp/tls" n1 n2 n3
  client_flags=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench")
  probe_flags=(--tls_ca="$tmp/tls/ca.pem" --tls_cert="$tmp/tls/n1.pem"
               --tls_key="$tmp/tls/n1.key" --token_file="$tmp/tls/token.admin")
fi
admin_flags=("${client_flags[@]}")
[ "$INSECURE" = 1 ] || admin_flags=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.admin")
# sesh-load reads the nodes' touch counters with the admin token (with
# --insecure, without one).
touch_flags=()
[ "$INSECURE" = 1 ] || touch_flags=(--admin_token_file="$tmp/tls/token.admin")

# Each target gets the machine to itself: the cluster is stopped before
# Redis starts (idle sesh-nodes still use a few % of a core).
start_sesh() {
  local i port_var peer_var security
  for i in 1 2 3; do
    port_var=p$i
    peer_var=q$i
    if [ "$INSECURE" = 1 ]; then
      security=(--insecure)
    else
      security=(--tls_cert="$tmp/tls/n$i.pem" --tls_key="$tmp/tls/n$i.key"
                --cluster_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/tokens")
    fi
    "$tmp/bin/sesh-node" --node_id="n$i" --listen="127.0.0.1:${!port_var}" \
      --peer_listen="127.0.0.1:${!peer_var}" "${security[@]}" \
      --data_dir="$tmp/n$i" --peers="$peers" --port_file="$tmp/n$i.port" \
      ${SESH_NODE_FLAGS:-} >"$tmp/n$i.log" 2>&1 &
    node_pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 1 300); do
      [ -f "$tmp/n$i.port" ] && break
      kill -0 "${node_pids[$((i - 1))]}" 2>/dev/null || break
      sleep 0.1
    done
    [ -f "$tmp/n$i.port" ] || { tail -20 "$tmp/n$i.log" >&2; die "sesh-node n$i did not start"; }
  done
  log "sesh: 3 nodes at $sesh_addr (pids ${node_pids[*]})"
}

stop_sesh() {
  local pid
  for pid in "${node_pids[@]}"; do stop_pid "$pid"; done
  node_pids=()
  log "sesh: stopped"
}

start_redis() {
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
  [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] || die "redis-server did not start"
  log "redis: 127.0.0.1:$rport (pid $redis_pid, $(redis-server --version | cut -d' ' -f3))"
}

# A primary on wport and two replicas of it, each with its own directory
# (a full sync writes there), no persistence.
start_redis_wait() {
  local i port_var
  mkdir -p "$tmp/redis-primary" "$tmp/redis-replica1" "$tmp/redis-replica2"
  redis-server --port "$wport" --bind 127.0.0.1 --save '' --appendonly no \
    --repl-diskless-sync-delay 0 --dir "$tmp/redis-primary" \
    --logfile "$tmp/redis-primary.log" &
  redis_pid=$!
  for i in 1 2; do
    port_var=rr$i
    redis-server --port "${!port_var}" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$tmp/redis-replica$i" --logfile "$tmp/redis-replica$i.log" \
      --replicaof 127.0.0.1 "$wport" &
    replica_pids+=($!)
  done
  for _ in $(seq 1 300); do
    [ "$(redis-cli -p "$rr1" info replication 2>/dev/null | tr -d '\r' | grep -c '^master_link_status:up')" = 1 ] &&
      [ "$(redis-cli -p "$rr2" info replication 2>/dev/null | tr -d '\r' | grep -c '^master_link_status:up')" = 1 ] &&
      break
    sleep 0.1
  done
  redis-cli -p "$wport" info replication | tr -d '\r' | grep -q '^connected_slaves:2' ||
    die "redis replicas did not connect"
  log "redis-wait: primary 127.0.0.1:$wport (pid $redis_pid), replicas :$rr1 :$rr2 (pids ${replica_pids[*]})"
}

stop_redis() {
  local pid
  for pid in "$redis_pid" "${replica_pids[@]}"; do stop_pid "$pid"; done
  redis_pid=""
  replica_pids=()
  log "redis: stopped"
}

# --- Load -----------------------------------------------------------------------
# load TARGET NAME sesh-load-flags...: one sesh-load run, bounded in time, on
# the target's working set (KEYS sessions), or with SET=name on a set of its
# own of SET_KEYS sessions.
load() {
  local target=$1 name=$2 addr pids limit extra=()
  shift 2
  case $target in
    sesh)
      addr=$sesh_addr
      pids=$(IFS=,; echo "${node_pids[*]}")
      extra=("${client_flags[@]}" "${touch_flags[@]}")
      ;;
    redis)
      addr=127.0.0.1:$rport
      pids=$redis_pid
      ;;
    redis-wait)  # CPU: the primary and its replicas
      addr=127.0.0.1:$wport
      pids=$(IFS=,; echo "$redis_pid,${replica_pids[*]}")
      extra=(--redis_wait_replicas=1)
      ;;
  esac
  # Preload (a few thousand sessions/s at worst) plus every phase, doubled.
  limit=$((120 + KEYS / 500 + 2 * 10 * (DURATION + WARMUP + 5)))
  log "$target: $name"
  timeout "$limit" "$tmp/bin/sesh-load" --target="${target%-wait}" --addr="$addr" \
    --keys="${SET_KEYS:-$KEYS}" --keys_file="$tmp/$target${SET:+-$SET}.keys" \
    --concurrency="$CONCURRENCY" --threads="$THREADS" --warmup_s="$WARMUP" \
    --server_pids="$pids" --json_out="$OUT/$target-$name.json" \
    "${extra[@]}" "$@" \
    2> >(tee "$OUT/logs/$target-$name.stderr" >&2) \
    | tee "$OUT/logs/$target-$name.txt"
}

peak_of() {  # json files: median total ops/s of their first phases
  python3 -c 'import json, statistics, sys
print(statistics.median(json.load(open(f))["phases"][0]["total_ops_per_s"] for f in sys.argv[1:]))' "$@"
}

measure_memory() {  # target [suffix] -> OUT/target-memory[suffix].txt
  local f="$OUT/$1-memory${2:-}.txt" i pid
  : >"$f"
  if [ "$1" = sesh ]; then
    for i in 1 2 3; do
      pid=${node_pids[$((i - 1))]}
      echo "n$i.rss_bytes $(( $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") * 1024 ))" >>"$f"
      echo "n$i.disk_bytes $(du -sb "$tmp/n$i" | cut -f1)" >>"$f"
    done
  else
    echo "rss_bytes $(( $(awk '/^VmRSS:/ {print $2}' "/proc/$redis_pid/status") * 1024 ))" >>"$f"
    redis-cli -p "$rport" info memory | tr -d '\r' |
      awk -F: '/^(used_memory|used_memory_rss|used_memory_dataset):/ {print $1, $2}' >>"$f"
    echo "dbsize $(redis-cli -p "$rport" dbsize)" >>"$f"
  fi
}

profile_sesh() {  # an extra get_touch closed loop under perf
  command -v perf >/dev/null || { log "PERF=1 but perf is not installed; skipped"; return 0; }
  local pids
  pids=$(IFS=,; echo "${node_pids[*]}")
  log "sesh: profiling get_touch closed loop with perf"
  "$tmp/bin/sesh-load" --target=sesh --addr="$sesh_addr" --keys="$KEYS" \
    "${client_flags[@]}" \
    --keys_file="$tmp/sesh.keys" --skip_preload --mix=get_touch:100 \
    --concurrency="$CONCURRENCY" --threads="$THREADS" --warmup_s=1 \
    --duration_s="$DURATION" --progress=false >"$OUT/logs/sesh-perf-load.txt" 2>&1 &
  local load_pid=$!
  sleep 1.5
  timeout $((DURATION + 30)) perf record -q -g -F 499 -p "$pids,$load_pid" \
    -o "$tmp/perf.data" -- sleep $((DURATION > 2 ? DURATION - 1 : 1)) >/dev/null 2>&1 || true
  wait "$load_pid" || true
  if [ -s "$tmp/perf.data" ]; then
    # Nodes and client apart (their gRPC threads have the same names).
    local who p
    for who in nodes:"$pids" load:"$load_pid"; do
      p=${who#*:}
      {
        echo "# perf, get_touch closed loop, ${who%%:*} (pids $p): by library"
        perf report -i "$tmp/perf.data" --pid="$p" --no-children --percentage relative --sort dso \
          --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$'
        echo
        echo "# by symbol"
        perf report -i "$tmp/perf.data" --pid="$p" --no-children --percentage relative --sort dso,sym \
          --stdio -g none --percent-limit 0.4 2>/dev/null | grep -v '^#' | grep -v '^$'
      } >"$OUT/perf-sesh-get_touch-${who%%:*}.txt" || true
    done
    log "perf profiles: $OUT/perf-sesh-get_touch-{nodes,load}.txt"
  fi
}

# wait_idle PERCENT PIDS...: after the bulk preload, until the servers use
# under PERCENT of a core together, at most 180 s: the phases measure the
# steady state, not the aftermath of loading 10^6 sessions in minutes.
# (Three idle sesh-nodes use 5-10% of a core: heartbeats, touch flushes.)
wait_idle() {
  local ticks before after i percent=$1
  shift
  ticks=$(getconf CLK_TCK)
  for i in $(seq 1 90); do
    before=$(cat "${@/#//proc/}" 2>/dev/null | awk '{s += $14 + $15} END {print s}')
    sleep 2
    after=$(cat "${@/#//proc/}" 2>/dev/null | awk '{s += $14 + $15} END {print s}')
    if [ $(( (after - before) * 100 / (2 * ticks) )) -lt "$percent" ]; then
      log "servers idle after $((2 * i)) s"
      return 0
    fi
  done
  log "servers still busy after 180 s; measuring anyway"
}

# wait_storage_idle: after the bulk preload, until no node reports RocksDB
# flushes or compactions running or pending (NodeStats.storage_busy), at
# most 600 s. At 10^6 sessions the preload leaves minutes of compaction, and
# a CPU-based idle test cannot tell it from the nodes' own background work.
wait_storage_idle() {
  local i busy
  for i in $(seq 1 300); do
    busy=$("$tmp/bin/seshctl" --addr="$sesh_addr" "${admin_flags[@]}" --json status 2>/dev/null |
      python3 -c 'import json, sys; n = json.load(sys.stdin)["nodes"]; print(sum(1 for x in n if x.get("storage_busy", True)))' \
      2>/dev/null || echo 3)
    if [ "$busy" = 0 ]; then
      log "sesh: storage idle on every node after $((2 * i)) s"
      return 0
    fi
    sleep 2
  done
  log "sesh: storage still busy after 600 s; measuring anyway"
}

# redis_pipelined: issue 5's stretch target is Redis with 16-deep
# pipelining, which sesh-load does not do (its callers are one request at a
# time, like a web request's session lookup). redis-benchmark measures it, and
# GETEX unpipelined for a cross-check of sesh-load's figure, on its own keys
# (KEYS sessions of 512 bytes, "bk:" prefix), with CONCURRENCY connections.
redis_pipelined() {
  local value n pipeline
  value=$(head -c 384 /dev/urandom | base64 -w0)  # 512 characters
  n=$((KEYS < 300000 ? 300000 : KEYS))
  log "redis: redis-benchmark preload and GETEX, pipelined 1 and 16"
  timeout 300 redis-benchmark -p "$rport" -c "$CONCURRENCY" -P 16 -r "$KEYS" \
    -n "$n" -q SET "bk:__rand_int__" "$value" EX 1800 >/dev/null
  : >"$OUT/redis-benchmark.csv"
  for pipeline in 1 16; do
    timeout 300 redis-benchmark -p "$rport" -c "$CONCURRENCY" -P "$pipeline" \
      -r "$KEYS" -n "$n" --csv GETEX "bk:__rand_int__" EX 1800 |
      tail -1 | sed "s/^/$pipeline,/" >>"$OUT/redis-benchmark.csv"
  done
}

# (h): get_touch on fresh sets, preloaded just before, 30-minute then 60 s
# idle timeout; sesh-load preloads and measures in one run, so that no 60 s
# session expires before the phase reads it.
touch_phases() {  # target
  local idle
  for idle in 1800 60; do
    SET=idle$idle SET_KEYS=$TOUCH_KEYS load "$1" "h-get_touch-idle$idle" \
      --mix=get_touch:100 --idle_timeout_s="$idle" --duration_s="$DURATION"
  done
}

# REPORT_ONLY=1 OUT=<an earlier run's directory>: only rewrite its report.
targets_to_run="sesh redis redis-wait"
[ "${REPORT_ONLY:-0}" = 1 ] && targets_to_run=""
for target in $targets_to_run; do
  if [ "$target" = redis-wait ]; then
    # Durability as a QUORUM write has it: writes (f) and the web mix (c).
    start_redis_wait
    load redis-wait preload --mix=get:100 --duration_s=1
    wait_idle 5 "$redis_pid/stat" "${replica_pids[@]/%//stat}"
    load redis-wait f-update --mix=update:100 --duration_s="$DURATION" --skip_preload
    load redis-wait c-mix --duration_s="$DURATION" --skip_preload
    stop_redis
    continue
  fi
  if [ "$target" = sesh ]; then start_sesh; else start_redis; fi
  measure_memory "$target" -empty  # baseline for the per-session figures
  load "$target" preload --mix=get:100 --duration_s=1
  if [ "$target" = sesh ]; then
    wait_storage_idle
    wait_idle 15 "${node_pids[@]/%//stat}"
    # Reads warm the nodes' block caches, as on nodes that have served these
    # sessions for a while (scans do not fill the cache): without this the
    # first phase reads most blocks from the OS, and measures a cold store
    # against Redis's all-in-memory one. Not part of the tables.
    load sesh warm --mix=get:100 --duration_s="$WARM" --skip_preload
  else
    wait_idle 5 "$redis_pid/stat"
  fi
  for round in $(seq 1 "$ROUNDS"); do
    suffix=""
    [ "$round" = 1 ] || suffix="-r$round"
    load "$target" "a-get_touch$suffix" --mix=get_touch:100 --duration_s="$DURATION" --skip_preload
    load "$target" "b-get$suffix" --mix=get:100 --duration_s="$DURATION" --skip_preload
  done
  measure_memory "$target"
  if [ "$target" = sesh ] && [ "$PERF" = 1 ]; then profile_sesh; fi
  load "$target" c-mix --duration_s="$DURATION" --skip_preload
  peak=$(peak_of "$OUT/$target"-a-get_touch*.json)
  half=$(python3 -c "print(round($peak / 2))")
  load "$target" d-open --mix=get_touch:100 --rate="$half" \
    --duration_s="$DURATION" --skip_preload --threads="$OPEN_THREADS"
  rates=$(python3 -c "print(','.join(str(max(1, round($peak * float(f)))) for f in '$SWEEP_FRACTIONS'.split()))")
  load "$target" e-sweep --mix=get_touch:100 --rates="$rates" \
    --duration_s="$SWEEP_DURATION" --skip_preload --threads="$OPEN_THREADS"
  if [ "$target" = sesh ]; then
    # Writes alone at each durability (issue 4), then replication lag: a
    # probe writing at ONE while the web mix runs.
    for d in ONE QUORUM ALL; do
      load sesh "f-writes-$d" --mix=update:100 --durability="$d" \
        --duration_s="$DURATION" --skip_preload
    done
    log "sesh: replication lag under the web mix"
    load sesh g-lag-mix --duration_s="$((DURATION + 4))" --skip_preload &
    lag_load=$!
    sleep 3
    timeout 120 "$tmp/bin/lag_probe" --addr="$sesh_addr" --peers="$peers" \
      "${probe_flags[@]}" --samples=60 \
      --interval_ms=50 --json_out="$OUT/sesh-g-lag.json" >/dev/null || true
    wait "$lag_load" || true
    touch_phases sesh
    # Counters after every phase: repair_reads stays flat unless a primary
    # lost its read lease (or a node looked down) during the run.
    "$tmp/bin/seshctl" --addr="$sesh_addr" "${admin_flags[@]}" --json status \
      >"$OUT/sesh-status.json" 2>/dev/null || true
    stop_sesh
  else
    load redis f-update --mix=update:100 --duration_s="$DURATION" --skip_preload
    touch_phases redis
    redis_pipelined
    stop_redis
  fi
done

# --- Report -----------------------------------------------------------------------
log "writing $OUT/report.md"
INSECURE=$INSECURE python3 - "$OUT" "$KEYS" "$CONCURRENCY" "$DURATION" "$WARMUP" "$THREADS" "$OPEN_THREADS" <<'PY'
import json, os, platform, statistics, subprocess, sys, time

out, keys, conc, dur, warm, threads, open_threads = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
targets = ("sesh", "redis")

def load(t, name):
    with open(os.path.join(out, "%s-%s.json" % (t, name))) as f:
        return json.load(f)

def memory(t, suffix=""):
    m = {}
    with open(os.path.join(out, "%s-memory%s.txt" % (t, suffix))) as f:
        for line in f:
            k, v = line.split()
            m[k] = float(v)
    return m

r = {t: {n: load(t, n) for n in ("a-get_touch", "b-get", "c-mix", "d-open", "e-sweep")}
     for t in targets}

def load_rounds(t, n):  # the first phase of each round of n, round 1 first
    out_ = [r[t][n]["phases"][0]]
    while os.path.exists(os.path.join(out, "%s-%s-r%d.json" % (t, n, len(out_) + 1))):
        out_.append(load(t, "%s-r%d" % (n, len(out_) + 1))["phases"][0])
    return out_

round_phases = {(t, n): load_rounds(t, n) for t in targets for n in r[t]}

def maybe(t, n):  # a sesh-load run that older runs of this script lack
    path = os.path.join(out, "%s-%s.json" % (t, n))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)

# Every sesh-load run of the directory, for the errors: {target: {name: json}}.
runs = {}
for fn in sorted(os.listdir(out)):
    for t in ("redis-wait", "sesh", "redis"):
        if fn.startswith(t + "-") and fn.endswith(".json"):
            with open(os.path.join(out, fn)) as f:
                j = json.load(f)
            if "phases" in j:
                runs.setdefault(t, {})[fn[len(t) + 1:-5]] = j
            break

def rounds(t, n):
    return round_phases[(t, n)]

def median_op(t, n, op):  # an op's figures, each the median over the rounds
    xs = [p["ops"][op] for p in rounds(t, n)]
    return {k: statistics.median(x[k] for x in xs) for k in ("ops_per_s", "p50_us", "p99_us")}

def median_cpu(t, n):  # CPU per op, medians over the rounds that have it
    m = {}
    for k in ("server_cpu_us_per_op", "client_cpu_us_per_op"):
        xs = [p[k] for p in rounds(t, n) if p.get(k) is not None]
        if xs:
            m[k] = statistics.median(xs)
    return m

n_rounds = len(rounds("sesh", "a-get_touch"))

def ms(us):
    return "%.2f" % (us / 1000.0)

def ratio(a, b):
    return "%.2f" % (a / b) if b else "n/a"

def mib(b):
    return "%.0f MiB" % (b / 2**20)

cpu = "unknown"
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except Exception:
    pass
redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.split()[2]

L = []
L.append("# Sesh vs Redis, %s" % time.strftime("%Y-%m-%d %H:%M"))
L.append("")
L.append("Machine: %d cores (%s), Linux %s. Both servers and the load generator "
         "share it, on loopback." % (os.cpu_count(), cpu, platform.release()))
L.append("Sesh: 3 `sesh-node` processes, replication factor 3, default durability "
         "(QUORUM), default flags, %s; `sesh::Client` with its default batching. "
         % ("plaintext without tokens (INSECURE=1)" if os.environ.get("INSECURE") == "1"
            else "TLS on both ports (mutual on the peer port) and a namespace token") +
         "Redis %s: one `redis-server`, no persistence (`--save '' --appendonly no`)."
         % redis_version.replace("v=", ""))
L.append("Load: `sesh-load`, %d sessions of %d bytes (Sesh: 4 attributes; Redis: "
         "one blob), %s concurrent callers on %s driver threads (%s for the open "
         "loops), %s s measured per phase after %s s warm-up; keys uniformly "
         "random. Before the phases, Sesh's block caches are warmed by a "
         "closed-loop get run (`sesh-warm.json`, if present; not in the tables). "
         "Build: Bazel default mode (fastbuild, `-O2` from `.bazelrc`)."
         % (keys, r["sesh"]["a-get_touch"]["value_bytes"], conc, threads,
            open_threads, dur, warm))
L.append("")
L.append("## Throughput and latency")
L.append("")
L.append("| phase | op | Sesh ops/s | Redis ops/s | Sesh / Redis | Sesh p50 / p99 ms | Redis p50 / p99 ms |")
L.append("|---|---|---:|---:|---:|---:|---:|")

def row(phase, op, s, rd, offered=False):
    L.append("| %s | %s | %.0f | %.0f | %s | %s / %s | %s / %s |" % (
        phase, op, s["ops_per_s"], rd["ops_per_s"],
        "n/a" if offered else ratio(s["ops_per_s"], rd["ops_per_s"]),
        ms(s["p50_us"]), ms(s["p99_us"]), ms(rd["p50_us"]), ms(rd["p99_us"])))

def ph(t, n, i=0):
    return r[t][n]["phases"][i]

row("(a) closed loop", "get_touch", median_op("sesh", "a-get_touch", "get_touch"),
    median_op("redis", "a-get_touch", "get_touch"))
row("(b) closed loop", "get", median_op("sesh", "b-get", "get"), median_op("redis", "b-get", "get"))
for op in ph("sesh", "c-mix")["ops"]:
    row("(c) web mix, closed loop", op, ph("sesh", "c-mix")["ops"][op], ph("redis", "c-mix")["ops"][op])
row("(c) web mix, closed loop", "**all**", ph("sesh", "c-mix")["all"], ph("redis", "c-mix")["all"])
ds, dr = ph("sesh", "d-open"), ph("redis", "d-open")
row("(d) open loop, offered: Sesh %.0f/s, Redis %.0f/s" % (ds["rate"], dr["rate"]), "get_touch",
    ds["ops"]["get_touch"], dr["ops"]["get_touch"], offered=True)
L.append("")
L.append(("(a) and (b): medians of %d alternating rounds (a, b, a, b, ...; each "
          "figure's median on its own). " % n_rounds if n_rounds > 1 else "") +
         "(d) offers each target half of its own (a) peak, so its ops/s columns "
         "(achieved) are not capacities and their ratio is meaningless; compare "
         "latencies at equal rates in the sweep below. Mix (c): %s; a destroy is "
         "measured alone (its replacement create is not), Redis rotate = "
         "`SET new` + `DEL old`." % r["sesh"]["c-mix"]["mix"])
L.append("")

L.append("## Sliding-expiry overhead: get_touch against get, (a) vs (b)")
L.append("")
if n_rounds > 1:
    L.append("Each round's (a) against the (b) that follows it; the median of the "
             "rounds' ratios.")
    L.append("")
L.append("| | Sesh | Redis | issue 5 target (Sesh) |")
L.append("|---|---:|---:|---:|")
def over(t):  # per round: (throughput ratio, p99 ratio)
    return [(a["ops"]["get_touch"]["ops_per_s"] / b["ops"]["get"]["ops_per_s"],
             a["ops"]["get_touch"]["p99_us"] / b["ops"]["get"]["p99_us"])
            for a, b in zip(rounds(t, "a-get_touch"), rounds(t, "b-get"))]
def rounds_text(xs):
    return " (%s)" % ", ".join("%.2f" % x for x in xs) if len(xs) > 1 else ""
ov = {t: over(t) for t in targets}
(st, sp), (rt, rp) = [(statistics.median(x for x, _ in ov[t]),
                       statistics.median(y for _, y in ov[t])) for t in targets]
L.append("| throughput get_touch / get%s | %.2f%s | %.2f%s | >= 0.90 |" % (
    ", median (rounds)" if n_rounds > 1 else "",
    st, rounds_text([x for x, _ in ov["sesh"]]), rt, rounds_text([x for x, _ in ov["redis"]])))
L.append("| p99 get_touch / get%s | %.2f%s | %.2f%s | <= 1.20 |" % (
    ", median (rounds)" if n_rounds > 1 else "",
    sp, rounds_text([y for _, y in ov["sesh"]]), rp, rounds_text([y for _, y in ov["redis"]])))
if n_rounds > 1:
    for t in targets:
        L.append("| %s rounds: get_touch / get ops/s | %s | | |" % (t.capitalize(), ", ".join(
            "%.0f / %.0f" % (a["ops"]["get_touch"]["ops_per_s"], b["ops"]["get"]["ops_per_s"])
            for a, b in zip(rounds(t, "a-get_touch"), rounds(t, "b-get")))))
L.append("")

def share_text(xs):  # shares of touches written, median and rounds
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    m = "%.1f%%" % (100 * statistics.median(xs))
    return m + (" (%s)" % ", ".join("%.1f%%" % (100 * x) for x in xs) if len(xs) > 1 else "")

def cpu_pair(p):
    if not p or p.get("server_cpu_us_per_op") is None or p.get("client_cpu_us_per_op") is None:
        return "n/a"
    return "%.1f + %.1f" % (p["server_cpu_us_per_op"], p["client_cpu_us_per_op"])

def interval_s(n_keys, p):  # mean time between two visits of one session
    g = p["ops"].get("get_touch", {}).get("ops_per_s", 0)
    return "%.1f s" % (n_keys / g) if g else "n/a"

h = {idle: (maybe("sesh", "h-get_touch-idle%d" % idle), maybe("redis", "h-get_touch-idle%d" % idle))
     for idle in (1800, 60)}
if any(p is not None and p.get("touches_written_share") is not None
       for p in rounds("sesh", "a-get_touch")):
    L.append("## Touches written (Sesh)")
    L.append("")
    L.append("A node records a touch (persisted within a second) only when it moves "
             "the session's last_access by at least 1%% of its idle timeout "
             "(`--touch_write_fraction` 0.01): after 18 s at 30 minutes, 600 ms at "
             "60 s. With keys picked uniformly, a session is visited about every "
             "sessions / (get_touch ops/s). Written: the nodes' `touches_written` / "
             "`touches_requested` (NodeStats, summed over the nodes) over each "
             "measured window. (h): get_touch:100 on %s sessions created just "
             "before the phase (preload in %s s for Sesh), one set with each idle "
             "timeout, the same for Redis (`GETEX … EX 1800` / `EX 60`)." % (
                 h[60][0]["keys"] if h[60][0] else "n/a",
                 " and ".join("%.0f" % h[i][0]["preload_s"] for i in (1800, 60) if h[i][0]) or "n/a"))
    L.append("")
    L.append("| phase | sessions | idle timeout | one session visited every | touches written | Sesh ops/s | Redis ops/s | Sesh / Redis | CPU us/op, Sesh nodes + client | Redis server + client |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sa_, ra_ = median_op("sesh", "a-get_touch", "get_touch"), median_op("redis", "a-get_touch", "get_touch")
    sc_, rc_ = median_cpu("sesh", "a-get_touch"), median_cpu("redis", "a-get_touch")
    L.append("| (a) get_touch%s | %d | 30 min | %.1f s | %s | %.0f | %.0f | %s | %s | %s |" % (
        ", median of %d rounds" % n_rounds if n_rounds > 1 else "", keys,
        keys / sa_["ops_per_s"], share_text([p.get("touches_written_share") for p in rounds("sesh", "a-get_touch")]),
        sa_["ops_per_s"], ra_["ops_per_s"], ratio(sa_["ops_per_s"], ra_["ops_per_s"]),
        cpu_pair(sc_), cpu_pair(rc_)))
    cs_, cr_ = ph("sesh", "c-mix"), ph("redis", "c-mix")
    L.append("| (c) web mix, all ops | %d | 30 min | %s | %s | %.0f | %.0f | %s | %s | %s |" % (
        keys, interval_s(keys, cs_), share_text([cs_.get("touches_written_share")]),
        cs_["all"]["ops_per_s"], cr_["all"]["ops_per_s"],
        ratio(cs_["all"]["ops_per_s"], cr_["all"]["ops_per_s"]), cpu_pair(cs_), cpu_pair(cr_)))
    for idle, label in ((1800, "30 min"), (60, "60 s")):
        hs, hr = h[idle]
        if hs is None or hr is None:
            continue
        ps, pr = hs["phases"][0], hr["phases"][0]
        L.append("| (h) get_touch, fresh sessions | %d | %s | %s | %s | %.0f | %.0f | %s | %s | %s |" % (
            hs["keys"], label, interval_s(hs["keys"], ps), share_text([ps.get("touches_written_share")]),
            ps["ops"]["get_touch"]["ops_per_s"], pr["ops"]["get_touch"]["ops_per_s"],
            ratio(ps["ops"]["get_touch"]["ops_per_s"], pr["ops"]["get_touch"]["ops_per_s"]),
            cpu_pair(ps), cpu_pair(pr)))
    L.append("")

sf, rf = maybe("sesh", "f-writes-QUORUM"), maybe("redis", "f-update")
wf, wc = maybe("redis-wait", "f-update"), maybe("redis-wait", "c-mix")
if sf and rf and wf and wc:
    L.append("## Durable writes: Sesh (QUORUM) against Redis with two replicas and `WAIT 1`")
    L.append("")
    L.append("Redis + WAIT: a primary and two `redis-server --replicaof` on loopback (no "
             "persistence), each write followed by `WAIT 1 2000`, pipelined with it: "
             "acknowledged once a replica holds it, 2 copies, as a Sesh QUORUM write "
             "(2 of 3 nodes). A rotate's SET and DEL share one WAIT; GETEX has none "
             "(a Sesh touch is not replicated before its reply either). Its server "
             "CPU is the primary's and both replicas'. Neither side syncs to disk "
             "(Sesh writes RocksDB's WAL without fsync).")
    L.append("")
    L.append("| phase | op | Sesh ops/s | Redis ops/s | Redis + WAIT ops/s | Sesh / Redis | Sesh / Redis + WAIT | p50 / p99 ms: Sesh; Redis; Redis + WAIT | CPU us/op, server + client: Sesh; Redis; Redis + WAIT |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    cs_, cr_, cw_ = ph("sesh", "c-mix"), ph("redis", "c-mix"), wc["phases"][0]
    fs, fr, fw = sf["phases"][0], rf["phases"][0], wf["phases"][0]
    for label, op, (a, b, c), whole in (
            ("(f) update only, closed loop", "update", (fs, fr, fw), True),
            ("(c) web mix, closed loop", "update", (cs_, cr_, cw_), False),
            ("(c) web mix, closed loop", "**all**", (cs_, cr_, cw_), True)):
        st_ = [p["all"] if op == "**all**" else p["ops"][op] for p in (a, b, c)]
        L.append("| %s | %s | %.0f | %.0f | %.0f | %s | %s | %s | %s |" % (
            label, op, st_[0]["ops_per_s"], st_[1]["ops_per_s"], st_[2]["ops_per_s"],
            ratio(st_[0]["ops_per_s"], st_[1]["ops_per_s"]), ratio(st_[0]["ops_per_s"], st_[2]["ops_per_s"]),
            "; ".join("%s / %s" % (ms(x["p50_us"]), ms(x["p99_us"])) for x in st_),
            "; ".join(cpu_pair(p) for p in (a, b, c)) if whole else ""))
    L.append("")

L.append("## CPU per operation (measured windows, from /proc and getrusage%s)" % ("; (a) and (b): medians over the rounds" if n_rounds > 1 else ""))
L.append("")
L.append("| phase | Sesh: 3 nodes, us/op | Sesh: sesh-load, us/op | Redis: server, us/op | Redis: sesh-load, us/op |")
L.append("|---|---:|---:|---:|---:|")
def cpu_cell(p, k):
    v = p.get(k)
    return "%.1f" % v if v is not None else "n/a"
for n, label in (("a-get_touch", "(a) get_touch"), ("b-get", "(b) get"), ("c-mix", "(c) web mix"),
                 ("d-open", "(d) open loop")):
    s, rd = median_cpu("sesh", n), median_cpu("redis", n)
    L.append("| %s | %s | %s | %s | %s |" % (label, cpu_cell(s, "server_cpu_us_per_op"),
             cpu_cell(s, "client_cpu_us_per_op"), cpu_cell(rd, "server_cpu_us_per_op"),
             cpu_cell(rd, "client_cpu_us_per_op")))
L.append("")

L.append("## Memory and disk, %d sessions (after (b))" % keys)
L.append("")
ms_, mr = memory("sesh"), memory("redis")
ms0, mr0 = memory("sesh", "-empty"), memory("redis", "-empty")
rss = [ms_["n%d.rss_bytes" % i] for i in (1, 2, 3)]
disk = [ms_["n%d.disk_bytes" % i] for i in (1, 2, 3)]
rss_growth = sum(ms_["n%d.rss_bytes" % i] - ms0["n%d.rss_bytes" % i] for i in (1, 2, 3))
disk_growth = sum(ms_["n%d.disk_bytes" % i] - ms0["n%d.disk_bytes" % i] for i in (1, 2, 3))
scale = 1e6 / keys
L.append("| | Sesh, per node (each holds every session at RF 3) | Sesh, 3 nodes | Redis |")
L.append("|---|---:|---:|---:|")
L.append("| resident memory (VmRSS) | %s | %s | %s |" % (
    " / ".join(mib(x) for x in rss), mib(sum(rss)), mib(mr["rss_bytes"])))
L.append("| Redis used_memory | | | %s (dataset %s) |" % (mib(mr["used_memory"]), mib(mr.get("used_memory_dataset", 0))))
L.append("| data on disk (`du -sb` data dir) | %s | %s | none (no persistence) |" % (
    " / ".join(mib(x) for x in disk), mib(sum(disk))))
L.append("| growth over the empty servers, per 10^6 sessions: memory | %s | %s | %s used_memory, %s RSS |" % (
    mib(rss_growth / 3 * scale), mib(rss_growth * scale),
    mib((mr["used_memory"] - mr0["used_memory"]) * scale),
    mib((mr["rss_bytes"] - mr0["rss_bytes"]) * scale)))
L.append("| growth over the empty servers, per 10^6 sessions: disk | %s | %s | |" % (
    mib(disk_growth / 3 * scale), mib(disk_growth * scale)))
L.append("")
L.append("Per-10^6 rows scale this run's growth linearly. Sesh's RSS includes "
         "RocksDB's block cache (1 GiB per node by default, filled as sessions are read), "
         "memtables and gRPC buffers, so it does not grow linearly with "
         "sessions; disk holds SST files plus the WAL and memtables not yet "
         "compacted. Redis: %d keys in the database." % mr["dbsize"])
L.append("")

L.append("## Issue 5 targets (defined at 10^6 sessions; this run: %d)" % keys)
L.append("")
sa, ra = median_op("sesh", "a-get_touch", "get_touch"), median_op("redis", "a-get_touch", "get_touch")
def verdict(ok):
    return "met" if ok else "**missed**"
L.append("- Get+touch throughput >= Redis GETEX (unpipelined, same concurrency): "
         "%.0f vs %.0f ops/s, %.2fx: %s." % (sa["ops_per_s"], ra["ops_per_s"],
         sa["ops_per_s"] / ra["ops_per_s"], verdict(sa["ops_per_s"] >= ra["ops_per_s"])))
L.append("- Sliding-expiry overhead, throughput >= 90%% of get: %.0f%%: %s." % (st * 100, verdict(st >= 0.9)))
L.append("- Sliding-expiry overhead, p99 <= 1.2x get's: %.2fx: %s." % (sp, verdict(sp <= 1.2)))
dsg = ds["ops"]["get_touch"]
L.append("- Open loop at half the peak (%.0f/s): get_touch p99 <= 2 ms: %s ms: %s." % (
    ds["rate"], ms(dsg["p99_us"]), verdict(dsg["p99_us"] <= 2000)))
rb = {}
try:
    import csv
    with open(os.path.join(out, "redis-benchmark.csv")) as f:
        for row in csv.reader(f):
            rb[int(row[0])] = (float(row[2]), float(row[5]), float(row[7]))  # rps, p50, p99 ms
except Exception:
    pass
if 16 in rb:
    L.append("- Stretch: Get+touch throughput >= Redis GETEX with 16-deep pipelining "
             "(redis-benchmark, %s connections): %.0f vs %.0f ops/s, %.2fx: %s. "
             "(redis-benchmark unpipelined, for comparison with sesh-load's Redis "
             "figure: %.0f ops/s, p50 %.2f / p99 %.2f ms.)" % (
             conc, sa["ops_per_s"], rb[16][0], sa["ops_per_s"] / rb[16][0],
             verdict(sa["ops_per_s"] >= rb[16][0]), rb.get(1, (0, 0, 0))[0],
             rb.get(1, (0, 0, 0))[1], rb.get(1, (0, 0, 0))[2]))
L.append("- Store micro-benchmark (GetTouch at 10^6 <= 2x at 10^4): not part of this "
         "script; `bazel-bin/bench/store_bench --benchmark_filter=GetTouch`.")
L.append("")

L.append("## Latency against throughput (open-loop get_touch sweeps)")
L.append("")
L.append("![p99 latency against throughput](latency.png)")
L.append("")
L.append("| target | offered ops/s | achieved ops/s | p50 ms | p99 ms | p99.9 ms | s to finish a %s s schedule | unstarted |" % r["sesh"]["e-sweep"]["phases"][0]["duration_s"])
L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
for t in targets:
    with open(os.path.join(out, "sweep-%s.dat" % t), "w") as f:
        f.write("# offered achieved p50_us p99_us p999_us\n")
        for p in r[t]["e-sweep"]["phases"]:
            g = p["ops"]["get_touch"]
            f.write("%.0f %.0f %.1f %.1f %.1f\n" % (p["rate"], g["ops_per_s"], g["p50_us"], g["p99_us"], g["p999_us"]))
            L.append("| %s | %.0f | %.0f | %s | %s | %s | %.1f | %d |" % (t, p["rate"], g["ops_per_s"], ms(g["p50_us"]),
                     ms(g["p99_us"]), ms(g["p999_us"]), p["elapsed_s"], p["unstarted_at_end"]))
L.append("")
L.append("Open loop: latency counts from each operation's scheduled start. A "
         "target that falls behind its schedule finishes it late (for at most "
         "one more window; the rest is 'unstarted'), and its achieved ops/s is "
         "measured over the time it took.")
L.append("")

# Issue 4 figures, Sesh only: writes by durability and replication lag.
wfiles = [(d, os.path.join(out, "sesh-f-writes-%s.json" % d)) for d in ("ONE", "QUORUM", "ALL")]
if all(os.path.exists(f) for _, f in wfiles):
    L.append("## Sesh writes by durability (update:100, closed loop, %s callers)" % conc)
    L.append("")
    L.append("| durability | writes/s | p50 ms | p99 ms |")
    L.append("|---|---:|---:|---:|")
    for d, f in wfiles:
        u = json.load(open(f))["phases"][0]["ops"]["update"]
        L.append("| %s | %.0f | %s | %s |" % (d, u["ops_per_s"], ms(u["p50_us"]), ms(u["p99_us"])))
    L.append("")
lag = os.path.join(out, "sesh-g-lag.json")
if os.path.exists(lag):
    g = json.load(open(lag))
    L.append("## Sesh replication lag under the web mix")
    L.append("")
    L.append("`lag_probe`: a write at ONE, then every replica's own copy polled over "
             "the peer protocol; the time from the acknowledgement until the last "
             "replica holds it. %d samples (%d timed out): p50 %.1f ms, p90 %.1f ms, "
             "p99 %.1f ms, max %.1f ms." % (g["samples"], g["timeouts"], g["p50_ms"],
                                             g["p90_ms"], g["p99_ms"], g["max_ms"]))
    L.append("")

L.append("## Errors")
L.append("")
for t in [t for t in ("sesh", "redis", "redis-wait") if t in runs]:
    rt = runs[t]
    unexpected = sum(rt[n]["unexpected_errors"] for n in rt)
    expected = sum(rt[n]["expected_errors"] for n in rt)
    detail = "; ".join("%s: %s" % (n, json.dumps(rt[n]["errors"])) for n in rt if rt[n]["errors"])
    L.append("- %s: %d unexpected, %d expected (NOT_FOUND after a concurrent destroy/rotate)%s" % (
        t, unexpected, expected, (". " + detail) if detail else ""))
L.append("")
status_path = os.path.join(out, "sesh-status.json")
if os.path.exists(status_path):
    try:
        with open(status_path) as f:
            nodes = json.load(f).get("nodes", [])
        counts = ", ".join("%s %s" % (n.get("id"), n.get("repair_reads", "n/a"))
                           for n in nodes)
        L.append("Sesh calls answered only after reading the other replicas "
                 "(`repair_reads`, whole run; 0 unless a primary lost its read "
                 "lease or a node looked down): " + counts + ".")
        L.append("")
    except (OSError, ValueError):
        pass
L.append("Files: `<target>-<phase>.json` (sesh-load output; targets sesh, redis and "
         "redis-wait), `*-memory.txt`, `sweep-*.dat`, `commit.txt`, "
         "`sesh-status.json` (`seshctl status` after the Sesh phases); `logs/` "
         "(progress, node and Redis logs) stays out of git.")

with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(L) + "\n")
PY

if command -v gnuplot >/dev/null; then
  (cd "$OUT" && gnuplot <<'GP'
set terminal pngcairo size 1000,650 font ",11"
set output "latency.png"
set title "get\\_touch p99 latency against throughput (open loop)"
set xlabel "achieved throughput (ops/s)"
set ylabel "p99 latency (ms)"
set logscale y
set grid
set key top left
plot "sweep-sesh.dat" using 2:($4/1000) with linespoints lw 2 pt 7 title "Sesh (3 nodes, RF 3)", \
     "sweep-redis.dat" using 2:($4/1000) with linespoints lw 2 pt 5 title "Redis (GETEX ... EX)"
GP
  ) || log "gnuplot failed; no plot"
else
  log "gnuplot is not installed (apt-get install gnuplot-nox); no plot"
fi

log "done: $OUT/report.md"
cat "$OUT/report.md"
