#!/usr/bin/env bash
# The cost of fault injection when no rule matches (docs/benchmarks.md, "Fault injection"):
# ViewAppointments throughput with no fault rules, then with 100 rules that match nothing
# (rules on other patients, other practices, other message types; every kind of index the
# server keeps), alternating in each round (none/rules, then rules/none) on one server, so
# that the machine's drift falls on both sides. Prints each run and the ratio of the totals.
#
#   scripts/fault-bench.sh                  # 3 rounds of 10 s runs
#   ROUNDS=5 DURATION=20 scripts/fault-bench.sh
#   DATABASE=postgres://user:pw@127.0.0.1/db scripts/fault-bench.sh   # on PostgreSQL
#   PFS_BIN=/path/to/pfs scripts/fault-bench.sh                       # another build
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-3}
if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="${CARGO_TARGET_DIR:-$PWD/target}/release/pfs"
fi
work=$(mktemp -d)
cd "$work"
export PFS_LISTEN=127.0.0.1:18443 PFS_ADMIN_LISTEN=127.0.0.1:18444
export PFS_ENDPOINT=https://127.0.0.1:18443/tpp/
if [ -n "${DATABASE:-}" ]; then
    PGOPTIONS='-c client_min_messages=warning' psql -q "$DATABASE" \
        -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
    export PFS_DATABASE_URL="$DATABASE"
fi
"$PFS" serve --demo --log warn >serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break
    sleep 0.2
done
sleep 1

store="embedded SQLite"; [ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== machine: $(nproc) cores, $(uname -r); store: $store; binary: $PFS"
echo "== ViewAppointments, $CONNECTIONS connections, ${DURATION} s runs, $ROUNDS rounds"

# 100 rules that no ViewAppointments of the demo patients matches.
add_rules() {
    local other_types=(ListSlots BookAppointment CancelAppointment ListRepeatMedication MessagesView)
    for i in $(seq 0 19); do
        "$PFS" admin fault add error --error-code 9999 --patient-id "99$(printf %06d "$i")" >/dev/null
        "$PFS" admin fault add error --error-code 9999 --practice "ZZ$(printf %04d "$i")" >/dev/null
        "$PFS" admin fault add latency --ms 1000 --message-type "${other_types[$((i % 5))]}" \
            --probability 0.5 >/dev/null
        "$PFS" admin fault add drop --when before-handling --message-type ViewAppointments \
            --patient-id "98$(printf %06d "$i")" >/dev/null
        "$PFS" admin fault add empty --message-type ViewAppointments \
            --practice "ZY$(printf %04d "$i")" >/dev/null
    done
    local applied
    applied=$("$PFS" admin health | sed -n 's/.*"faultRules": *\([0-9]*\).*/\1/p')
    [ "$applied" = 100 ] || { echo "expected 100 rules applied, the server reports $applied" >&2; exit 1; }
}

# One measured run; prints its line and leaves its ok/s in $rate.
measure() {
    local line
    line=$("$PFS" bench view-appointments -c "$CONNECTIONS" -d "$DURATION")
    rate=$(echo "$line" | sed -n 's/.*ok\/s: \([0-9]*\).*/\1/p')
    echo "-- $1: $line"
}

none_total=0
rules_total=0
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="none rules"; else order="rules none"; fi
    for side in $order; do
        if [ "$side" = rules ]; then
            add_rules
            measure "round $round, 100 rules"
            rules_total=$((rules_total + rate))
            "$PFS" admin fault clear >/dev/null
        else
            measure "round $round, no rules"
            none_total=$((none_total + rate))
        fi
    done
done
echo "== ok/s summed over the rounds: no rules $none_total, 100 rules $rules_total"
awk -v a="$rules_total" -v b="$none_total" \
    'BEGIN { printf "== ratio (100 rules / no rules): %.3f\n", a / b }'
