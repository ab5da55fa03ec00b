#!/usr/bin/env bash
# Usage: deploy/build_image.sh [TAG]
#
# Builds the Sesh container image with buildah, offline and without Docker:
# a scratch image holding sesh-node, seshctl and sesh-health in
# /usr/local/bin, exactly the shared libraries they load (from ldd, the
# dynamic loader included), /etc/nsswitch.conf, /etc/passwd and /etc/group
# with the user sesh (uid 10001), and an empty /tmp and /var/lib/sesh.
# Entrypoint sesh-node, user 10001. TAG defaults to localhost/sesh:dev.
#
# The binaries come from SESH_BIN_DIR (holding the three binaries) if set,
# else from `bazel build`. Prints the tag and the time it took; the rootfs it
# assembled is left in SESH_ROOTFS_DIR if that is set (image_test.sh runs it
# with chroot when containers cannot run).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-localhost/sesh:dev}
start=$(date +%s)

if [ -n "${SESH_BIN_DIR:-}" ]; then
  node_bin=$SESH_BIN_DIR/sesh-node
  ctl_bin=$SESH_BIN_DIR/seshctl
  health_bin=$SESH_BIN_DIR/sesh-health
else
  bazel build //node:sesh-node //node:sesh-health //client:seshctl >&2
  node_bin=bazel-bin/node/sesh-node
  ctl_bin=bazel-bin/client/seshctl
  health_bin=bazel-bin/node/sesh-health
fi
for b in "$node_bin" "$ctl_bin" "$health_bin"; do
  [ -x "$b" ] || { echo "$0: no executable $b" >&2; exit 1; }
done

rootfs=${SESH_ROOTFS_DIR:-}
keep_rootfs=1
if [ -z "$rootfs" ]; then
  rootfs=$(mktemp -d)
  keep_rootfs=0
fi
cleanup() { [ "$keep_rootfs" = 1 ] || rm -rf "$rootfs"; }
trap cleanup EXIT
rm -rf "${rootfs:?}"/*
mkdir -p "$rootfs"/{usr/local/bin,etc,tmp,var/lib/sesh}
chmod 1777 "$rootfs/tmp"

# Copies a file with its directory path, following symlinks.
copy() {
  mkdir -p "$rootfs$(dirname "$2")"
  cp -L "$1" "$rootfs$2"
}
copy "$node_bin" /usr/local/bin/sesh-node
copy "$ctl_bin" /usr/local/bin/seshctl
copy "$health_bin" /usr/local/bin/sesh-health
# Every library ldd resolves, under the path it resolves to, plus the loader
# (the only path ldd prints without "=>"; "FILE:" lines name the binaries).
libs=$(ldd "$node_bin" "$ctl_bin" "$health_bin" |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' |
  sort -u)
missing=$(ldd "$node_bin" "$ctl_bin" "$health_bin" | grep "not found" || true)
if [ -n "$missing" ]; then
  echo "$0: unresolved libraries:" >&2
  echo "$missing" >&2
  exit 1
fi
for lib in $libs; do copy "$lib" "$lib"; done
# Debian's usr-merged layout: the loader path baked into binaries is /lib64.
[ -e "$rootfs/lib64/ld-linux-x86-64.so.2" ] ||
  copy /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2

# Name resolution through /etc/hosts first (Kubernetes writes the pod's own
# DNS name there), then DNS; no passwords.
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/nonexistent\nsesh:x:10001:10001:sesh:/var/lib/sesh:/nonexistent\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nsesh:x:10001:\n' >"$rootfs/etc/group"
chown 10001:10001 "$rootfs/var/lib/sesh"

# buildah from scratch, filled by copying the tree (owners kept), committed with the
# config; the working container is removed whatever happens.
ctr=$(buildah from --quiet scratch)
remove_ctr() { buildah rm "$ctr" >/dev/null 2>&1 || true; cleanup; }
trap remove_ctr EXIT
mnt=$(buildah mount "$ctr")
cp -a "$rootfs"/. "$mnt"/
buildah umount "$ctr" >/dev/null
buildah config \
  --entrypoint '["/usr/local/bin/sesh-node"]' --cmd '' \
  --user 10001:10001 --workingdir /var/lib/sesh \
  --port 7700 --port 7800 --port 7900 \
  --label org.opencontainers.image.title=sesh \
  --label org.opencontainers.image.description="Sesh session store node" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$tag" >/dev/null
trap cleanup EXIT

echo "built $tag in $(($(date +%s) - start)) s" >&2
echo "$tag"
