#!/usr/bin/env bash
# The cost of closing Sesh: the same 3-node cluster (RF 3, QUORUM) run as in
# production (TLS on both ports, mutual on the peer port, a namespace token)
# and with --insecure (plaintext, no tokens), ROUNDS times each, alternating
# (secure, plaintext, secure, ...) so that drift on a shared machine hits
# both alike. Each run preloads KEYS sessions, then measures get+touch and
# the web mix closed loop (sesh-load, CONCURRENCY callers). Writes
# OUT/report.md with the medians, their ratio, and node CPU per operation.
#
#   KEYS=100000 DURATION=8 ROUNDS=3 bash bench/tls_cost.sh
#
# Loopback only; starts its own nodes on free ports in a temp dir and stops
# exactly those (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
KEYS=${KEYS:-100000}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-64}
THREADS=${THREADS:-2}
OUT=${OUT:-bench/results/tls-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "[tls_cost.sh $(date +%T)] $*" >&2; }

bazel build //node:sesh-node //bench:sesh-load 2>&1 | tail -1 >&2
tmp=$(mktemp -d /tmp/sesh-tls-cost.XXXXXX)
mkdir "$tmp/bin"
cp bazel-bin/node/sesh-node bazel-bin/bench/sesh-load "$tmp/bin/"
git rev-parse --short HEAD >"$OUT/commit.txt" 2>/dev/null || true
bash tools/gen_certs.sh "$tmp/tls" n1 n2 n3

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

run() {  # mode(secure|plain) round
  local mode=$1 round=$2 ports peers addr i security client
  read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  peers="n1=127.0.0.1:${ports[0]}/127.0.0.1:${ports[3]},n2=127.0.0.1:${ports[1]}/127.0.0.1:${ports[4]},n3=127.0.0.1:${ports[2]}/127.0.0.1:${ports[5]}"
  addr="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
  rm -rf "$tmp/data"
  mkdir -p "$tmp/data"
  for i in 1 2 3; do
    if [ "$mode" = secure ]; then
      security=(--tls_cert="$tmp/tls/n$i.pem" --tls_key="$tmp/tls/n$i.key"
                --cluster_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/tokens")
    else
      security=(--insecure)
    fi
    "$tmp/bin/sesh-node" --node_id="n$i" --listen="127.0.0.1:${ports[$((i - 1))]}" \
      --peer_listen="127.0.0.1:${ports[$((i + 2))]}" "${security[@]}" \
      --data_dir="$tmp/data/n$i" --peers="$peers" --port_file="$tmp/data/n$i.port" \
      >"$tmp/$mode-$round-n$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 1 300); do [ -f "$tmp/data/n$i.port" ] && break; sleep 0.1; done
    [ -f "$tmp/data/n$i.port" ] || { tail -5 "$tmp/$mode-$round-n$i.log" >&2; exit 1; }
  done
  if [ "$mode" = secure ]; then
    client=(--tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench")
  else
    client=(--insecure)
  fi
  local server_pids
  server_pids=$(IFS=,; echo "${pids[*]}")
  log "$mode round $round: preload $KEYS, then get+touch and the web mix"
  timeout $((120 + KEYS / 500 + 4 * (DURATION + WARMUP + 5))) \
    "$tmp/bin/sesh-load" --target=sesh --addr="$addr" "${client[@]}" \
    --keys="$KEYS" --keys_file="$tmp/keys-$mode-$round" --mix=get_touch:100 \
    --concurrency="$CONCURRENCY" --threads="$THREADS" --warmup_s="$WARMUP" \
    --duration_s="$DURATION" --server_pids="$server_pids" --progress=false \
    --json_out="$OUT/$mode-$round-get_touch.json" >/dev/null
  timeout $((60 + 4 * (DURATION + WARMUP + 5))) \
    "$tmp/bin/sesh-load" --target=sesh --addr="$addr" "${client[@]}" \
    --keys="$KEYS" --keys_file="$tmp/keys-$mode-$round" --skip_preload \
    --concurrency="$CONCURRENCY" --threads="$THREADS" --warmup_s="$WARMUP" \
    --duration_s="$DURATION" --server_pids="$server_pids" --progress=false \
    --json_out="$OUT/$mode-$round-web_mix.json" >/dev/null
  stop_nodes
}

for round in $(seq 1 "$ROUNDS"); do
  run secure "$round"
  run plain "$round"
done

python3 - "$OUT" "$ROUNDS" "$KEYS" "$CONCURRENCY" "$DURATION" <<'PY'
import json, statistics, sys
out, rounds, keys, conc, dur = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def med(mode, phase, field):
    vals = []
    for r in range(1, rounds + 1):
        p = json.load(open("%s/%s-%d-%s.json" % (out, mode, r, phase)))["phases"][0]
        v = p.get(field)
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else float("nan")
L = ["# The cost of TLS and tokens", "",
     "3-node cluster, RF 3, QUORUM; %s sessions; %s callers; %s s per phase; "
     "medians of %d alternating rounds per mode (`bench/tls_cost.sh`). "
     "secure: TLS on the client port, mutual TLS on the peer port, a namespace "
     "token on every call. plaintext: `--insecure`, no tokens." % (keys, conc, dur, rounds), "",
     "| phase | secure ops/s | plaintext ops/s | secure / plaintext | node CPU µs/op secure | plaintext |",
     "|---|---|---|---|---|---|"]
for phase, name in (("get_touch", "get+touch"), ("web_mix", "web mix")):
    s, p = med("secure", phase, "total_ops_per_s"), med("plain", phase, "total_ops_per_s")
    cs, cp = med("secure", phase, "server_cpu_us_per_op"), med("plain", phase, "server_cpu_us_per_op")
    L.append("| %s | %.0f | %.0f | %.2f | %.1f | %.1f |" % (name, s, p, s / p, cs, cp))
open(out + "/report.md", "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
