#!/usr/bin/env bash
# Sets up, builds and runs every test twice: as built for production, and
# under AddressSanitizer + UndefinedBehaviorSanitizer (--config=asan). Ends
# with "N passed, M failed" (N and M count test cases over both runs, from
# each test target's XML report; a target that failed without a report
# counts as one failure). Extra arguments go to both bazel test runs;
# SESH_TEST_CONFIGS="default" skips the sanitizer run, SESH_TEST_TARGETS
# narrows the targets (tools/tsan.sh uses both), SESH_IMAGE_TEST=0 skips
# //deploy:image_test. Then every libFuzzer target
# runs SESH_FUZZ_SECONDS (default 20; 0 skips them) through tools/fuzz.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

configs=${SESH_TEST_CONFIGS:-"default asan"}
targets=${SESH_TEST_TARGETS:-//...}
total_passed=0
total_failed=0
overall_rc=0
for config in $configs; do
  flags=()
  [ "$config" = default ] || flags=(--config="$config")
  # The container image test is tagged manual (root, podman); it runs here,
  # in the plain configuration only, unless SESH_IMAGE_TEST=0.
  extra=()
  [ "$config" = default ] && [ -z "${SESH_TEST_TARGETS:-}" ] &&
    [ "${SESH_IMAGE_TEST:-1}" != 0 ] && extra=(//deploy:image_test)
  echo "== bazel test $targets ${flags[*]:-}" >&2
  log=$(mktemp)
  # shellcheck disable=SC2086  # targets is a list
  bazel test $targets "${extra[@]}" --test_output=errors "${flags[@]}" "$@" 2>&1 | tee "$log"
  bazel_rc=${PIPESTATUS[0]}
  counts=$(python3 - "$log" "$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)" "$bazel_rc" <<'PY'
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
print(passed, failed)
PY
)
  rm -f "$log"
  # Bazel 4.2 leaves test sandboxes behind, RocksDB files included.
  rm -rf "$(bazel info output_base 2>/dev/null)/sandbox/processwrapper-sandbox"
  read -r p f <<<"$counts"
  echo "== $config: $p passed, $f failed" >&2
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  [ "$bazel_rc" -eq 0 ] && [ "$f" -eq 0 ] || overall_rc=1
done
# libFuzzer targets (fuzz/), SESH_FUZZ_SECONDS each (0 skips them); each
# target counts as one test.
fuzz_seconds=${SESH_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzz: $fuzz_seconds s per target" >&2
  fuzz_log=$(mktemp)
  bash tools/fuzz.sh "$fuzz_seconds" 2>&1 | tee "$fuzz_log"
  fuzz_rc=${PIPESTATUS[0]}
  read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$fuzz_log" | tail -1)
  rm -f "$fuzz_log"
  [ -n "${p:-}" ] || { p=0; f=1; }
  echo "== fuzz: $p passed, $f failed" >&2
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  [ "$fuzz_rc" -eq 0 ] && [ "$f" -eq 0 ] || overall_rc=1
fi
echo "$total_passed passed, $total_failed failed"
exit $overall_rc
