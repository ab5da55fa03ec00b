#!/usr/bin/env bash
# Get+touch throughput of the Node client (bench/node_get_touch.js) beside
# the C++ client's (sesh-load --mix=get_touch:100) on the same 3-node
# cluster, in the same run: ROUNDS alternating closed loops of each, same
# CONCURRENCY, on working sets of KEYS sessions each. The cluster (TLS and
# tokens from tools/gen_certs.sh) runs on free loopback ports with its data
# in a temp dir; exactly the processes started here are stopped at the end.
# Writes bench/results/node-vs-cpp-<date>/: report.md (medians, ratio) and
# each run's JSON.
#   KEYS=10000 DURATION=8 ROUNDS=3 CONCURRENCY=64 bash bench/node_vs_cpp.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
KEYS=${KEYS:-10000} DURATION=${DURATION:-8} ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-64} WARMUP=${WARMUP:-1}
out="$root/bench/results/node-vs-cpp-$(date +%Y%m%d-%H%M%S)"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

bazel build //node:sesh-node //bench:sesh-load >&2
(cd client/node && { cmp -s package-lock.json node_modules/.sesh-lock ||
  { npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.sesh-lock; }; }) >&2
mkdir -p "$out" "$tmp/bin"
cp bazel-bin/node/sesh-node bazel-bin/bench/sesh-load "$tmp/bin/"

bash tools/gen_certs.sh "$tmp/tls" n1 n2 n3
read -r -a ports < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
peers="n1=127.0.0.1:${ports[0]}/127.0.0.1:${ports[1]},n2=127.0.0.1:${ports[2]}/127.0.0.1:${ports[3]},n3=127.0.0.1:${ports[4]}/127.0.0.1:${ports[5]}"
for i in 1 2 3; do
  "$tmp/bin/sesh-node" --node_id="n$i" --listen="127.0.0.1:${ports[$((2 * i - 2))]}" \
    --peer_listen="127.0.0.1:${ports[$((2 * i - 1))]}" --tls_cert="$tmp/tls/n$i.pem" \
    --tls_key="$tmp/tls/n$i.key" --cluster_ca="$tmp/tls/ca.pem" \
    --token_file="$tmp/tls/tokens" --data_dir="$tmp/n$i" --peers="$peers" \
    --port_file="$tmp/n$i.port" >"$tmp/n$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 1 300); do [ -f "$tmp/n$i.port" ] && break; sleep 0.1; done
  [ -f "$tmp/n$i.port" ] || { tail "$tmp/n$i.log" >&2; echo "n$i did not start" >&2; exit 1; }
done
addr="127.0.0.1:${ports[0]},127.0.0.1:${ports[2]},127.0.0.1:${ports[4]}"
limit=$((120 + KEYS / 200 + 2 * (DURATION + WARMUP)))

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r: node" >&2
  timeout "$limit" node bench/node_get_touch.js --seeds="$addr" --ca="$tmp/tls/ca.pem" \
    --tls_server_name=localhost --token_file="$tmp/tls/token.bench" --keys="$KEYS" \
    --concurrency="$CONCURRENCY" --duration_s="$DURATION" --warmup_s="$WARMUP" \
    --keys_file="$tmp/node.keys" --json_out="$out/node-$r.json" >/dev/null
  echo "round $r: c++" >&2
  timeout "$limit" "$tmp/bin/sesh-load" --target=sesh --addr="$addr" --keys="$KEYS" \
    --keys_file="$tmp/cpp.keys" $([ "$r" -gt 1 ] && echo --skip_preload) \
    --mix=get_touch:100 --concurrency="$CONCURRENCY" --duration_s="$DURATION" \
    --warmup_s="$WARMUP" --tls_ca="$tmp/tls/ca.pem" --token_file="$tmp/tls/token.bench" \
    --progress=false --json_out="$out/cpp-$r.json" >/dev/null
done

python3 - "$out" "$ROUNDS" "$KEYS" "$CONCURRENCY" "$DURATION" "$(git rev-parse --short HEAD)" <<'PY'
import json, statistics, sys
out, rounds, keys, conc, dur, rev = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
node = [json.load(open(f"{out}/node-{r}.json")) for r in range(1, rounds + 1)]
cpp = []
for r in range(1, rounds + 1):
    j = json.load(open(f"{out}/cpp-{r}.json"))
    ph = j["phases"][0]
    op = ph["ops"]["get_touch"]
    cpp.append({"ops_per_s": ph["total_ops_per_s"], "p50_us": op["p50_us"], "p99_us": op["p99_us"],
                "client_cpu_cores": ph.get("client_cpu_cores")})
med = lambda xs, k: statistics.median(x[k] for x in xs)
n_ops, c_ops = med(node, "ops_per_s"), med(cpp, "ops_per_s")
lines = [f"# Node vs C++ client: get+touch, same 3-node cluster, same run",
         "", f"build {rev}; {keys} sessions per client, concurrency {conc}, {dur} s closed loops, "
         f"{rounds} alternating rounds; TLS and tokens on; 2-core machine shared by the nodes and the client.",
         "", "| client | median ops/s | median p50 us | median p99 us | rounds (ops/s) |", "|---|---|---|---|---|"]
for name, xs in (("Node (sesh-client)", node), ("C++ (sesh-load)", cpp)):
    lines.append(f"| {name} | {med(xs, 'ops_per_s'):.0f} | {med(xs, 'p50_us'):.0f} | {med(xs, 'p99_us'):.0f} | "
                 + ", ".join(f"{x['ops_per_s']:.0f}" for x in xs) + " |")
ratios = [n["ops_per_s"] / c["ops_per_s"] for n, c in zip(node, cpp)]
lines += ["", f"Node / C++ throughput: {n_ops / c_ops:.2f} (ratio of medians); "
          f"median of the rounds' paired ratios {statistics.median(ratios):.2f}.",
          "Node errors: " + json.dumps([n["errors"] for n in node])]
open(f"{out}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "bench: $out" >&2
