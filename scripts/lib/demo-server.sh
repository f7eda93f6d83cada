# shellcheck shell=bash
# Sourced by the benchmark scripts: a `pfs serve --demo` with a logged-in demo patient who
# holds one appointment, and what a load generator needs to send it requests.

# Starts one `pfs serve --demo` in directory $1 (binary $2, ports $3 and $4, database $5 or
# none for SQLite), logs the first demo account in, books the first free slot, and writes what
# the load needs into $1/env: its endpoint, the demo credentials, the suid and request bodies.
# The server's pid is in $1/serve.pid. With LAUNCH set (e.g. "valgrind --tool=callgrind"),
# the server runs under that command.
start_openpfs() { # dir binary port admin-port [database]
    local dir=$1 bin=$2 port=$3 admin_port=$4 database=${5:-}
    mkdir -p "$dir"
    (
        cd "$dir"
        if [ -n "$database" ]; then
            PGOPTIONS='-c client_min_messages=warning' psql -q "$database" \
                -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
            export PFS_DATABASE_URL="$database"
        fi
        export PFS_LISTEN=127.0.0.1:$port PFS_ADMIN_LISTEN=127.0.0.1:$admin_port
        export PFS_ENDPOINT=https://127.0.0.1:$port/tpp/
        export PFS_CONFIG_DIR=$dir/config # the login's profile, kept apart from the user's own
        # shellcheck disable=SC2086 # LAUNCH is a command line, split on purpose
        ${LAUNCH:-} "$bin" serve --demo --log warn >serve.log 2>&1 &
        echo $! >serve.pid
        for _ in $(seq 300); do
            [ -f pfs-data/demo/accounts.json ] && [ -f pfs-data/admin-url ] && break
            sleep 0.2
        done
        sleep 0.5
        demo=pfs-data/demo
        account=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["accountId"])' "$demo/accounts.json")
        "$bin" login --account "$account" >/dev/null
        # The first free slot: its session id, start and end.
        read -r session start end < <("$bin" call ListSlots numberOfDays=14 --json | python3 -c '
import json, sys
for session in json.load(sys.stdin)["children"]:
    for slot in session.get("children", []):
        a = slot["attributes"]
        print(session["attributes"]["sessionId"], a["startDate"], a["endDate"])
        sys.exit()')
        "$bin" call BookAppointment "sessionId=$session" "startDate=$start" "endDate=$end" \
            notes=bench >/dev/null
        read -r suid unit patient user < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["session"]
print(s["suid"], s["unitId"], s["selectedPatientId"], s["onlineUserId"])' "$PFS_CONFIG_DIR/profiles/default.json")
        provider_id=$(tr -d '\n' <"$demo/provider-id")
        {
            echo "endpoint=$PFS_ENDPOINT"
            echo "demo=$dir/$demo"
            echo "suid=$suid"
            echo "view_body='<ViewAppointments apiVersion=\"1\" unitId=\"$unit\" patientId=\"$patient\" onlineUserId=\"$user\" futureAppointments=\"Y\"/>'"
            echo "check_body='<CheckVersion apiVersion=\"1\"><Application name=\"bench\" version=\"1\" providerId=\"$provider_id\" deviceType=\"bench\"/></CheckVersion>'"
        } >env
    )
}
