#!/usr/bin/env bash
# promtool check rules and promtool test rules on the alerting rules.
set -euo pipefail
promtool=/usr/bin/promtool
if [ ! -x "$promtool" ]; then
  echo "promtool is not installed (Debian package prometheus; tools/setup.sh)" >&2
  exit 1
fi
dir="$(dirname "$0")"
[ -f "$dir/sesh-rules.yml" ] || dir=deploy/prometheus
cd "$dir"
"$promtool" check rules sesh-rules.yml
"$promtool" test rules sesh-rules_test.yml
