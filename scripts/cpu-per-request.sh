#!/usr/bin/env bash
# The server's CPU time per request for `pfs bench` scenarios: steadier than rates on a machine
# whose load comes and goes, since the load generator's own CPU is left out.
#
#   scripts/cpu-per-request.sh target/release/pfs view-appointments patient-record
#   SERVE_ARGS=--no-read-access-log D=20 scripts/cpu-per-request.sh target/release/pfs view-appointments
#
# Each scenario is run once for a second (its setup, e.g. the long record) and then measured;
# the server is a fresh `pfs serve --demo` on SQLite in a temporary directory.
set -euo pipefail
BIN=$(realpath "$1"); shift
d=$(mktemp -d); cd "$d"
export PFS_LISTEN=127.0.0.1:18473 PFS_ADMIN_LISTEN=127.0.0.1:18474 PFS_ENDPOINT=https://127.0.0.1:18473/tpp/
# shellcheck disable=SC2086 # SERVE_ARGS is split into arguments on purpose
"$BIN" serve --demo --log warn ${SERVE_ARGS:-} > serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; cd /; rm -rf "$d"' EXIT
for _ in $(seq 100); do [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break; sleep 0.2; done
sleep 1
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }   # user + system, in 1/100 s
hz=$(getconf CLK_TCK)
for s in "$@"; do
    "$BIN" bench "$s" -c 16 -d 1 > /dev/null 2>&1
    t0=$(ticks)
    # The measured run adds almost nothing to what the setup run created.
    out=$("$BIN" bench "$s" -c 16 -d "${D:-8}" --record-events 1 --record-items 1 2>&1 | tail -1)
    t1=$(ticks)
    n=$(echo "$out" | sed -E 's/.*requests: ([0-9]+).*/\1/')
    echo "$out"
    echo "  server CPU per request: $(( (t1 - t0) * 1000000 / hz / n )) us"
done
