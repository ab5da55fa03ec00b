#!/usr/bin/env bash
# End-to-end tests of examples/webapp in headless Chromium (tests/browser):
# installs the test package's npm dependencies from its lock file (once per
# lock file), builds the node, seshctl and the app (plain configuration),
# runs tests/browser/webapp.test.mjs against a 3-node cluster it starts on
# free loopback ports, and ends with exactly one line "N passed, M failed"
# (non-zero exit on failure). Needs chromium, nodejs and npm
# (tools/setup.sh). SESH_UPDATE_SCREENSHOT=1 also refreshes
# docs/img/webapp.png; every run writes tests/browser/out/webapp.png.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=tests/browser
fail() {
  echo "browser_test: $1" >&2
  echo "0 passed, 1 failed"
  exit 1
}

for cmd in node npm; do
  command -v "$cmd" >/dev/null || fail "$cmd not found (bash tools/setup.sh)"
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium not found (bash tools/setup.sh)"

# playwright-core only: it never downloads a browser; the tests use Debian's.
if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.sesh-lock"; then
  echo "browser_test: npm ci in $dir" >&2
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
    --loglevel=error >&2 && cp package-lock.json node_modules/.sesh-lock) ||
    fail "npm ci failed"
fi

bazel build //node:sesh-node //client:seshctl //examples/webapp:sesh-webapp >&2 ||
  fail "bazel build failed"

start=$SECONDS
log=$(mktemp "${TMPDIR:-/tmp}/sesh-browser-test.XXXXXX")
(cd "$dir" && timeout 300 node --test --test-reporter=tap webapp.test.mjs) >"$log" 2>&1
rc=$?
# Failures in full; passes as one line each.
grep -E '^(not )?ok ' "$log" >&2
[ "$rc" -eq 0 ] || cat "$log" >&2
passed=$(sed -n 's/^# pass //p' "$log" | tail -1)
failed=$(sed -n 's/^# fail //p' "$log" | tail -1)
rm -f "$log"
echo "browser_test: $((SECONDS - start)) s" >&2
if [ -z "$passed" ] || [ -z "$failed" ]; then
  fail "the test run did not report (exit $rc)"
fi
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
