#!/usr/bin/env bash
# Builds the container image (deploy/build_image.sh) and runs one node in it
# as the StatefulSet does: managed membership on a real etcd (on loopback),
# its own DNS name from /etc/hosts as --listen, TLS and a token file mounted
# read-only, a read-only root filesystem, uid 10001. Checks the plaintext
# health listener (liveness at once, readiness once serving), a session
# round trip and `seshctl status` through the image's own seshctl, and that
# SIGTERM drains and stops the node with exit status 0 well inside the
# manifests' terminationGracePeriodSeconds.
#
# If podman cannot run a container here, the test prints podman's exact
# error and runs the same node from the image's root filesystem with chroot
# instead (SESH_IMAGE_TEST_CHROOT=1 forces that path). Needs root, podman,
# buildah and etcd (tools/setup.sh). Stops and removes exactly the
# container, image and processes it started.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # chroot; bazel's test PATH lacks them

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (podman, chroot)"
for tool in podman buildah etcd timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (tools/setup.sh)"
done

if [ -n "${TEST_SRCDIR:-}" ]; then
  runfiles="$TEST_SRCDIR/sesh"
  tmp=$(mktemp -d "${TEST_TMPDIR:?}/image.XXXXXX")
else  # run by hand from the repository: bazel-bin
  runfiles=$(cd "$(dirname "$0")/.." && pwd)/bazel-bin
  tmp=$(mktemp -d)
fi
export HOME=${HOME:-$tmp}
chmod 755 "$tmp"
src_root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bins="$tmp/bin"
mkdir -p "$bins"
ln -s "$runfiles/node/sesh-node" "$runfiles/node/sesh-health" \
  "$runfiles/client/seshctl" "$bins/"

tag=localhost/sesh:image-test
ctr=sesh-image-test-$$
etcd_pid=
node_pid=
cleanup() {
  set +e
  timeout 60 podman rm -f -t 5 "$ctr" >/dev/null 2>&1
  [ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
  if [ -n "$etcd_pid" ]; then
    kill -TERM "$etcd_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$etcd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$etcd_pid" 2>/dev/null
  fi
  timeout 60 podman rmi -f "$tag" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# Ports below the kernel's ephemeral range, each held by a lock file for
# this shell's life (as tests/node_process.cc picks them).
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
mkdir -p /tmp/sesh-test-ports
pick_port() {
  local low=$((ephemeral_low - 16384)) span=16384 port fd i
  for i in $(seq 1 200); do
    port=$((low + RANDOM % span))
    exec {fd}>"/tmp/sesh-test-ports/$port"
    if flock -n "$fd" && python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
      echo "$port"
      return
    fi
    exec {fd}>&-
  done
  fail "no free port"
}
# Picked in this shell (not a subshell) so that the locks stay held.
pick_port >"$tmp/p"; client_port=$(<"$tmp/p")
pick_port >"$tmp/p"; peer_port=$(<"$tmp/p")
pick_port >"$tmp/p"; health_port=$(<"$tmp/p")
pick_port >"$tmp/p"; etcd_port=$(<"$tmp/p")
pick_port >"$tmp/p"; etcd_peer_port=$(<"$tmp/p")

node_id=sesh-0
domain=sesh-test.internal  # stands for <service>.<namespace>.svc.cluster.local
fqdn=$node_id.$domain

# Credentials as deploy/README.md makes them, readable by the image's user.
SESH_CERT_SANS="DNS:{id}.$domain" bash "$runfiles/tools/gen_certs.sh" "$tmp/tls" "$node_id"
openssl x509 -in "$tmp/tls/$node_id.pem" -noout -ext subjectAltName | grep -q "DNS:$fqdn" ||
  fail "certificate lacks DNS:$fqdn"
chown -R 10001:10001 "$tmp/tls"
mkdir -p "$tmp/data"
chown 10001:10001 "$tmp/data"

etcd --name image-test --data-dir "$tmp/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "image-test=http://127.0.0.1:$etcd_peer_port" \
  >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!

start=$(date +%s)
SESH_BIN_DIR="$bins" SESH_ROOTFS_DIR="$tmp/rootfs" \
  timeout 600 bash "$src_root/deploy/build_image.sh" "$tag" >/dev/null
echo "image built in $(($(date +%s) - start)) s" >&2

# The flags the StatefulSet passes, with this test's ports and names.
node_flags=(
  --node_id="$node_id" --data_dir=/var/lib/sesh/data
  --listen="$fqdn:$client_port" --peer_listen="$fqdn:$peer_port"
  --health_listen="127.0.0.1:$health_port"
  --etcd="127.0.0.1:$etcd_port" --etcd_cluster="image-test-$$"
  --tls_cert="/etc/sesh/tls/$node_id.pem" --tls_key="/etc/sesh/tls/$node_id.key"
  --cluster_ca=/etc/sesh/tls/ca.pem --token_file=/etc/sesh/tls/tokens
  --block_cache_mb=64
)
ctl_flags=(--addr="$fqdn:$client_port" --tls_ca=/etc/sesh/tls/ca.pem)

mode=podman
run_in_image() { timeout 30 podman exec "$ctr" "$@"; }
podman_flags=(
  --detach --name "$ctr" --network=host --read-only
  --add-host "$fqdn:127.0.0.1"
  --volume "$tmp/tls:/etc/sesh/tls:ro" --volume "$tmp/data:/var/lib/sesh"
  # This VM's root lacks CAP_SYS_RESOURCE: podman's default rlimits (above
  # the host's) cannot be set, so ask for lower ones.
  --ulimit "nofile=$(( $(ulimit -n) < 16384 ? $(ulimit -n) : 16384 ))" --ulimit nproc=4096
)
# crun refuses this VM's hybrid cgroup layout; runc copes.
command -v runc >/dev/null && podman_flags+=(--runtime=runc)
if [ "${SESH_IMAGE_TEST_CHROOT:-0}" = 1 ]; then
  mode=chroot
  echo "SESH_IMAGE_TEST_CHROOT=1: chroot instead of podman run" >&2
elif ! timeout 120 podman run "${podman_flags[@]}" "$tag" "${node_flags[@]}" \
     >"$tmp/podman.out" 2>&1; then
  mode=chroot
  echo "podman run cannot run a container here; its exact error:" >&2
  sed 's/^/  podman: /' "$tmp/podman.out" >&2
  timeout 60 podman rm -f "$ctr" >/dev/null 2>&1 || true
fi
if [ "$mode" = chroot ]; then
  # The image's root filesystem as build_image.sh assembled it, with the
  # mounts podman would have made.
  root="$tmp/rootfs"
  mkdir -p "$root/etc/sesh/tls" "$root/dev"
  cp -a "$tmp/tls/." "$root/etc/sesh/tls/"
  printf '127.0.0.1 localhost %s\n' "$fqdn" >"$root/etc/hosts"
  cp /etc/resolv.conf "$root/etc/resolv.conf"  # gRPC's c-ares resolver wants one
  for dev in null urandom random; do cp -a "/dev/$dev" "$root/dev/"; done
  chroot --userspec=10001:10001 "$root" /usr/local/bin/sesh-node "${node_flags[@]}" \
    >"$tmp/node.log" 2>&1 &
  node_pid=$!
  run_in_image() { timeout 30 chroot --userspec=10001:10001 "$root" "$@"; }
fi
echo "running the node with $mode" >&2

node_log() {
  if [ "$mode" = podman ]; then timeout 30 podman logs "$ctr" 2>&1 | tail -30
  else tail -30 "$tmp/node.log"; fi
}
health() {
  "$bins/sesh-health" --addr="127.0.0.1:$health_port" --timeout_ms=1000 "$@" >/dev/null 2>&1
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local deadline=$(($(date +%s) + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { node_log >&2; fail "$what"; }
    sleep 0.5
  done
}
wait_for 60 "liveness (sesh.liveness) never SERVING" health --service=sesh.liveness
wait_for 60 "readiness (\"\") never SERVING" health
echo "health: liveness and readiness SERVING on 127.0.0.1:$health_port" >&2

created=$(run_in_image /usr/local/bin/seshctl "${ctl_flags[@]}" \
  --token_file=/etc/sesh/tls/token.test --namespace=test \
  create --user=alice role=admin) || { node_log >&2; fail "seshctl create"; }
id=$(printf '%s\n' "$created" | grep -oE '[A-Za-z0-9_-]{43}' | head -1)
[ -n "$id" ] || fail "no session id in: $created"
run_in_image /usr/local/bin/seshctl "${ctl_flags[@]}" \
  --token_file=/etc/sesh/tls/token.test --namespace=test get "$id" |
  grep -q admin || fail "seshctl get did not return the session"
status=$(run_in_image /usr/local/bin/seshctl "${ctl_flags[@]}" \
  --token_file=/etc/sesh/tls/token.admin status) || fail "seshctl status"
printf '%s\n' "$status" | grep -q "$node_id" || fail "status names no $node_id: $status"
echo "seshctl create/get/status through the image: ok" >&2

# SIGTERM: drain, flush, stop; well under the 30 s grace period.
start=$(date +%s)
if [ "$mode" = podman ]; then
  timeout 60 podman stop -t 25 "$ctr" >/dev/null
  code=$(timeout 30 podman inspect "$ctr" --format '{{.State.ExitCode}}')
else
  kill -TERM "$node_pid"
  code=0
  wait "$node_pid" || code=$?
  node_pid=
fi
took=$(($(date +%s) - start))
[ "$code" = 0 ] || { node_log >&2; fail "node exited $code after SIGTERM"; }
[ "$took" -lt 20 ] || fail "SIGTERM took $took s"
node_log | grep -q "stopped" || { node_log >&2; fail "no 'stopped' in the node's log"; }
echo "SIGTERM: stopped in $took s, exit 0" >&2
echo "PASS ($mode)"
