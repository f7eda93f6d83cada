#!/usr/bin/env bash
# The sandbox's benchmarks (docs/benchmarks.md, "The sandbox"):
#
#   * `pfs admin health` five times: what any admin command costs, for scale;
#   * reset to the demo seed (`pfs admin sandbox reset`), timed five times, on the demo as it is
#     at first start and again after a seeded set made the database larger;
#   * snapshot save and restore of the demo;
#   * a namespace made (the demo's world under a practice of its own) and deleted, five times;
#   * seeding: `pfs admin seed --practices 10 --patients 20000` (200,000 patients), patients/s.
#
#   scripts/sandbox-bench.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/sandbox-bench.sh   # on PostgreSQL
#   PFS_BIN=/path/to/pfs PATIENTS=50000 scripts/sandbox-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-20000}
PRACTICES=${PRACTICES:-10}
if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="$PWD/target/release/pfs"
fi
work=$(mktemp -d)
cd "$work"
export PFS_LISTEN=${PFS_LISTEN:-127.0.0.1:18443} PFS_ADMIN_LISTEN=${PFS_ADMIN_LISTEN:-127.0.0.1:18444}
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

if [ -n "${DATABASE:-}" ]; then
    PGOPTIONS='-c client_min_messages=warning' psql -q "$DATABASE" \
        -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
    # Snapshots of an earlier run live in schemas of their own.
    PGOPTIONS='-c client_min_messages=warning' psql -q "$DATABASE" -c "DO \$\$DECLARE s text; BEGIN
        FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pfs\\_snapshot\\_%' LOOP
            EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END\$\$;"
    export PFS_DATABASE_URL="$DATABASE"
fi
"$PFS" serve --demo --log warn >serve.log 2>&1 &
server=$!
for _ in $(seq 100); do
    [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break
    sleep 0.2
done
sleep 1

store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== machine: $(nproc) cores, $(uname -r); store: $store; binary: $PFS"

# Milliseconds one admin command takes, the client's start included.
timed() {
    local start end
    start=$(date +%s%N)
    "$PFS" admin "$@" >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

echo "== for scale, the same command doing nothing: pfs admin health, ms (5 runs)"
echo "$(for _ in 1 2 3 4 5; do timed health; done | tr '\n' ' ')"
echo "== reset of the demo, ms (5 runs)"
echo "$(for _ in 1 2 3 4 5; do timed sandbox reset; done | tr '\n' ' ')"
echo "== snapshot save / restore of the demo, ms"
echo "save $(timed sandbox snapshot bench) restore $(timed sandbox restore bench)"
echo "== namespace create / delete, ms (5 runs)"
echo "$(for i in 1 2 3 4 5; do echo "$(timed namespace create "bench-$i")/$(timed namespace delete "bench-$i")"; done | tr '\n' ' ')"
echo "== seeding $PRACTICES practices x $PATIENTS patients"
"$PFS" admin seed --practices "$PRACTICES" --patients "$PATIENTS" --seed 42 --quiet
echo "== reset with the seeded set in the database, ms (5 runs)"
echo "$(for _ in 1 2 3 4 5; do timed sandbox reset; done | tr '\n' ' ')"
