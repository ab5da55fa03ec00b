#!/usr/bin/env bash
# A/B of two sesh-node builds (or two flag sets) on the same machine: a
# 3-node cluster (RF 3, QUORUM, TLS + tokens) of build A, then of build B,
# ROUNDS times alternating, each preloading KEYS sessions and measuring the
# phases in PHASES (sesh-load mixes) closed loop. A_SECURE / B_SECURE (1):
# TLS and tokens, or 0 for --insecure. Writes OUT/report.md with
# the medians, the ratio B/A and node CPU per operation.
#
#   A=/tmp/sesh-node-before B=bazel-bin/node/sesh-node bash bench/ab_nodes.sh
#   A_FLAGS=--max_applies_in_flight=1 B_FLAGS=--max_applies_in_flight=2 bash bench/ab_nodes.sh
#   B_SECURE=0 bash bench/ab_nodes.sh     # B plaintext (--insecure), no tokens
#   A_LOAD_FLAGS=--sesh_stream_writes=false bash bench/ab_nodes.sh   # client flags
#
# Loopback only; starts its own nodes on free ports in a temp dir and stops
# exactly those (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-100000}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-64}
THREADS=${THREADS:-2}
PHASES=${PHASES:-"update:100 get_touch:100 get_touch:85,update:7,create:4,rotate:2,destroy:2"}
A=${A:-bazel-bin/node/sesh-node}
B=${B:-bazel-bin/node/sesh-node}
A_FLAGS=${A_FLAGS:-}
B_FLAGS=${B_FLAGS:-}
# sesh-load flags per side, e.g. A_LOAD_FLAGS=--sesh_stream_writes=false
A_LOAD_FLAGS=${A_LOAD_FLAGS:-}
B_LOAD_FLAGS=${B_LOAD_FLAGS:-}
A_SECURE=${A_SECURE:-1}
B_SECURE=${B_SECURE:-1}
OUT=${OUT:-bench/results/ab-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "[ab_nodes.sh $(date +%T)] $*" >&2; }

bazel build //bench:sesh-load 2>&1 | tail -1 >&2
tmp=$(mktemp -d /tmp/sesh-ab.XXXXXX)
mkdir "$tmp/bin"
cp "$A" "$tmp/bin/node-a"
cp "$B" "$tmp/bin/node-b"
cp bazel-bin/bench/sesh-load "$tmp/bin/"
bash tools/gen_certs.sh "$tmp/tls" n1 n2 n3
{
  echo "A: $A $A_FLAGS$([ "$A_SECURE" = 1 ] || echo ' (--insecure)')${A_LOAD_FLAGS:+; sesh-load $A_LOAD_FLAGS}"
  echo "B: $B $B_FLAGS$([ "$B_SECURE" = 1 ] || echo ' (--insecure)')${B_LOAD_FLAGS:+; sesh-load $B_LOAD_FLAGS}"
  git rev-parse --short HEAD
} >"$OUT/setup.txt"

pids=()
stop_nodes() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  pids=()
}
cleanup() { stop_nodes; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

run() {  # variant(a|b) round
  local v=$1 round=$2 ports peers addr i flags phase n=0 server_pids secure
  local security client load_flags
  read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  peers="n1=127.0.0.1:${ports[0]}/127.0.0.1:${ports[3]},n2=127.0.0.1:${ports[1]}/127.0.0.1:${ports[4]},n3=127.0.0.1:${ports[2]}/127.0.0.1:${ports[5]}"
  addr="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
  if [ "$v" = a ]; then
    flags=$A_FLAGS secure=$A_SECURE load_flags=$A_LOAD_FLAGS
  else
    flags=$B_FLAGS secure=$B_SECURE load_flags=$B_LOAD_FLAGS
  fi
  if [ "$secure" = 1 ]; then
    client=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench")
  else
    client=(--insecure)
  fi
  rm -rf "$tmp/data"
  mkdir -p "$tmp/data"
  for i in 1 2 3; do
    if [ "$secure" = 1 ]; then
      security=(--tls_cert="$tmp/tls/n$i.pem" --tls_key="$tmp/tls/n$i.key"
                --cluster_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/tokens")
    else
      security=(--insecure)
    fi
    # shellcheck disable=SC2086  # flags are words
    "$tmp/bin/node-$v" --node_id="n$i" --listen="127.0.0.1:${ports[$((i - 1))]}" \
      --peer_listen="127.0.0.1:${ports[$((i + 2))]}" "${security[@]}" \
      --data_dir="$tmp/data/n$i" --peers="$peers" --port_file="$tmp/data/n$i.port" \
      $flags >"$tmp/$v-$round-n$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 1 300); do [ -f "$tmp/data/n$i.port" ] && break; sleep 0.1; done
    [ -f "$tmp/data/n$i.port" ] || { tail -5 "$tmp/$v-$round-n$i.log" >&2; exit 1; }
  done
  server_pids=$(IFS=,; echo "${pids[*]}")
  local preload=()
  for phase in $PHASES; do
    n=$((n + 1))
    log "$v round $round: phase $n ($phase)"
    # shellcheck disable=SC2086  # load_flags are words
    timeout $((120 + KEYS / 500 + 4 * (DURATION + WARMUP + 5))) \
      "$tmp/bin/sesh-load" --target=sesh --addr="$addr" $load_flags \
      "${client[@]}" --keys="$KEYS" --keys_file="$tmp/keys-$v-$round" "${preload[@]}" \
      --mix="$phase" --concurrency="$CONCURRENCY" --threads="$THREADS" \
      --warmup_s="$WARMUP" --duration_s="$DURATION" --server_pids="$server_pids" \
      --progress=false --json_out="$OUT/$v-$round-$n.json" >/dev/null
    preload=(--skip_preload)
  done
  stop_nodes
}

for round in $(seq 1 "$ROUNDS"); do
  run a "$round"
  run b "$round"
done

python3 - "$OUT" "$ROUNDS" "$PHASES" <<'PY'
import json, statistics, sys
out, rounds, phases = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def med(v, n, field):
    vals = []
    for r in range(1, rounds + 1):
        x = json.load(open("%s/%s-%d-%d.json" % (out, v, r, n)))["phases"][0].get(field)
        if isinstance(x, (int, float)):
            vals.append(x)
    return statistics.median(vals) if vals else float("nan")
setup = open(out + "/setup.txt").read().splitlines()
L = ["# A/B of two node builds", "", "- " + setup[0], "- " + setup[1], "",
     "3 nodes, RF 3, QUORUM (TLS + tokens unless marked --insecure); medians of %d alternating rounds "
     "(`bench/ab_nodes.sh`)." % rounds, "",
     "| phase (mix) | A ops/s | B ops/s | B / A | node CPU µs/op A | B |",
     "|---|---|---|---|---|---|"]
for n, phase in enumerate(phases, 1):
    a, b = med("a", n, "total_ops_per_s"), med("b", n, "total_ops_per_s")
    ca, cb = med("a", n, "server_cpu_us_per_op"), med("b", n, "server_cpu_us_per_op")
    L.append("| %s | %.0f | %.0f | %.2f | %.1f | %.1f |" % (phase, a, b, b / a, ca, cb))
open(out + "/report.md", "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
