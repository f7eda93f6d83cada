#!/usr/bin/env bash
# openpfs at scale (docs/benchmarks.md, "At scale"), each figure beside its small-scale
# comparison from the same sitting:
#
#   * 100,000 live sessions (opened through the wire with Authenticate, left open): the
#     server's resident memory, and PatientSelected's p99 against the same run with only the
#     bench's own 16 sessions;
#   * a million patients (seeded in bulk, 20 practices of 50,000): the seeding rate, the
#     database's size, and ViewAppointments' and ListSlots' p99 for a demo patient against the
#     same reads before the seeding.
#
#   scripts/scale-bench.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/scale-bench.sh   # on PostgreSQL (emptied)
#   PFS_BIN=/path/to/pfs SESSIONS=100000 PRACTICES=20 PATIENTS=50000 DURATION=10 scripts/scale-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
SESSIONS=${SESSIONS:-100000}
PRACTICES=${PRACTICES:-20}
PATIENTS=${PATIENTS:-50000} # per practice (at most 99,999)
if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="$PWD/target/release/pfs"
fi
work=$(mktemp -d)
cd "$work"
export PFS_LISTEN=${PFS_LISTEN:-127.0.0.1:18453} PFS_ADMIN_LISTEN=${PFS_ADMIN_LISTEN:-127.0.0.1:18454}
export PFS_ENDPOINT=https://${PFS_LISTEN}/tpp/
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

start() {
    rm -rf pfs-data
    if [ -n "${DATABASE:-}" ]; then
        PGOPTIONS='-c client_min_messages=warning' psql -q "$DATABASE" \
            -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
        export PFS_DATABASE_URL="$DATABASE"
    fi
    "$PFS" serve --demo --log warn >serve.log 2>&1 &
    server=$!
    for _ in $(seq 150); do
        [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break
        sleep 0.2
    done
    sleep 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
rss() { grep "$1" /proc/"$server"/status | awk '{printf "%.1f MB", $2 / 1000}'; }
bench() { "$PFS" bench "$@" -c "$CONNECTIONS" -d "$DURATION"; }

store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(uname -r); store: $store; binary: $PFS"

echo "== live sessions: the bench's 16, then $SESSIONS more"
start
echo "idle RSS: $(rss VmRSS)"
bench patient-selected
echo "RSS after: $(rss VmRSS)"
bench patient-selected --open-sessions "$SESSIONS"
echo "RSS with $SESSIONS more sessions: $(rss VmRSS); peak: $(rss VmHWM)"
stop

echo "== a demo patient's reads, then again with $((PATIENTS * PRACTICES)) seeded patients"
start
bench view-appointments
bench list-slots
"$PFS" admin seed --practices "$PRACTICES" --patients "$PATIENTS" --seed 42 --quiet \
    | python3 -c 'import json, sys; r = json.load(sys.stdin); print("seeded: %d patients in %s s, %.0f/s" % (r["patients"], r["seconds"], r["patientsPerSecond"]))'
if [ -n "${DATABASE:-}" ]; then
    echo "database size: $(psql -tA "$DATABASE" -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')"
else
    "$PFS" admin health >/dev/null # the seeding's writes are in; the WAL is part of the size
    echo "database size: $(du -ch pfs-data/pfs.db* | tail -n 1 | cut -f1)"
fi
bench view-appointments
bench list-slots
echo "RSS after: $(rss VmRSS)"
stop
