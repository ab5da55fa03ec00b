#!/usr/bin/env bash
# The Node.js client's tests (issue 19): npm ci in client/node and
# examples/express (from their lock files), sesh-node from Bazel (plain
# configuration), then the node:test suites of client/node and the example
# app's headless Chromium test. Each suite starts and stops its own 3-node
# cluster on free loopback ports. Ends with one line "N passed, M failed";
# exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
fail() { echo "node_test: $1" >&2; echo "0 passed, 1 failed"; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm needed (tools/setup.sh)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for dir in client/node examples/express; do
  # Installed again only when the lock file changes.
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.sesh-lock" ||
     [ "$dir" = examples/express ]; then  # holds a copy of client/node: always fresh
    (cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$log/npm.txt" 2>&1 &&
      cp package-lock.json node_modules/.sesh-lock) || { cat "$log/npm.txt" >&2; fail "npm ci in $dir failed"; }
  fi
done
timeout 900 bazel build //node:sesh-node >"$log/bazel.txt" 2>&1 || { tail -20 "$log/bazel.txt" >&2; fail "bazel build //node:sesh-node failed"; }

passed=0 failed=0
run() {  # name dir files...
  local name=$1 dir=$2 out="$log/$1.tap"
  shift 2
  (cd "$dir" && timeout 240 node --test --test-reporter=tap "$@") >"$out" 2>&1
  local rc=$? p f
  p=$(awk '/^# pass /{print $3}' "$out" | tail -1)
  f=$(awk '/^# fail /{print $3}' "$out" | tail -1)
  if [ -z "$p" ]; then p=0; f=$((${f:-0} + 1)); fi
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
  echo "node_test: $name: $p passed, ${f:-0} failed" >&2
  [ "${f:-0}" -eq 0 ] || grep -A30 '^ *not ok' "$out" | head -80 >&2
  passed=$((passed + p)) failed=$((failed + ${f:-0}))
}
run client client/node test/partition.test.js test/client.test.js test/store.test.js
run browser examples/express test/browser.test.js
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
