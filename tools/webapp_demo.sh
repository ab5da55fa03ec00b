#!/usr/bin/env bash
# The example web app (examples/webapp) on the local cluster.
#   tools/webapp_demo.sh        build, start the cluster (tools/cluster.sh up 3)
#                               unless it is up, start the app on
#                               http://localhost:$WEBAPP_PORT (default 8080)
#                               and print its URL; it keeps running
#   tools/webapp_demo.sh stop   stop the app (the cluster: tools/cluster.sh down)
# Plain HTTP on loopback only: browsers treat http://localhost as a secure
# context and keep its Secure cookies. The app's log, PID and signing key
# live in .cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.cluster
pid_file=$state/webapp.pid

stop() {
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "webapp: stopped (pid $pid)"
  fi
  rm -f "$pid_file"
}

if [ "${1:-}" = stop ]; then
  stop
  exit 0
fi

bash tools/setup.sh
bazel build //node:sesh-node //client:seshctl //examples/webapp:sesh-webapp
if ! [ -f "$state/pids" ] || [ -z "$(cat "$state/pids")" ]; then
  rm -rf "$state"
  bash tools/cluster.sh up 3
fi
if [ -f "$state/insecure" ]; then
  echo "webapp: the cluster runs with INSECURE=1; restart it without" >&2
  exit 1
fi
stop
# The preferences cookie's signing key, kept across restarts of the app.
[ -s "$state/webapp-prefs.keys" ] ||
  (umask 077 && openssl rand -hex 32 >"$state/webapp-prefs.keys")
port=${WEBAPP_PORT:-8080}
rm -f "$state/webapp.port"
nohup bazel-bin/examples/webapp/sesh-webapp --listen="127.0.0.1:$port" \
  --port_file="$state/webapp.port" --sesh="$(bash tools/cluster.sh addrs)" \
  --tls_ca="$state/tls/ca.pem" --token_file="$state/tls/token.demo" \
  --namespace=demo --prefs_keys_file="$state/webapp-prefs.keys" \
  >>"$state/webapp.log" 2>&1 &
echo $! >"$pid_file"
for _ in $(seq 1 100); do
  [ -f "$state/webapp.port" ] && break
  kill -0 "$(cat "$pid_file")" 2>/dev/null || break
  sleep 0.1
done
if ! [ -f "$state/webapp.port" ]; then
  rm -f "$pid_file"
  echo "webapp: did not start, see $state/webapp.log" >&2
  exit 1
fi
cat <<EOM

The example app is running: http://localhost:$port/
  sign in as alice / alice-demo-pw or bob / bob-demo-pw
  stop it:          bash tools/webapp_demo.sh stop
  stop the cluster: bash tools/cluster.sh down
EOM
