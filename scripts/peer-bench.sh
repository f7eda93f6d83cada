#!/usr/bin/env bash
# openpfs beside two peers, driven by one load generator with the same settings, in one sitting
# (docs/benchmarks.md, "Beside nginx and WireMock"):
#
#   * nginx (Debian's package, 2 workers) answering a canned reply: the transport limit;
#   * WireMock (the npm package `wiremock`, on Java 17) answering the same canned reply;
#   * `pfs serve --demo` (embedded SQLite, or PostgreSQL with DATABASE=…) answering for real,
#     for a logged-in demo patient who holds one appointment.
#
# All three speak mutual TLS (TLS 1.3, ECDSA P-256 server certificates from a throwaway CA made
# here; the client certificate is the demo provider's, which every server requires). Each
# scenario runs on each server for WARMUP seconds (not counted), then DURATION seconds, with
# `oha` (installed with `cargo install oha` if missing):
#
#   view-appointments  kept-alive ViewAppointments (the canned reply is openpfs's own answer)
#   check-version      kept-alive CheckVersion (no session; openpfs reads the provider)
#   handshake          CheckVersion with a new connection (full TLS handshake) per request
#
# and prints req/s, p50 and p99 of each, the server's CPU time per request (its own processes',
# read from /proc: the load generator's is left out), and openpfs's ratio to each.
#
# PFS_BASELINE=/path/to/other/pfs adds a second openpfs ("baseline", e.g. the previous commit's
# build) to every scenario, so that a change is measured before and after in the same sitting;
# on PostgreSQL it needs a database of its own, DATABASE_BASELINE (emptied too).
#
#   scripts/peer-bench.sh
#   CONNECTIONS="16 32" DURATION=10 WARMUP=2 scripts/peer-bench.sh
#   DATABASE=postgres://pfs:pfs-test@127.0.0.1/pfs_bench scripts/peer-bench.sh   # the database is emptied
#   DATABASE='postgres://pfs:pfs-test@127.0.0.1/pfs_bench?sslmode=disable' …  # no TLS over loopback
#   PFS_BIN=/path/to/pfs SCENARIOS="view-appointments" scripts/peer-bench.sh
#   PFS_BASELINE=/tmp/pfs-before scripts/peer-bench.sh
#
# Needs root for Debian's packages when nginx or Java is missing; npm for WireMock (kept in
# target/peer-bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
CONNECTIONS=${CONNECTIONS:-"16 32"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SCENARIOS=${SCENARIOS:-"view-appointments check-version handshake"}
WIREMOCK_VERSION=3.13.2
PFS_PORT=19443 PFS_ADMIN_PORT=19444 NGINX_PORT=19445 WIREMOCK_PORT=19446
BASELINE_PORT=19447 BASELINE_ADMIN_PORT=19448

# --- tools -------------------------------------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v java >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
command -v oha >/dev/null 2>&1 || cargo install oha --locked
peers="$root/target/peer-bench"
jar="$peers/node_modules/wiremock/build/wiremock-standalone-$WIREMOCK_VERSION.jar"
if [ ! -f "$jar" ]; then
    mkdir -p "$peers"
    (cd "$peers" && npm install --no-audit --no-fund --silent "wiremock@$WIREMOCK_VERSION" >/dev/null)
fi
if [ -n "${PFS_BIN:-}" ]; then
    PFS=$(realpath "$PFS_BIN")
else
    cargo build --release --bin pfs
    PFS="$root/target/release/pfs"
fi

work=$(mktemp -d)
cd "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    kill "$(cat nginx.pid 2>/dev/null)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- openpfs -----------------------------------------------------------------------------------
# shellcheck source=scripts/lib/demo-server.sh
source "$root/scripts/lib/demo-server.sh"
start_openpfs "$work/openpfs" "$PFS" "$PFS_PORT" "$PFS_ADMIN_PORT" "${DATABASE:-}"
pids+=("$(cat "$work/openpfs/serve.pid")")
servers=(nginx wiremock openpfs)
if [ -n "${PFS_BASELINE:-}" ]; then
    if [ -n "${DATABASE:-}" ] && [ -z "${DATABASE_BASELINE:-}" ]; then
        echo "PFS_BASELINE on PostgreSQL needs DATABASE_BASELINE (a second database)" >&2
        exit 2
    fi
    start_openpfs "$work/baseline" "$(realpath "$PFS_BASELINE")" "$BASELINE_PORT" \
        "$BASELINE_ADMIN_PORT" "${DATABASE_BASELINE:-}"
    pids+=("$(cat "$work/baseline/serve.pid")")
    servers+=(baseline)
fi
# shellcheck source=/dev/null # written by start_openpfs
source "$work/openpfs/env"
demo=$work/openpfs/pfs-data/demo
# The canned replies are openpfs's own answers, byte for byte.
post() { # type suid body
    curl -sS --fail --cacert "$demo/ca.pem" --cert "$demo/client.pem" --key "$demo/client-key.pem" \
        -H "type: $1" -H "suid: $2" -H 'content-type: text/xml; charset=utf-8' \
        --data-binary "$3" "$endpoint"
}
post ViewAppointments "$suid" "$view_body" >view-reply.xml
post CheckVersion "" "$check_body" >check-reply.xml
grep -q '<ViewAppointmentsReply' view-reply.xml
grep -q 'Appointment ' view-reply.xml || { echo "the demo patient holds no appointment" >&2; exit 1; }
grep -q '<CheckVersionReply' check-reply.xml

# --- a throwaway PKI for the peers -------------------------------------------------------------
mkdir pki
(
    cd pki
    openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem 2>/dev/null
    openssl req -x509 -new -key ca-key.pem -subj /CN=peer-bench-ca -days 2 -out ca.pem 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out server-key.pem 2>/dev/null
    openssl req -new -key server-key.pem -subj /CN=localhost -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem 2>/dev/null
    # WireMock (Java) takes PKCS#12: the server's key and certificate, and the CA that signed
    # the demo client certificate as a trusted entry.
    openssl pkcs12 -export -in server.pem -inkey server-key.pem -name server \
        -passout pass:peerbench -out server.p12
    keytool -importcert -noprompt -alias clients -file "$demo/ca.pem" \
        -storetype PKCS12 -keystore clients.p12 -storepass peerbench >/dev/null 2>&1
)

# --- nginx -------------------------------------------------------------------------------------
# A map from the `type` header to the canned reply: no file read, no parsing, no state.
quote() { sed "s/'/\\\\'/g" "$1"; }
cat >nginx.conf <<EOF
user root;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    map \$http_type \$canned {
        ViewAppointments '$(quote view-reply.xml)';
        default          '$(quote check-reply.xml)';
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $work/pki/server.pem;
        ssl_certificate_key $work/pki/server-key.pem;
        ssl_client_certificate $demo/ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.3;
        location /tpp/ {
            default_type "text/xml; charset=utf-8";
            return 200 \$canned;
        }
    }
}
EOF
"$NGINX" -c "$work/nginx.conf" -p "$work" >nginx.out 2>&1 &
pids+=($!)

# --- WireMock ----------------------------------------------------------------------------------
mkdir -p wiremock/mappings
python3 - "$work" <<'EOF'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
for name, message in (("view", "ViewAppointments"), ("check", "CheckVersion")):
    mapping = {
        "request": {"method": "POST", "urlPath": "/tpp/",
                    "headers": {"type": {"equalTo": message}}},
        "response": {"status": 200,
                     "headers": {"Content-Type": "text/xml; charset=utf-8"},
                     "body": (work / f"{name}-reply.xml").read_text()},
    }
    (work / "wiremock/mappings" / f"{name}.json").write_text(json.dumps(mapping))
EOF
java -jar "$jar" --root-dir "$work/wiremock" --disable-http --https-port "$WIREMOCK_PORT" \
    --https-keystore "$work/pki/server.p12" --keystore-type PKCS12 --keystore-password peerbench \
    --key-manager-password peerbench --https-require-client-cert \
    --https-truststore "$work/pki/clients.p12" --truststore-type PKCS12 \
    --truststore-password peerbench --no-request-journal --disable-banner >wiremock.log 2>&1 &
wiremock_pid=$!
pids+=($!)

# --- load ----------------------------------------------------------------------------------------
for _ in $(seq 150); do
    curl -s -o /dev/null -k --cert "$demo/client.pem" --key "$demo/client-key.pem" \
        -H 'type: CheckVersion' --data-binary "$check_body" "https://127.0.0.1:$WIREMOCK_PORT/tpp/" \
        && curl -s -o /dev/null -k --cert "$demo/client.pem" --key "$demo/client-key.pem" \
            -H 'type: CheckVersion' --data-binary "$check_body" "https://127.0.0.1:$NGINX_PORT/tpp/" \
        && break
    sleep 0.2
done

# The processes whose CPU time a server's requests cost: nginx's workers, WireMock's JVM, and
# openpfs (with every PostgreSQL process when DATABASE is given, since its backends work for
# it: nothing else should use the database server meanwhile).
cpu_pids() { # server
    case $1 in
        nginx) pgrep -P "$(cat nginx.pid)" ;;
        wiremock) echo "$wiremock_pid" ;;
        *)
            cat "$work/$1/serve.pid"
            if [ -n "${DATABASE:-}" ]; then pgrep -x postgres; fi
            ;;
    esac
}
ticks() { # pids…: their user and system time together, in clock ticks
    local t=0 p
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# One oha run against one server: prints "req/s p50_ms p99_ms failed server_cpu_us_per_request".
load() { # server seconds connections type [more oha options]
    local server=$1 seconds=$2 connections=$3 type=$4
    shift 4
    # openpfs and the baseline are sent their own session with their own client certificate;
    # the peers get openpfs's.
    local from=openpfs url endpoint demo suid view_body check_body
    [ "$server" = baseline ] && from=baseline
    # shellcheck source=/dev/null # written by start_openpfs
    source "$work/$from/env"
    case $server in
        nginx) url=https://127.0.0.1:$NGINX_PORT/tpp/ ;;
        wiremock) url=https://127.0.0.1:$WIREMOCK_PORT/tpp/ ;;
        *) url=$endpoint ;;
    esac
    local sid='' body=$check_body
    if [ "$type" = ViewAppointments ]; then sid=$suid body=$view_body; fi
    local -a watched
    mapfile -t watched < <(cpu_pids "$server")
    local before
    before=$(ticks "${watched[@]}")
    oha --no-tui --output-format json -z "${seconds}s" -c "$connections" -m POST \
        -H "type: $type" -H "suid: $sid" -T 'text/xml; charset=utf-8' -d "$body" \
        --cert "$demo/client.pem" --key "$demo/client-key.pem" --insecure "$@" "$url" >oha.json
    local spent=$(($(ticks "${watched[@]}") - before))
    python3 - "$spent" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
r = json.load(open("oha.json"))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
# Requests still in flight when the time is up are cut off by oha itself: not failures.
errors = {e: n for e, n in r.get("errorDistribution", {}).items() if e != "aborted due to deadline"}
bad = sum(n for c, n in codes.items() if c != "200") + sum(errors.values())
answered = max(sum(codes.values()), 1)
cpu = int(sys.argv[1]) / int(sys.argv[2]) * 1e6 / answered
print(f'{s["requestsPerSec"]:.0f} {p["p50"] * 1000:.2f} {p["p99"] * 1000:.2f} {bad} {cpu:.1f}')
EOF
}

store="embedded SQLite"
[ -n "${DATABASE:-}" ] && store="PostgreSQL $(psql -tA "$DATABASE" -c 'SHOW server_version')"
echo "== $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== openpfs: $PFS${PFS_BASELINE:+; baseline: $PFS_BASELINE} ($store); $("$NGINX" -v 2>&1); WireMock $WIREMOCK_VERSION on $(java -version 2>&1 | head -n 1); $(oha --version)"
echo "== oha: ${DURATION} s after ${WARMUP} s of warm-up; TLS 1.3, mutual; the load generator on the same cores"
echo
echo "| scenario | connections | server | req/s | p50 ms | p99 ms | failed | server CPU µs per request | openpfs ÷ this |"
echo "|---|---|---|---|---|---|---|---|---|"
for scenario in $SCENARIOS; do
    case $scenario in
        view-appointments) type=ViewAppointments extra=() ;;
        check-version) type=CheckVersion extra=() ;;
        handshake) type=CheckVersion extra=(--disable-keepalive) ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    for c in $CONNECTIONS; do
        declare -A rate=() results=()
        for server in "${servers[@]}"; do
            load "$server" "$WARMUP" "$c" "$type" "${extra[@]}" >/dev/null
            read -r rps p50 p99 bad cpu < <(load "$server" "$DURATION" "$c" "$type" "${extra[@]}")
            rate[$server]=$rps
            results[$server]="$rps $p50 $p99 $bad $cpu"
        done
        for server in "${servers[@]}"; do
            read -r rps p50 p99 bad cpu <<<"${results[$server]}"
            ratio=$(python3 -c "print(f'{${rate[openpfs]} / max($rps, 1):.2f}')")
            [ "$server" = openpfs ] && ratio=–
            echo "| $scenario | $c | $server | $rps | $p50 | $p99 | $bad | $cpu | $ratio |"
        done
    done
done
