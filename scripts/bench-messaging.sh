#!/usr/bin/env bash
# The messaging figures of docs/benchmarks.md, in one sitting on one fresh server: PatientSelected
# (for scale) and MessagesView of a patient with 200 messages (run first, before other runs add
# messages to the same demo patient); BookAppointment and MessageCreate (no attachment) back to
# back, for their ratio; then MessageCreate with a 1 MiB attachment from 16 connections while the
# server's resident memory is sampled every 100 ms (the peak is printed, with VmHWM).
#
#   scripts/bench-messaging.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/bench-messaging.sh   # on PostgreSQL
#   PFS_BIN=/path/to/pfs scripts/bench-messaging.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}

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
    psql -q "$DATABASE" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
    export PFS_DATABASE_URL="$DATABASE"
fi
"$PFS" serve --demo --log warn >serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break; sleep 0.2; done
sleep 1
export PFS_ENDPOINT=https://127.0.0.1:18443/tpp/
rss() { grep "$1" /proc/$server/status | awk '{print $2}'; }
store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c "SHOW server_version")"
echo "== machine: $(nproc) cores, $(uname -r); store: $store; binary: $PFS"
echo "== idle RSS (demo seeded): $(rss VmRSS) kB"
"$PFS" bench patient-selected -c 16 -d "$DURATION"
"$PFS" bench messages-view -c 16 -d "$DURATION" --messages 200
"$PFS" bench book-appointment -c 8 -d "$DURATION"
"$PFS" bench message-create -c 8 -d "$DURATION"
echo "== RSS before the attachment run: $(rss VmRSS) kB (VmHWM so far $(rss VmHWM) kB)"
peak=0
( while kill -0 $server 2>/dev/null; do rss VmRSS; sleep 0.1; done ) >rss.log &
sampler=$!
"$PFS" bench message-create-attachment -c 16 -d "$DURATION" --attachment-bytes 1048576
kill $sampler 2>/dev/null || true
peak=$(sort -n rss.log | tail -1)
echo "== RSS during the 1 MiB attachment run: peak $peak kB sampled every 100 ms; VmHWM $(rss VmHWM) kB; now $(rss VmRSS) kB"
