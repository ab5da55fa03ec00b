#!/usr/bin/env bash
# Sets up, builds and runs every test; ends with "N passed, M failed"
# (N and M count test cases, from each test target's XML report; a target
# that failed without a report counts as one failure).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
bazel test //... --test_output=errors "$@" 2>&1 | tee "$log"
bazel_rc=${PIPESTATUS[0]}

python3 - "$log" "$(bazel info bazel-testlogs 2>/dev/null)" "$bazel_rc" <<'PY'
import os, re, sys, xml.etree.ElementTree as ET
log, testlogs, bazel_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
passed = failed = 0
for line in open(log, errors="replace"):
    m = re.match(r"^(//\S+)\s+(?:\(cached\)\s+)?(PASSED|FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD)\b", line.strip())
    if not m:
        continue
    target, status = m.group(1), m.group(2)
    pkg, name = target[2:].split(":")
    xml = os.path.join(testlogs, pkg, name, "test.xml")
    tests = fails = None
    if os.path.exists(xml):
        try:
            root = ET.parse(xml).getroot()
            suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
            tests = sum(int(s.get("tests", 0)) for s in suites)
            fails = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        except Exception:
            pass
    if status == "PASSED":
        passed += tests if tests else 1
    else:
        if tests and fails:
            failed += fails
            passed += tests - fails
        else:
            failed += 1
if bazel_rc != 0 and failed == 0:
    failed = 1  # the build itself failed
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
PY
summary_rc=$?
rm -f "$log"
if [ "$bazel_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ]; then
  exit 1
fi
