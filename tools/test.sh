#!/usr/bin/env bash
# Sets up, builds and runs every test, and ends with "N passed, M failed":
#   1. bazel test //... as built for production;
#   2. the stages that need the production binaries and more than Bazel's
#      sandbox: the container image (deploy/image_test.sh), the Node.js
#      client and express-session store (tools/node_test.sh), the web app in
#      Chromium (tools/browser_test.sh);
#   3. bazel test //... under AddressSanitizer + UndefinedBehaviorSanitizer
#      (--config=asan; it shares bazel-bin, so it runs after the stages);
#   4. every libFuzzer target for SESH_FUZZ_SECONDS (default 20; 0 skips
#      them) through tools/fuzz.sh.
# N and M count test cases (bazel: from each target's XML report; a target
# that failed without a report counts as one failure; stages and fuzzing:
# their own "N passed, M failed" line). Extra arguments go to both bazel
# test runs; SESH_TEST_CONFIGS="default" skips the sanitizer run,
# SESH_TEST_TARGETS narrows the targets (tools/tsan.sh uses both),
# SESH_TEST_STAGES lists the stages to run (default "image node browser",
# none when SESH_TEST_TARGETS is set; "" skips them), SESH_IMAGE_TEST=0
# skips the image stage.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

configs=${SESH_TEST_CONFIGS:-"default asan"}
targets=${SESH_TEST_TARGETS:-//...}
default_stages="image node browser"
[ -z "${SESH_TEST_TARGETS:-}" ] || default_stages=""
stages=${SESH_TEST_STAGES-$default_stages}
[ "${SESH_IMAGE_TEST:-1}" != 0 ] || stages=${stages//image/}
total_passed=0
total_failed=0
overall_rc=0

# Adds "$1 passed, $2 failed" to the totals; $3 is the part's exit code.
tally() {
  total_passed=$((total_passed + $1))
  total_failed=$((total_failed + $2))
  [ "$3" -eq 0 ] && [ "$2" -eq 0 ] || overall_rc=1
}

# bazel test "$@"; prints "passed failed" from the targets' XML reports,
# then the exit code of bazel.
bazel_test() {
  local log rc testlogs flags=()
  log=$(mktemp)
  for a in "$@"; do case $a in --config=*) flags+=("$a") ;; esac; done
  bazel test --test_output=errors "$@" 2>&1 | tee "$log" >&2
  rc=${PIPESTATUS[0]}
  testlogs=$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)
  python3 - "$log" "$testlogs" "$rc" <<'PY'
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
  rm -f "$log"
  # Bazel 4.2 leaves test sandboxes behind, RocksDB files included.
  rm -rf "$(bazel info output_base 2>/dev/null)/sandbox/processwrapper-sandbox"
  echo "$rc"
}

# Runs a script that ends with "N passed, M failed"; tallies it.
run_stage() {
  local name=$1 log rc p f
  shift
  echo "== stage $name: $*" >&2
  log=$(mktemp)
  "$@" 2>&1 | tee "$log" >&2
  rc=${PIPESTATUS[0]}
  read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1)
  rm -f "$log"
  [ -n "${p:-}" ] || { p=0; f=1; }
  echo "== stage $name: $p passed, $f failed" >&2
  tally "$p" "$f" "$rc"
}

run_stages() {
  local stage
  for stage in $stages; do
    case $stage in
      image)
        echo "== stage image: bazel test //deploy:image_test" >&2
        { read -r p f; read -r rc; } < <(bazel_test //deploy:image_test)
        echo "== stage image: $p passed, $f failed" >&2
        tally "$p" "$f" "$rc"
        ;;
      node) run_stage node bash tools/node_test.sh ;;
      browser) run_stage browser bash tools/browser_test.sh ;;
      *) echo "unknown stage $stage" >&2; tally 0 1 1 ;;
    esac
  done
}

for config in $configs; do
  flags=()
  [ "$config" = default ] || flags=(--config="$config")
  echo "== bazel test $targets ${flags[*]:-}" >&2
  # shellcheck disable=SC2086  # targets is a list
  { read -r p f; read -r rc; } < <(bazel_test $targets "${flags[@]}" "$@")
  echo "== $config: $p passed, $f failed" >&2
  tally "$p" "$f" "$rc"
  [ "$config" = default ] && run_stages
done
# libFuzzer targets (fuzz/), SESH_FUZZ_SECONDS each (0 skips them); each
# target counts as one test.
fuzz_seconds=${SESH_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
  run_stage fuzz bash tools/fuzz.sh "$fuzz_seconds"
fi
echo "$total_passed passed, $total_failed failed"
exit $overall_rc
