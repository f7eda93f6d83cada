#!/usr/bin/env bash
# Sets up a local PostgreSQL for the tests, idempotently, and exports what they read:
#   PFS_TEST_POSTGRES_URL  the test database (role pfs, database pfs_test, on 127.0.0.1)
#   PFS_TEST_POSTGRES_CA   the CA of the server certificate it gets here (for the TLS tests)
# Installs PostgreSQL from Debian's packages if missing, starts the first cluster, creates the
# role and database, and gives the cluster a throwaway CA-signed certificate for 127.0.0.1 and
# localhost. Needs root. Source it, then run the tests:
#   source scripts/postgres-for-tests.sh
#   cargo test --workspace -- --include-ignored
PG_ROLE=pfs
PG_PASSWORD=pfs-test
PG_DB=pfs_test
as_postgres() {
    if command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -c "$(printf '%q ' "$@")"
    fi
}
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
fi
# Start the (first) cluster unless it is running already.
read -r PG_VERSION PG_CLUSTER PG_PORT PG_STATUS < <(pg_lsclusters --no-header | head -n 1 | awk '{print $1, $2, $3, $4}')
if [ "$PG_STATUS" != "online" ]; then
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
fi
for _ in $(seq 1 30); do
    as_postgres psql -p "$PG_PORT" -tAc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
# Idempotent: the role and database may exist from an earlier run.
as_postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
        CREATE ROLE $PG_ROLE LOGIN PASSWORD '$PG_PASSWORD';
    ELSE
        ALTER ROLE $PG_ROLE LOGIN PASSWORD '$PG_PASSWORD';
    END IF;
END\$\$;
SQL
if [ "$(as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
    as_postgres createdb -p "$PG_PORT" -O "$PG_ROLE" "$PG_DB"
fi
# TLS: a throwaway CA and a server certificate for 127.0.0.1 and localhost, so the tests can
# connect with sslmode=verify-full (PFS_TEST_POSTGRES_CA names the CA).
if ! command -v openssl >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y openssl
fi
PG_TLS_DIR=/var/lib/postgresql/pfs-test-tls
mkdir -p "$PG_TLS_DIR"
# Made once and kept until it nears expiry, so that runs (and tests running meanwhile) agree.
if ! openssl x509 -checkend 86400 -noout -in "$PG_TLS_DIR/server.pem" >/dev/null 2>&1; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=openpfs test database CA" -keyout "$PG_TLS_DIR/ca-key.pem" -out "$PG_TLS_DIR/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$PG_TLS_DIR/server-key.pem" -out "$PG_TLS_DIR/server.csr" 2>/dev/null
    openssl x509 -req -in "$PG_TLS_DIR/server.csr" -CA "$PG_TLS_DIR/ca.pem" -CAkey "$PG_TLS_DIR/ca-key.pem" \
        -CAcreateserial -days 30 -out "$PG_TLS_DIR/server.pem" \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') 2>/dev/null
fi
chown -R postgres:postgres "$PG_TLS_DIR"
chmod 600 "$PG_TLS_DIR/server-key.pem" "$PG_TLS_DIR/ca-key.pem"
chmod 644 "$PG_TLS_DIR/ca.pem"
as_postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -q -o /dev/null <<SQL
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$PG_TLS_DIR/server.pem';
ALTER SYSTEM SET ssl_key_file = '$PG_TLS_DIR/server-key.pem';
SELECT pg_reload_conf();
SQL
export PFS_TEST_POSTGRES_URL="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
export PFS_TEST_POSTGRES_CA="$PG_TLS_DIR/ca.pem"
echo "PostgreSQL $PG_VERSION on port $PG_PORT, database $PG_DB, TLS with the CA in $PFS_TEST_POSTGRES_CA"
