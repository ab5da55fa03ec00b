#!/usr/bin/env bash
# Validates deploy/k8s offline (deploy/validate/check_manifests.mjs): the
# Kubernetes OpenAPI schemas, and the StatefulSet's flags, ports and probes
# against this build's `sesh-node --helpfull`. Needs node and the packages
# tools/setup.sh installs with `npm ci` in deploy/validate.
set -euo pipefail
runfiles="${TEST_SRCDIR:?}/sesh"
# The script's real path, so that node finds deploy/validate/node_modules.
script=$(readlink -f "$runfiles/deploy/validate/check_manifests.mjs")
[ -d "$(dirname "$script")/node_modules/kubernetes-models" ] || {
  echo "FAIL: no node_modules in $(dirname "$script"): run tools/setup.sh" >&2
  exit 1
}
"$runfiles/node/sesh-node" --helpfull >"$TEST_TMPDIR/helpfull.txt" 2>&1 || true
node "$script" "$runfiles/deploy/k8s" "$TEST_TMPDIR/helpfull.txt"
