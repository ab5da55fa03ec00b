#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan, --config=fuzz)
# and runs each for SECONDS (default 20) on a copy of its seed corpus, so the
# repository is never changed. Prints "fuzz <name>: ok (N execs)", or the
# failure, its stack and its reproducer, per target; ends with
# "N passed, M failed" counting targets. The build has its own output base
# ($SESH_FUZZ_OUTPUT_BASE; by default one per checkout) so that clang never
# evicts the gcc build's cache.
# A target is fuzz/<name>_fuzzer.cc with corpus fuzz/corpus/<name>/.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
output_base=${SESH_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-fuzz-$(pwd | md5sum | cut -c1-8)}

names=()
for src in fuzz/*_fuzzer.cc; do
  name=${src#fuzz/}
  names+=("${name%_fuzzer.cc}")
done
fail_all() {
  echo "$1" >&2
  echo "0 passed, ${#names[@]} failed"
  exit 1
}

bash tools/setup.sh || fail_all "fuzz: tools/setup.sh failed"
# clang, libFuzzer and the symbolizer (Debian 12), which only fuzzing needs.
missing=()
for p in clang libclang-rt-14-dev llvm-14; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2 || fail_all "fuzz: could not install ${missing[*]}"
fi

bazel=(bazel --output_base="$output_base")
targets=()
for name in "${names[@]}"; do targets+=("//fuzz:${name}_fuzzer"); done
work=$(mktemp -d "${TMPDIR:-/tmp}/sesh-fuzz.XXXXXX")
start=$SECONDS
if ! "${bazel[@]}" build --config=fuzz "${targets[@]}" >"$work/build.log" 2>&1; then
  grep -E '^(ERROR|FAILED)|error:' "$work/build.log" | head -40 >&2
  fail_all "fuzz: build failed (log: $work/build.log)"
fi
bin=$("${bazel[@]}" info --config=fuzz bazel-bin 2>/dev/null)/fuzz
echo "fuzz: built ${#names[@]} targets in $((SECONDS - start))s" >&2

export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0
failed=0
for name in "${names[@]}"; do
  dir=$work/$name
  mkdir -p "$dir/corpus" "$dir/tmp" "$dir/artifacts"
  if [ -d "fuzz/corpus/$name" ]; then
    cp -R "fuzz/corpus/$name/." "$dir/corpus/"
  else
    echo "fuzz $name: no seed corpus in fuzz/corpus/$name" >&2
  fi
  # TMPDIR: a target's scratch files (request_validation's RocksDB) go here.
  TMPDIR=$dir/tmp "$bin/${name}_fuzzer" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$dir/log" | tail -1)
  if [ "$rc" -eq 0 ] && [ -z "$reproducer" ]; then
    echo "fuzz $name: ok (${execs:-0} execs)"
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  echo "fuzz $name: FAILED (exit $rc, ${execs:-?} execs)"
  # The report: from the first sanitizer or property line to the stats.
  awk '/==ERROR|ERROR: libFuzzer|runtime error|property failed|^SUMMARY/ {on=1}
       /^stat::/ {exit}
       on {print "  " $0; if (++n >= 80) exit}' "$dir/log"
  if [ -n "$reproducer" ]; then
    echo "  reproducer: $reproducer"
    echo "  rerun: $bin/${name}_fuzzer $reproducer"
  else
    echo "  log: $dir/log"
  fi
done
[ "$failed" -eq 0 ] && rm -rf "$work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
