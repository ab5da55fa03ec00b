#!/usr/bin/env bash
# Installs what Sesh needs to build, test, demo and benchmark on Debian 12.
# Idempotent: a no-op when every package is already installed.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-platforms g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev libssl-dev libhiredis-dev libjemalloc-dev
  redis-server redis-tools gnuplot-nox python3
  etcd-server
  nodejs chromium  # client/node, examples/express (tools/node_test.sh)
  prometheus libcpp-httplib-dev
  podman buildah runc nodejs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs comes without npm; another build of nodejs may bundle it.
command -v npm >/dev/null || missing+=(npm)
# deploy/validate's npm packages (//deploy:manifests_test), as pinned by its
# lock file; installed again only when the lock file changes.
npm_packages() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/deploy/validate"
  cmp -s "$dir/package-lock.json" "$dir/node_modules/.sesh-lock" && return 0
  echo "setup: npm ci in deploy/validate" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2 &&
    cp package-lock.json node_modules/.sesh-lock)
}
if [ ${#missing[@]} -eq 0 ]; then
  npm_packages
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
# Debian starts redis-server, etcd and prometheus as services on install; the
# tests and benchmarks start their own on loopback, so stop a system one that
# was just installed.
for service in redis-server etcd prometheus; do
  package=$service
  [ "$service" = etcd ] && package=etcd-server
  if printf '%s\n' "${missing[@]}" | grep -qx "$package"; then
    (command -v systemctl >/dev/null && $SUDO systemctl stop "$service") >/dev/null 2>&1 || true
    (command -v service >/dev/null && $SUDO service "$service" stop) >/dev/null 2>&1 || true
  fi
done
npm_packages
