#!/usr/bin/env bash
# The cost of closing Sesh: the same 3-node cluster (RF 3, QUORUM) run as in
# production (A: TLS on both ports, mutual on the peer port, a namespace
# token) and with --insecure (B: plaintext, no tokens), alternating, through
# bench/ab_nodes.sh; get+touch and the web mix, closed loop. OUT/report.md
# gives the medians, B/A (plaintext over secure) and node CPU per operation.
#
#   KEYS=100000 DURATION=8 ROUNDS=3 bash bench/tls_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //node:sesh-node 2>&1 | tail -1 >&2
A_SECURE=1 B_SECURE=0 \
PHASES=${PHASES:-"get_touch:100 get_touch:85,update:7,create:4,rotate:2,destroy:2"} \
OUT=${OUT:-bench/results/tls-$(date +%Y%m%d-%H%M%S)} \
  exec bash bench/ab_nodes.sh
