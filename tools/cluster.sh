#!/usr/bin/env bash
# A local Sesh cluster on loopback.
#   tools/cluster.sh up N     start N nodes (n1..nN): client ports
#                             127.0.0.1:BASE_PORT+1.., peer ports +100
#   tools/cluster.sh down     stop exactly the nodes this script started
#   tools/cluster.sh status   seshctl status against them
#   tools/cluster.sh addrs    their addresses, comma-separated (for --addr)
#   tools/cluster.sh ctlflags [NAME]  seshctl flags for them: --addr, the CA,
#                             and the token NAME (demo, bench, test, other,
#                             admin; default admin)
#   tools/cluster.sh kill ID  kill -9 one node (failure drills)
#   tools/cluster.sh start ID start one stopped node again, same data
# State (data dirs, logs, PIDs, throw-away certificates and tokens in tls/)
# lives in .cluster/ at the repository root. BASE_PORT (default 7700), RF
# (replication factor, default 3) and INSECURE=1 (plaintext, no tokens: for
# benchmark comparisons only) are read from the environment at "up".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.cluster"
node_bin="$root/bazel-bin/node/sesh-node"
ctl_bin="$root/bazel-bin/client/seshctl"

addrs() { cut -d' ' -f3 "$state/nodes" | paste -sd, -; }

# seshctl's flags for this cluster, with token $1 (default admin).
ctlflags() {
  if [ -f "$state/insecure" ]; then
    echo "--addr=$(addrs) --insecure"
  else
    echo "--addr=$(addrs) --tls_ca=$state/tls/ca.pem --token_file=$state/tls/token.${1:-admin}"
  fi
}

start_node() {  # id port
  local id=$1 port=$2 peers peer_port security
  peers=$(awk '{printf "%s%s=%s/%s", (NR>1?",":""), $1, $3, $4}' "$state/nodes")
  peer_port=$(awk -v id="$id" '$1==id {print $4}' "$state/nodes")
  if [ -f "$state/insecure" ]; then
    security=(--insecure)
  else
    security=(--tls_cert="$state/tls/$id.pem" --tls_key="$state/tls/$id.key"
              --cluster_ca="$state/tls/ca.pem" --token_file="$state/tls/tokens")
  fi
  rm -f "$state/$id.port"
  nohup "$node_bin" --node_id="$id" --listen="127.0.0.1:$port" \
    --peer_listen="$peer_port" "${security[@]}" \
    --data_dir="$state/$id" --peers="$peers" \
    --replication_factor="$(cat "$state/rf")" \
    --port_file="$state/$id.port" ${SESH_NODE_FLAGS:-} >>"$state/$id.log" 2>&1 &
  echo "$id $!" >>"$state/pids"
}

wait_serving() {  # ids...
  local id
  for id in "$@"; do
    for _ in $(seq 1 200); do
      [ -f "$state/$id.port" ] && break
      sleep 0.1
    done
    [ -f "$state/$id.port" ] || { echo "cluster: $id did not start, see $state/$id.log" >&2; exit 1; }
  done
}

pid_of() { awk -v id="$1" '$1==id {p=$2} END {print p}' "$state/pids" 2>/dev/null; }

case "${1:-}" in
  up)
    n=${2:-3}
    if [ -f "$state/pids" ] && [ -n "$(cat "$state/pids")" ]; then
      echo "cluster: already up ($(addrs)); run '$0 down' first" >&2
      exit 1
    fi
    [ -x "$node_bin" ] && [ -x "$ctl_bin" ] || (cd "$root" && bazel build //node:sesh-node //client:seshctl)
    mkdir -p "$state"
    : >"$state/nodes"
    : >"$state/pids"
    echo "${RF:-3}" >"$state/rf"
    base=${BASE_PORT:-7700}
    for i in $(seq 1 "$n"); do
      echo "n$i 127.0.0.1 127.0.0.1:$((base + i)) 127.0.0.1:$((base + 100 + i))" >>"$state/nodes"
    done
    rm -f "$state/insecure"
    if [ "${INSECURE:-0}" = 1 ]; then
      touch "$state/insecure"
    else
      # Throw-away CA, node certificates and tokens; an operator supplies
      # real ones (README, "Security").
      bash "$root/tools/gen_certs.sh" "$state/tls" $(cut -d' ' -f1 "$state/nodes")
    fi
    while read -r id _ addr _; do start_node "$id" "${addr##*:}"; done <"$state/nodes"
    wait_serving $(cut -d' ' -f1 "$state/nodes")
    echo "cluster: $n nodes up at $(addrs) (logs in $state)"
    ;;
  down)
    [ -f "$state/pids" ] || { echo "cluster: not up"; exit 0; }
    while read -r id pid; do
      kill -TERM "$pid" 2>/dev/null || continue
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      echo "cluster: stopped $id (pid $pid)"
    done <"$state/pids"
    : >"$state/pids"
    ;;
  kill)
    pid=$(pid_of "$2")
    [ -n "$pid" ] || { echo "cluster: no node $2" >&2; exit 1; }
    kill -KILL "$pid" 2>/dev/null || true
    sed -i "/^$2 /d" "$state/pids"  # never signal a reused pid later
    echo "cluster: killed $2 (pid $pid) with SIGKILL"
    ;;
  start)
    port=$(awk -v id="$2" '$1==id {print $3}' "$state/nodes"); port=${port##*:}
    [ -n "$port" ] || { echo "cluster: no node $2" >&2; exit 1; }
    start_node "$2" "$port"
    wait_serving "$2"
    echo "cluster: started $2 again on port $port"
    ;;
  status)
    # shellcheck disable=SC2046  # flags are words
    "$ctl_bin" $(ctlflags admin) status
    ;;
  addrs)
    addrs
    ;;
  ctlflags)
    ctlflags "${2:-admin}"
    ;;
  *)
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
