#!/usr/bin/env bash
# ThreadSanitizer run of the tests that exercise threads without gRPC's
# uninstrumented polling threads in between: the replication core (leases,
# coordinator, cluster, hints, anti-entropy) and the client's coalescer.
#
# Debian's abseil is not built with TSan, so TSan cannot see absl::Mutex and
# reports every field it guards as a race. This script first builds the same
# abseil (Debian's source package, its patches, its options) with
# -fsanitize=thread into $ABSL_TSAN (default /opt/absl-tsan, about 10
# minutes on 2 cores, once), then runs the tests with those libraries ahead
# of Debian's (same sonames, same inline namespace). Ends with
# "N passed, M failed" like tools/test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
ABSL_TSAN=${ABSL_TSAN:-/opt/absl-tsan}
version=$(dpkg-query -W -f='${Version}' libabsl-dev)

if [ ! -f "$ABSL_TSAN/lib/libabsl_synchronization.so.20220623" ]; then
  echo "tsan: building abseil $version with -fsanitize=thread into $ABSL_TSAN" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends cmake ninja-build dpkg-dev >&2
  src=$(mktemp -d)
  sources=/etc/apt/sources.list.d/sesh-tsan-src.sources
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$sources"
  apt-get update -q >&2
  (cd "$src" && apt-get source -q "abseil=$version" >&2)
  rm -f "$sources"
  apt-get update -q >&2
  dir=$(find "$src" -maxdepth 1 -type d -name 'abseil-*' | head -1)
  cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_CXX_STANDARD=17 \
    -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_INSTALL_PREFIX="$ABSL_TSAN" -DCMAKE_INSTALL_LIBDIR=lib >&2 &&
    ninja -C "$dir/build" install >&2 || { echo "0 passed, 1 failed"; exit 1; }
  rm -rf "$src"
fi

SESH_TEST_CONFIGS=tsan SESH_FUZZ_SECONDS=0 \
SESH_TEST_TARGETS="//replication:lease_test //replication:coordinator_test
  //replication:cluster_test //replication:hint_store_test
  //replication:anti_entropy_test //replication:hlc_test
  //replication:merge_test //client:get_coalescer_test
  //node:worker_pool_test //node:session_store_test" \
  exec bash tools/test.sh --test_env=LD_LIBRARY_PATH="$ABSL_TSAN/lib" \
  --test_env=TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp"
