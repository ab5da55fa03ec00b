#!/usr/bin/env bash
# Smoke test of the load generator (bench/sesh_load.cc), so that it keeps
# working: about 2 s closed loop and 2 s open loop of the default web mix
# against one sesh-node (sessions with a 60 s idle timeout, and the node's
# touch counters read with the admin token), then the same against a
# redis-server on loopback, then against that server with a replica, each
# write followed by WAIT 1 (the Redis runs are skipped, with a message, if
# redis-server is not installed). Checks that sesh-load exits 0, that its
# JSON has every operation of the mix with a nonzero count and no unexpected
# errors, the Sesh phases' share of touches written, and the WAIT run's
# setting. No timing assertions.
#
# Starts its own processes on free ports, in $TEST_TMPDIR, and stops exactly
# those (by PID) on exit.
set -euo pipefail

runfiles="${TEST_SRCDIR:?}/sesh"
node_bin="$runfiles/node/sesh-node"
load_bin="$runfiles/bench/sesh-load"
tmp="${TEST_TMPDIR:?}"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# check_json FILE [touches|wait]: every op of the mix in every phase ran,
# nothing unexpected failed; with touches, every phase has the nodes' touch
# counts; with wait, the run followed writes with WAIT 1.
check_json() {
  python3 - "$1" "${2:-}" <<'PY'
import json, sys
path, want = sys.argv[1], sys.argv[2]
with open(path) as f:
    r = json.load(f)
mix_ops = [p.split(":")[0] for p in r["mix"].split(",")]
problems = []
if want == "wait" and r["redis_wait_replicas"] != 1:
    problems.append("redis_wait_replicas is %s, want 1" % r["redis_wait_replicas"])
if len(r["phases"]) != 2:
    problems.append("want 2 phases, got %d" % len(r["phases"]))
for phase in r["phases"]:
    name = "%s phase" % phase["mode"]
    if not phase["drained"]:
        problems.append(name + ": operations did not drain")
    for op in mix_ops:
        stats = phase["ops"].get(op)
        if stats is None or stats["count"] <= 0:
            problems.append("%s: no completed %s" % (name, op))
        elif not (0 < stats["p50_us"] <= stats["p99_us"] <= stats["max_us"]):
            problems.append("%s: %s percentiles out of order: %s" % (name, op, stats))
    if phase["total_ops_per_s"] <= 0:
        problems.append(name + ": zero throughput")
    req, wr, share = (phase[k] for k in (
        "touches_requested", "touches_written", "touches_written_share"))
    if want == "touches":
        # 60 s sessions: a touch is written once 600 ms have passed since
        # the last one, which happens to some sessions in every phase.
        if not (req and 0 < wr <= req and share is not None and
                abs(share - wr / req) < 1e-3):
            problems.append("%s: touch counts %s / %s, share %s" % (name, wr, req, share))
    elif (req, wr, share) != (None, None, None):
        problems.append("%s: touch counts where none were asked for" % name)
if r["unexpected_errors"] != 0:
    problems.append("unexpected errors: %s" % json.dumps(r["errors"]))
if problems:
    print("%s (%s):" % (path, r["target"]))
    for p in problems:
        print("  " + p)
    sys.exit(1)
print("%s%s: OK, %s" % (r["target"], " " + want if want else "", ", ".join(
    "%s %.0f ops/s%s" % (p["mode"], p["total_ops_per_s"],
                         ", %.0f%% of touches written" % (100 * p["touches_written_share"])
                         if p["touches_written_share"] is not None else "")
    for p in r["phases"])))
PY
}

# A short run: closed loop, then open loop at 500 ops/s. A generous client
# deadline, since the test may share the machine with other tests.
run_load() {  # target addr json [flags...]
  local target=$1 addr=$2 json=$3
  shift 3
  "$load_bin" --target="$target" --addr="$addr" --json_out="$json" "$@" \
    --keys=2000 --concurrency=16 --threads=2 --duration_s=2 --warmup_s=0.5 \
    --rates=0,500 --sesh_deadline_ms=10000 --progress=false \
    || fail "sesh-load --target=$target exited with $?"
}

# --- Sesh: one node on a port of its own choosing, TLS and tokens -------------
bash "$runfiles/tools/gen_certs.sh" "$tmp/tls" n1
"$node_bin" --node_id=n1 --listen=127.0.0.1:0 --data_dir="$tmp/n1" \
  --tls_cert="$tmp/tls/n1.pem" --tls_key="$tmp/tls/n1.key" \
  --cluster_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/tokens" \
  --port_file="$tmp/n1.port" >"$tmp/n1.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  [ -f "$tmp/n1.port" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$tmp/n1.log" >&2; fail "sesh-node exited"; }
  sleep 0.1
done
[ -f "$tmp/n1.port" ] || { cat "$tmp/n1.log" >&2; fail "sesh-node did not start"; }
sesh_addr="127.0.0.1:$(cat "$tmp/n1.port")"

run_load sesh "$sesh_addr" "$tmp/sesh.json" \
  --tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench" \
  --admin_token_file="$tmp/tls/token.admin" --idle_timeout_s=60
check_json "$tmp/sesh.json" touches || fail "sesh results"
# Writes as a unary call each, as against a node without StreamWrite.
run_load sesh "$sesh_addr" "$tmp/sesh-unary.json" \
  --tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench" \
  --sesh_stream_writes=false
check_json "$tmp/sesh-unary.json" || fail "sesh results, unary writes"

# --- Redis --------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  echo "SKIP: redis-server is not installed; the Redis half of the smoke test did not run"
  exit 0
fi
# start_redis NAME [redis-server flags...]: a server on a free port, its port
# in $started_port.
start_redis() {
  local name=$1 attempt port pid
  shift
  started_port=""
  mkdir -p "$tmp/$name"
  for attempt in 1 2 3; do
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$tmp/$name" "$@" >"$tmp/$name.$attempt.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        started_port=$port
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break  # e.g. the port was taken meanwhile
      sleep 0.1
    done
  done
  cat "$tmp/$name".*.log >&2
  fail "redis-server $name did not start"
}

# No delay before a replica's first sync (5 s by default).
start_redis primary --repl-diskless-sync-delay 0
redis_port=$started_port
run_load redis "127.0.0.1:$redis_port" "$tmp/redis.json"
check_json "$tmp/redis.json" || fail "redis results"

# The same server with a replica; sesh-load's preload waits until the replica
# holds it.
start_redis replica --replicaof 127.0.0.1 "$redis_port"
run_load redis "127.0.0.1:$redis_port" "$tmp/redis-wait.json" \
  --redis_wait_replicas=1
check_json "$tmp/redis-wait.json" wait || fail "redis WAIT results"
echo "PASS"
