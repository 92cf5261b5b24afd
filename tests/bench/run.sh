#!/bin/sh
# make bench: tern's core path (sendmail injection rate and latency, queue
# and local delivery rate) and, when Postfix is installed and we are root,
# the same work on a Postfix instance configured alike, with tern/Postfix
# ratios. Extra arguments go to the driver, e.g.
#   sh tests/bench/run.sh -runs 3 -n 2000
# or through make: make bench BENCH_ARGS="-runs 3".
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
go=${GO:-go}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-driver-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cd "$root"
[ -x bin/tern ] || { echo "bench: bin/tern missing: run make build" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then sh tests/setup-users.sh; fi
"$go" build -o "$tmp/bench" ./tests/bench
# shellcheck disable=SC2086
"$tmp/bench" -tern "$root/bin/tern" ${BENCH_ARGS:-} "$@"
