#!/usr/bin/env bash
# Re-runs the benchmarks in docs/benchmarks.md: builds the release binary, starts a fresh server
# (embedded SQLite, demo data) in a temporary directory, measures idle memory, then drives it
# with `pfs bench` over kept-alive mutual-TLS connections from the same machine.
#
#   scripts/bench.sh            # 10 s per scenario
#   DURATION=30 scripts/bench.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/bench.sh
#                               # the same runs on PostgreSQL (the database is emptied first)
#   PFS_BIN=/path/to/pfs scripts/bench.sh
#                               # another build instead of this tree's (e.g. the previous
#                               # commit's), for a comparison within one sitting
#   SERVE_ARGS="--sqlite-synchronous full" scripts/bench.sh
#                               # more arguments for `pfs serve`
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}

if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="${CARGO_TARGET_DIR:-$PWD/target}/release/pfs"
fi
work=$(mktemp -d)
cd "$work"
export PFS_LISTEN=127.0.0.1:18443 PFS_ADMIN_LISTEN=127.0.0.1:18444
if [ -n "${DATABASE:-}" ]; then
    # A fresh start: the demo is seeded only into an empty database.
    psql -q "$DATABASE" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
    export PFS_DATABASE_URL="$DATABASE"
fi
# shellcheck disable=SC2086 # SERVE_ARGS is split into arguments on purpose
"$PFS" serve --demo --log warn ${SERVE_ARGS:-} >serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break; sleep 0.2; done
sleep 1

export PFS_ENDPOINT=https://127.0.0.1:18443/tpp/
store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== machine: $(nproc) cores, $(uname -r); store: $store; binary: $PFS${SERVE_ARGS:+; serve $SERVE_ARGS}"
echo "== idle RSS after first start (demo seeded): $(grep VmRSS /proc/$server/status | awk '{print $2, $3}')"
"$PFS" bench patient-selected -c "$CONNECTIONS" -d "$DURATION"
"$PFS" bench authenticate -c "$CONNECTIONS" -d "$DURATION"
"$PFS" bench link-account -c 2 -d "$DURATION"
"$PFS" bench patient-selected -c "$CONNECTIONS" -d "$DURATION" --background-link 4
"$PFS" bench view-appointments -c "$CONNECTIONS" -d "$DURATION"
"$PFS" bench book-appointment -c 8 -d "$DURATION"
"$PFS" bench list-repeat-medication -c "$CONNECTIONS" -d "$DURATION"
"$PFS" bench request-medication -c 8 -d "$DURATION" --patients 1920 --courses 15
"$PFS" bench pharmacy-search -c "$CONNECTIONS" -d "$DURATION" --pharmacies 15000
# messages-view first: message-create adds messages to the same demo patient.
"$PFS" bench messages-view -c "$CONNECTIONS" -d "$DURATION" --messages 200
"$PFS" bench message-create -c 8 -d "$DURATION"
"$PFS" bench message-create-attachment -c "$CONNECTIONS" -d "$DURATION" --attachment-bytes 1048576
echo "== RSS after the runs: $(grep VmRSS /proc/$server/status | awk '{print $2, $3}')"
kill $server; wait $server 2>/dev/null || true
# shellcheck disable=SC2086
"$PFS" serve --demo --log warn ${SERVE_ARGS:-} >serve.log 2>&1 &
server=$!
sleep 3
echo "== idle RSS after a restart: $(grep VmRSS /proc/$server/status | awk '{print $2, $3}')"
