#!/usr/bin/env bash
# Instructions the server executes per request, counted by valgrind's callgrind: a figure that
# does not move with the machine's load, so that two builds can be compared to a fraction of a
# per cent where rates and CPU times swing by tens (docs/benchmarks.md).
#
#   scripts/instructions-per-request.sh target/release/pfs            # one build
#   scripts/instructions-per-request.sh /tmp/pfs-before target/release/pfs
#   REQUESTS=4000 SCENARIOS="view-appointments" scripts/instructions-per-request.sh BIN…
#   DATABASE='postgres://pfs:pfs-test@127.0.0.1/pfs_bench?sslmode=disable' …   # emptied first
#   KEEP=/tmp/cg scripts/instructions-per-request.sh BIN…   # keep each callgrind file there
#
# Each build is started as `pfs serve --demo` under callgrind with instrumentation off, a demo
# patient logged in who holds one appointment (scripts/lib/demo-server.sh). For each scenario,
# oha sends WARMUP requests (not counted), then instrumentation goes on for REQUESTS more on 4
# kept-alive connections. Scenarios: view-appointments, check-version (as in peer-bench.sh).
# Only the server's own instructions are counted: on PostgreSQL, the database's are not.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-500}
SCENARIOS=${SCENARIOS:-"view-appointments check-version"}
command -v valgrind >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
command -v oha >/dev/null 2>&1 || cargo install oha --locked
[ $# -gt 0 ] || { echo "usage: $0 PFS_BINARY [PFS_BINARY…]" >&2; exit 2; }

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/lib/demo-server.sh
source "$root/scripts/lib/demo-server.sh"

echo "| build | scenario | requests | instructions per request |"
echo "|---|---|---|---|"
n=0
for bin in "$@"; do
    n=$((n + 1))
    dir=$work/$n
    out=$dir/callgrind.out
    mkdir -p "$dir"
    LAUNCH="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$out" \
        start_openpfs "$dir" "$(realpath "$bin")" 19543 19544 "${DATABASE:-}"
    pid=$(cat "$dir/serve.pid")
    # shellcheck source=/dev/null # written by start_openpfs
    source "$dir/env"
    for scenario in $SCENARIOS; do
        case $scenario in
            view-appointments) type=ViewAppointments sid=$suid body=$view_body ;;
            check-version) type=CheckVersion sid='' body=$check_body ;;
            *) echo "unknown scenario $scenario" >&2; exit 2 ;;
        esac
        send() { # requests
            oha --no-tui --output-format json -n "$1" -c 4 -m POST -H "type: $type" \
                -H "suid: $sid" -T 'text/xml; charset=utf-8' -d "$body" \
                --cert "$demo/client.pem" --key "$demo/client-key.pem" --insecure \
                "$endpoint" >"$dir/oha.json"
            python3 - "$dir/oha.json" "$1" <<'PY'
import json, sys
codes = json.load(open(sys.argv[1])).get("statusCodeDistribution", {})
if codes.get("200", 0) != int(sys.argv[2]):
    sys.exit(f"not every request was answered 200: {codes}")
PY
        }
        send "$WARMUP"
        callgrind_control -z "$pid" >/dev/null 2>&1
        callgrind_control -i on "$pid" >/dev/null 2>&1
        send "$REQUESTS"
        callgrind_control -i off "$pid" >/dev/null 2>&1
        rm -f "$out".*
        callgrind_control -d "$pid" >/dev/null 2>&1
        dump=$(ls "$out".*)
        total=$(awk '/^totals:/ {print $2}' "$dump")
        if [ -n "${KEEP:-}" ]; then
            mkdir -p "$KEEP"
            cp "$dump" "$KEEP/$n-$(basename "$bin")-$scenario.callgrind"
        fi
        echo "| $bin | $scenario | $REQUESTS | $((total / REQUESTS)) |"
    done
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    pid=
done
