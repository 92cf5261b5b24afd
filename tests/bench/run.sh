#!/bin/sh
# make bench: tern's core path (sendmail injection rate and latency, queue
# and local delivery rate) and SMTP intake rate (Postfix's smtp-source, 1 KB
# and 100 KB messages at 1, 10 and 50 sessions), relay rate end to end
# (smtp-source -> smtpd -> queue -> smtp client -> Postfix's smtp-sink, 1 KB
# messages at 1, 10 and 50 sessions) and, when Postfix is installed and we
# are root, the same work on a Postfix instance configured alike, with
# tern/Postfix ratios. Extra arguments go to the driver, e.g.
#   sh tests/bench/run.sh -runs 3 -n 2000
#   sh tests/bench/run.sh -smtp-only -runs 3      (or -no-smtp)
#   sh tests/bench/run.sh -relay-only -runs 3     (or -no-relay)
#   sh tests/bench/run.sh -maps-only              (or -no-maps): tern map vs
#     postmap, a 1,000,000-key hash: table built, then 100,000 -q - lookups
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
