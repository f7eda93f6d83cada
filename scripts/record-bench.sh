#!/usr/bin/env bash
# The record's benchmarks (docs/benchmarks.md, "The record"), each figure beside its comparison
# from the same sitting:
#
#   * RequestPatientRecord of a patient with 300 events and 1,000 items against ViewAppointments;
#   * ViewAppointments with reads logged (the default) against `--no-read-access-log`, run
#     logged / not logged / logged again to bracket the machine's drift;
#   * RequestBinaryData of a 1 MiB document, 16 at once: the server's peak resident memory.
#
#   scripts/record-bench.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/record-bench.sh   # on PostgreSQL
#   PFS_BIN=/path/to/pfs DURATION=20 scripts/record-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="$PWD/target/release/pfs"
fi
work=$(mktemp -d)
cd "$work"
export PFS_LISTEN=127.0.0.1:18443 PFS_ADMIN_LISTEN=127.0.0.1:18444
export PFS_ENDPOINT=https://127.0.0.1:18443/tpp/
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

# Starts a fresh server (a new data directory; on PostgreSQL an emptied schema) with the
# given extra arguments.
start() {
    rm -rf pfs-data
    if [ -n "${DATABASE:-}" ]; then
        PGOPTIONS='-c client_min_messages=warning' psql -q "$DATABASE" \
            -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
        export PFS_DATABASE_URL="$DATABASE"
    fi
    "$PFS" serve --demo --log warn "$@" >serve.log 2>&1 &
    server=$!
    for _ in $(seq 100); do
        [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break
        sleep 0.2
    done
    sleep 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
rss() { grep "$1" /proc/"$server"/status | awk '{print $2, $3}'; }

store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== machine: $(nproc) cores, $(uname -r); store: $store; binary: $PFS"

echo "== record against ViewAppointments"
start
"$PFS" bench view-appointments -c "$CONNECTIONS" -d "$DURATION"
"$PFS" bench patient-record -c "$CONNECTIONS" -d "$DURATION" --record-events 300 --record-items 1000
stop

echo "== read logging: on, off, on"
for args in "" "--no-read-access-log" ""; do
    # shellcheck disable=SC2086 # empty or one argument
    start $args
    echo "-- serve ${args:-(reads logged)}"
    "$PFS" bench view-appointments -c "$CONNECTIONS" -d "$DURATION"
    stop
done

echo "== 1 MiB documents, $CONNECTIONS at once"
start
echo "idle RSS: $(rss VmRSS)"
"$PFS" bench binary-data -c "$CONNECTIONS" -d "$DURATION" --document-bytes 1048576
echo "peak RSS during the run: $(rss VmHWM); RSS after: $(rss VmRSS)"
stop
