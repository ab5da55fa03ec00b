#!/usr/bin/env bash
# Sets up, builds, starts a 3-node local cluster and walks through a session's
# life with seshctl: login, reads, updates, rotation, "log out everywhere",
# and a node killed with kill -9 while its sessions stay readable.
# The cluster keeps running afterwards; stop it with: bash tools/cluster.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel build //node:sesh-node //client:seshctl
if [ -f .cluster/pids ] && [ -n "$(cat .cluster/pids)" ]; then
  bash tools/cluster.sh down
fi
rm -rf .cluster
bash tools/cluster.sh up 3
ADDR=$(bash tools/cluster.sh addrs)
# TLS checked against the cluster's throw-away CA, and the token of
# namespace "demo" (tools/cluster.sh made both; see README, "Security").
# shellcheck disable=SC2046  # flags are words
# Session ids are base64url and may start with "-": each goes after "--".
ctl() { bazel-bin/client/seshctl $(bash tools/cluster.sh ctlflags demo) --namespace=demo "$@"; }
admin() { bazel-bin/client/seshctl $(bash tools/cluster.sh ctlflags admin) "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
field() { sed -n "s/^$1: *//p" | head -1; }

say "The cluster"
ctl ring

say "Alice logs in on her laptop: a session with her roles (idle timeout 30 min, absolute 8 h)"
laptop=$(ctl create --user=alice --idle_timeout_ms=1800000 --absolute_ttl_ms=28800000 role=admin cart=0 | tee /dev/stderr | field id)

say "A request reads the session (and slides its expiry)"
ctl get -- "$laptop"

say "She adds to her cart: a per-attribute update"
ctl update -- "$laptop" cart=3 theme=dark

say "A background check reads without touching, then touches"
ctl get --no_touch -- "$laptop"
ctl touch -- "$laptop"

say "She elevates privileges: the session is rotated (fixation defence)"
rotated=$(ctl rotate -- "$laptop" | tee /dev/stderr | field id)
say "The old id is dead"
ctl get -- "$laptop" || echo "(as expected)"

say "She logs in on her phone too; ListByUser spans the cluster"
phone=$(ctl create --user=alice --idle_timeout_ms=1800000 device=phone | field id)
ctl list-by-user --attributes=device alice

say "She logs out a forgotten tablet from the \"your devices\" page: by its handle (lists never show session ids)"
tablet=$(ctl create --user=alice --idle_timeout_ms=1800000 device=tablet | field id)
tablet_handle=$(ctl get --no_touch -- "$tablet" | field handle)
ctl destroy-handle -- alice "$tablet_handle"
ctl get -- "$tablet" || echo "(as expected: that device is logged out)"

say "Which node owns the laptop session?"
ctl ring -- "$rotated"
owner=$(ctl ring -- "$rotated" | sed -n 's/^preference_list: *//p' | cut -d, -f1)

say "kill -9 that node ($owner): nobody is logged out"
bash tools/cluster.sh kill "$owner"
ctl get -- "$rotated"
# Reads go on at once. A write to the dead node's sessions waits until the
# other replicas have seen it gone (about one heartbeat, 200 ms): until
# then it might still be answering reads alone, so they do not vouch for
# writes without it, and the write is refused with UNAVAILABLE.
for attempt in $(seq 1 20); do
  if ctl update -- "$rotated" cart=4 2>/dev/null; then break; fi
  [ "$attempt" = 20 ] && ctl update -- "$rotated" cart=4
  echo "(write refused for now, attempt $attempt; retrying in 100 ms)"
  sleep 0.1
done

say "It comes back and catches up before serving"
bash tools/cluster.sh start "$owner"
ctl get --no_touch -- "$rotated"

say "\"Log out everywhere else\" from the phone"
ctl destroy-by-user alice --except="$phone"
ctl get -- "$rotated" || echo "(as expected: logged out)"
ctl list-by-user alice

say "Logout on the phone is final"
ctl destroy -- "$phone"
ctl get -- "$phone" || echo "(as expected)"

say "Tokens are per namespace: the demo token cannot read another namespace"
bazel-bin/client/seshctl $(bash tools/cluster.sh ctlflags demo) --namespace=other get -- "$phone" || echo "(as expected: PERMISSION_DENIED)"

say "Cluster status (an operator call: the admin token)"
admin status
printf '\nThe cluster is still running at %s. Stop it with: bash tools/cluster.sh down\n' "$ADDR"
