//! The PostgreSQL backend, on sqlx.
//!
//! One connection pool per store (default at most 16 connections); every instance of the server
//! that points at the same database shares all its state there. Every connection gets a
//! `statement_timeout` when it is opened, so a statement stuck behind a lock fails with
//! [`StoreError::Unavailable`] instead of holding a request forever, and waiting for a pooled
//! connection is bounded by an acquire timeout. When the database cannot be reached every call
//! fails with [`StoreError::Unavailable`]; the pool opens new connections by itself once it is
//! back, so nothing needs restarting.
//!
//! The pool is deadpool's, not sqlx's: sqlx's pool pings each connection as it goes back, a
//! second round trip per query that cost about a third of read throughput. Here a connection
//! goes back untouched unless its last call failed at the transport level ([`Db::run`]).
//!
//! The schema is the SQLite one ported (`migrations/postgres`): instants are BIGINT unix
//! milliseconds (UTC), booleans BOOLEAN, dates DATE, practice settings JSONB. Migrations are
//! applied by [`connect`] (and [`migrate`]) under sqlx's advisory lock, so instances starting
//! together do not race. Queries are built at run time and rows are mapped by hand.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool::managed::{HookError, Manager, Metrics, Object, Pool, PoolError, RecycleResult};
use pfs_core::model::{
    Appointment, AppointmentSession, BookOutcome, LinkThrottle, LinkageKeyRecord, OnlineAccount,
    Patient, PatientContext, Practice, PracticeSettings, Provider, ProviderLink, RecordAccess,
    ServiceSwitch, SessionContext, SessionRecord,
};
use pfs_core::{Store, StoreError, StoreResult};
use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use sqlx_core::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx_core::row::Row;
use sqlx_core::sql_str::{AssertSqlSafe, SqlSafeStr};
use sqlx_postgres::{PgArguments, PgConnectOptions, PgConnection, PgPoolOptions, PgRow, Postgres};

/// The schema migrations, in order: `(version, description, SQL)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "appointments",
        include_str!("../migrations/postgres/0002_appointments.sql"),
    ),
    (
        3,
        "booking_function",
        include_str!("../migrations/postgres/0003_booking_function.sql"),
    ),
];

/// Tuning for [`connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Most pooled connections per store, i.e. per server instance (default 16). With N
    /// instances the database sees up to N × this many connections.
    pub max_connections: u32,
    /// How long a call waits for a pooled connection (or for a new one to open) before failing
    /// with [`StoreError::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
    /// `statement_timeout` of every connection: a statement running longer is cancelled and
    /// fails with [`StoreError::Unavailable`] (default 5 s).
    pub statement_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Store`] in a PostgreSQL database.
///
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    db: Db,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.db.0.status().size)
            .finish_non_exhaustive()
    }
}

/// Opens the pool's connections, each with the store's statement timeout.
struct Connector {
    options: PgConnectOptions,
    statement_timeout_ms: u128,
}

impl Manager for Connector {
    type Type = PgConnection;
    type Error = sqlx_core::Error;

    async fn create(&self) -> Result<PgConnection, sqlx_core::Error> {
        let mut conn = PgConnection::connect_with(&self.options).await?;
        let sql = format!("SET statement_timeout = {}", self.statement_timeout_ms);
        conn.execute(AssertSqlSafe(sql)).await?;
        Ok(conn)
    }

    async fn recycle(
        &self,
        _conn: &mut PgConnection,
        _metrics: &Metrics,
    ) -> RecycleResult<sqlx_core::Error> {
        // Nothing to test: `Db::run` has closed every connection whose call failed at the
        // transport level, and the driver drains a statement its caller abandoned half-way
        // (or rolls back a dropped transaction) before the connection's next statement.
        Ok(())
    }
}

/// The connection pool.
#[derive(Clone)]
struct Db(Pool<Connector>);

impl Db {
    /// Runs `work` on a pooled connection. A connection whose call failed as
    /// [`StoreError::Unavailable`] (unreachable, broken, timed out) is closed rather than handed
    /// to the next caller.
    async fn run<T>(
        &self,
        table: &'static str,
        work: impl AsyncFnOnce(&mut PgConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.0.get().await.map_err(|e| pool_error(table, e))?;
        let result = work(&mut conn).await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            drop(Object::take(conn));
        }
        result
    }
}

fn pool_error(table: &'static str, e: PoolError<sqlx_core::Error>) -> StoreError {
    match e {
        PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => {
            map_err(table)(e)
        }
        PoolError::Timeout(_) => StoreError::Unavailable(format!(
            "{table}: timed out waiting for a database connection"
        )),
        PoolError::Closed => StoreError::Unavailable("store closed".into()),
        _ => StoreError::Unavailable(format!("{table}: no database connection")),
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    // The URL may carry a password: never echo it.
    PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Other("database: invalid PostgreSQL URL".into()))
}

/// Opens a pool on the database at `url`, applies the migrations it has not had, and returns
/// the store.
pub async fn connect(url: &str, opts: PostgresOptions) -> StoreResult<PostgresStore> {
    let options = connect_options(url)?;
    migrate_with(options.clone(), opts.acquire_timeout).await?;
    let connector = Connector {
        options,
        statement_timeout_ms: opts.statement_timeout.as_millis().max(1),
    };
    let pool = Pool::builder(connector)
        .max_size(opts.max_connections.max(1) as usize)
        .wait_timeout(Some(opts.acquire_timeout))
        .create_timeout(Some(opts.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|_| StoreError::Other("database: cannot build the connection pool".into()))?;
    tracing::debug!("postgres store open");
    Ok(PostgresStore { db: Db(pool) })
}

/// Applies the migrations the database at `url` has not had, then disconnects: for operators
/// who migrate before starting (or upgrading) the servers.
pub async fn migrate(url: &str) -> StoreResult<()> {
    migrate_with(connect_options(url)?, Duration::from_secs(30)).await
}

async fn migrate_with(options: PgConnectOptions, acquire_timeout: Duration) -> StoreResult<()> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .map_err(map_err("database"))?;
    let result = run_migrations(&pool).await;
    pool.close().await;
    result
}

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

async fn run_migrations(pool: &sqlx_postgres::PgPool) -> StoreResult<()> {
    migrator().run(pool).await.map_err(|e| match e {
        MigrateError::Execute(e) => map_err("migrations")(e),
        MigrateError::VersionTooNew(v, _)
        | MigrateError::VersionMissing(v) => StoreError::Other(format!(
            "migrations: the database has migration {v}, which this build does not know (newer schema?)"
        )),
        MigrateError::VersionMismatch(v) => StoreError::Other(format!(
            "migrations: migration {v} was applied with different SQL"
        )),
        _ => StoreError::Other("migrations: cannot apply the PostgreSQL migrations".into()),
    })
}

impl PostgresStore {
    /// Marks row `id` of `table` ended (an earlier time is kept, `mark` uses `COALESCE`) and
    /// ends its open sessions, in one transaction; false if there is no such row.
    async fn end_with_sessions(
        &self,
        table: &'static str,
        mark: &'static str,
        end_sessions: &'static str,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let err = map_err(table);
        self.db
            .run(table, async |c| {
                let mut tx = c.begin().await.map_err(&err)?;
                if execute_in(&mut tx, table, q(mark).bind(id).bind(ms(at))).await? == 0 {
                    return Ok(false);
                }
                let end = q(end_sessions).bind(id).bind(ms(at));
                execute_in(&mut tx, "sessions", end).await?;
                tx.commit().await.map_err(&err)?;
                Ok(true)
            })
            .await
    }

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.db.0.close();
    }
}

// --- statements --------------------------------------------------------------------------------

type Query = sqlx_core::query::Query<'static, Postgres, PgArguments>;

fn q(sql: &'static str) -> Query {
    sqlx_core::query::query(sql)
}

/// Binds the six fields of an access-log entry, in column order (patient_id, at_ms,
/// accessed_by, organisation, access_type, method), as the query's next parameters.
fn bind_access(query: Query, access: &RecordAccess) -> Query {
    query
        .bind(access.patient_id.clone())
        .bind(ms(access.at))
        .bind(access.accessed_by.clone())
        .bind(access.organisation.clone())
        .bind(access.access_type.clone())
        .bind(access.method.clone())
}

async fn query_opt<T>(
    db: &Db,
    table: &'static str,
    query: Query,
    map: fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    db.run(table, async |c| {
        match query.fetch_optional(c).await.map_err(map_err(table))? {
            Some(row) => map(&row).map(Some),
            None => Ok(None),
        }
    })
    .await
}

async fn query_all<T>(
    db: &Db,
    table: &'static str,
    query: Query,
    map: fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    db.run(table, async |c| {
        let rows = query.fetch_all(c).await.map_err(map_err(table))?;
        rows.iter().map(map).collect()
    })
    .await
}

/// Runs a statement on a pooled connection; the number of rows it changed.
async fn execute(db: &Db, table: &'static str, query: Query) -> StoreResult<u64> {
    db.run(table, async |c| execute_in(c, table, query).await)
        .await
}

/// Runs a statement on `conn` (inside a transaction); the number of rows it changed.
async fn execute_in(
    conn: &mut PgConnection,
    table: &'static str,
    query: Query,
) -> StoreResult<u64> {
    Ok(conn
        .execute(query)
        .await
        .map_err(map_err(table))?
        .rows_affected())
}

// --- conversions -------------------------------------------------------------------------------

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

struct Cols<'r> {
    row: &'r PgRow,
    table: &'static str,
    /// Where this table's columns start in the row (non-zero in joins).
    offset: usize,
}

impl<'r> Cols<'r> {
    fn new(row: &'r PgRow, table: &'static str) -> Self {
        Cols {
            row,
            table,
            offset: 0,
        }
    }

    fn corrupt(&self, column: &str, what: &str) -> StoreError {
        StoreError::Other(format!("{}.{column}: {what}", self.table))
    }

    fn get<T>(&self, idx: usize, column: &'static str) -> StoreResult<T>
    where
        T: for<'a> sqlx_core::decode::Decode<'a, Postgres> + sqlx_core::types::Type<Postgres>,
    {
        self.row
            .try_get(idx + self.offset)
            .map_err(|_| self.corrupt(column, "cannot decode"))
    }

    fn instant(&self, idx: usize, column: &'static str) -> StoreResult<DateTime<Utc>> {
        let v: i64 = self.get(idx, column)?;
        DateTime::from_timestamp_millis(v)
            .ok_or_else(|| self.corrupt(column, "instant out of range"))
    }

    fn opt_instant(&self, idx: usize, column: &'static str) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = self.get(idx, column)?;
        v.map(|v| {
            DateTime::from_timestamp_millis(v)
                .ok_or_else(|| self.corrupt(column, "instant out of range"))
        })
        .transpose()
    }

    fn date(&self, idx: usize, column: &'static str) -> StoreResult<NaiveDate> {
        let text: String = self.get(idx, column)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| self.corrupt(column, "not a date"))
    }
}

fn provider_row(row: &PgRow) -> StoreResult<Provider> {
    provider_at(row, 0)
}

/// A provider whose columns start at `offset` (after another table's, in a join).
fn provider_at(row: &PgRow, offset: usize) -> StoreResult<Provider> {
    let c = Cols {
        offset,
        ..Cols::new(row, "providers")
    };
    Ok(Provider {
        id: c.get(0, "id")?,
        name: c.get(1, "name")?,
        fingerprint: c.get(2, "fingerprint")?,
        trusted_identity: c.get(3, "trusted_identity")?,
        created_at: c.instant(4, "created_at")?,
        revoked_at: c.opt_instant(5, "revoked_at")?,
    })
}

fn practice_row(row: &PgRow) -> StoreResult<Practice> {
    practice_at(row, 0)
}

fn practice_at(row: &PgRow, offset: usize) -> StoreResult<Practice> {
    let c = Cols {
        offset,
        ..Cols::new(row, "practices")
    };
    let settings: String = c.get(3, "settings")?;
    Ok(Practice {
        ods: c.get(0, "ods")?,
        name: c.get(1, "name")?,
        address: c.get(2, "address")?,
        settings: serde_json::from_str(&settings)
            .map_err(|_| c.corrupt("settings", "not valid settings JSON"))?,
    })
}

fn settings_json(settings: &PracticeSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|_| StoreError::Other("practices.settings: cannot encode".into()))
}

fn patient_row(row: &PgRow) -> StoreResult<Patient> {
    patient_at(row, 0)
}

fn patient_at(row: &PgRow, offset: usize) -> StoreResult<Patient> {
    let c = Cols {
        offset,
        ..Cols::new(row, "patients")
    };
    Ok(Patient {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        nhs_number: c.get(2, "nhs_number")?,
        title: c.get(3, "title")?,
        first_name: c.get(4, "first_name")?,
        last_name: c.get(5, "last_name")?,
        date_of_birth: c.date(6, "date_of_birth")?,
        gender: c.get(7, "gender")?,
        address: c.get(8, "address")?,
    })
}

fn account_row(row: &PgRow) -> StoreResult<OnlineAccount> {
    let c = Cols::new(row, "online_accounts");
    Ok(OnlineAccount {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        email: c.get(2, "email")?,
        mobile: c.get(3, "mobile")?,
        created_at: c.instant(4, "created_at")?,
        ended_at: c.opt_instant(5, "ended_at")?,
    })
}

fn linkage_key_row(row: &PgRow) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get(0, "account_id")?,
        key_hash: c.get(1, "key_hash")?,
        issued_at: c.instant(2, "issued_at")?,
        expires_at: c.instant(3, "expires_at")?,
    })
}

fn provider_link_row(row: &PgRow) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get(0, "account_id")?,
        provider_id: c.get(1, "provider_id")?,
        passphrase_hash: c.get(2, "passphrase_hash")?,
        linked_at: c.instant(3, "linked_at")?,
    })
}

fn throttle_row(row: &PgRow) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get(0, "failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant(1, "locked_until")?,
    })
}

fn practice_switch_row(row: &PgRow) -> StoreResult<ServiceSwitch> {
    switch_row(row, "practice_services")
}

fn patient_switch_row(row: &PgRow) -> StoreResult<ServiceSwitch> {
    switch_row(row, "patient_services")
}

fn switch_row(row: &PgRow, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get(0, "service")?,
        enabled: c.get(1, "enabled")?,
    })
}

/// A row of the `session_context` query: session (0..8), provider (8..14), then, when a
/// patient was named and found, patient (14..23), practice (23..27), the two switch lists and
/// the proxy grant.
fn session_context_row(row: &PgRow) -> StoreResult<SessionContext> {
    let c = Cols::new(row, "sessions");
    let found: Option<String> = c.get(14, "patient id")?;
    let patient = match found {
        None => None,
        Some(_) => Some(PatientContext {
            patient: patient_at(row, 14)?,
            practice: practice_at(row, 23)?,
            practice_switches: switches(c.get(27, "practice switches")?)?,
            patient_switches: switches(c.get(28, "patient switches")?)?,
        }),
    };
    Ok(SessionContext {
        session: session_row(row)?,
        provider: provider_at(row, 8)?,
        patient,
        proxy_grant: c.get(29, "proxy grant")?,
    })
}

/// Switches aggregated as `+service` (on) or `-service` (off), returned by service. (Sorting
/// here is cheaper than an ORDER BY in each array's subquery, which cost the database a fifth
/// of its time on this query.)
fn switches(flagged: Vec<String>) -> StoreResult<Vec<ServiceSwitch>> {
    let switch = |f: String| {
        let enabled = match f.as_bytes().first() {
            Some(b'+') => true,
            Some(b'-') => false,
            _ => return Err(StoreError::Other("service switch: unexpected form".into())),
        };
        Ok(ServiceSwitch {
            service: f[1..].to_owned(),
            enabled,
        })
    };
    let mut all = flagged
        .into_iter()
        .map(switch)
        .collect::<StoreResult<Vec<_>>>()?;
    all.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(all)
}

fn session_row(row: &PgRow) -> StoreResult<SessionRecord> {
    let c = Cols::new(row, "sessions");
    Ok(SessionRecord {
        suid_hash: c.get(0, "suid_hash")?,
        provider_id: c.get(1, "provider_id")?,
        account_id: c.get(2, "account_id")?,
        online_user_id: c.get(3, "online_user_id")?,
        selected_patient_id: c.get(4, "selected_patient_id")?,
        created_at: c.instant(5, "created_at")?,
        last_seen_at: c.instant(6, "last_seen_at")?,
        ended_at: c.opt_instant(7, "ended_at")?,
    })
}

fn appointment_session_row(row: &PgRow) -> StoreResult<AppointmentSession> {
    appointment_session_at(row, 0)
}

/// An appointment session whose columns start at `offset` (after another table's, in a join).
fn appointment_session_at(row: &PgRow, offset: usize) -> StoreResult<AppointmentSession> {
    let c = Cols {
        offset,
        ..Cols::new(row, "appointment_sessions")
    };
    let slot_minutes: i64 = c.get(7, "slot_minutes")?;
    let slot_count: i64 = c.get(8, "slot_count")?;
    Ok(AppointmentSession {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        session_type: c.get(2, "session_type")?,
        staff_details: c.get(3, "staff_details")?,
        location: c.get(4, "location")?,
        slot_type: c.get(5, "slot_type")?,
        start: c.instant(6, "start_ms")?,
        slot_minutes: u32::try_from(slot_minutes)
            .map_err(|_| c.corrupt("slot_minutes", "out of range"))?,
        slot_count: u32::try_from(slot_count)
            .map_err(|_| c.corrupt("slot_count", "out of range"))?,
    })
}

fn appointment_row(row: &PgRow) -> StoreResult<Appointment> {
    let c = Cols::new(row, "appointments");
    Ok(Appointment {
        id: c.get(0, "id")?,
        session_id: c.get(1, "session_id")?,
        patient_id: c.get(2, "patient_id")?,
        start: c.instant(3, "start_ms")?,
        end: c.instant(4, "end_ms")?,
        notes: c.get(5, "notes")?,
        booked_by: c.get(6, "booked_by")?,
        booked_at: c.instant(7, "booked_at")?,
        cancelled_at: c.opt_instant(8, "cancelled_at")?,
    })
}

/// An appointment (columns 0..9) joined with its session (9..18).
fn appointment_with_session_row(row: &PgRow) -> StoreResult<(Appointment, AppointmentSession)> {
    Ok((appointment_row(row)?, appointment_session_at(row, 9)?))
}

fn record_access_row(row: &PgRow) -> StoreResult<RecordAccess> {
    let c = Cols::new(row, "record_accesses");
    Ok(RecordAccess {
        patient_id: c.get(0, "patient_id")?,
        at: c.instant(1, "at_ms")?,
        accessed_by: c.get(2, "accessed_by")?,
        organisation: c.get(3, "organisation")?,
        access_type: c.get(4, "access_type")?,
        method: c.get(5, "method")?,
    })
}

fn present(_: &PgRow) -> StoreResult<()> {
    Ok(())
}

// --- errors ------------------------------------------------------------------------------------

/// What rows of `table` refer to, for `NotFound` on a foreign key violation.
fn referenced(table: &str) -> &'static str {
    match table {
        "patients" => "practice",
        "online_accounts" => "patient",
        "linkage_keys" => "account",
        "provider_links" => "account or provider",
        "proxy_grants" => "patient",
        "practice_services" => "practice",
        "patient_services" => "patient",
        "sessions" => "provider, account or patient",
        "appointment_sessions" => "practice",
        "appointments" => "appointment session or patient",
        "record_accesses" => "patient",
        _ => "referenced row",
    }
}

/// The `table.column` text of a unique constraint, as SQLite words it.
fn unique_key(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "providers_pkey" => "providers.id",
        "providers_fingerprint_key" => "providers.fingerprint",
        "practices_pkey" => "practices.ods",
        "patients_pkey" => "patients.id",
        "patients_nhs_number_key" => "patients.nhs_number",
        "online_accounts_pkey" => "online_accounts.id",
        "online_accounts_patient_id_key" => "online_accounts.patient_id",
        "linkage_keys_pkey" => "linkage_keys.account_id",
        "provider_links_pkey" => "provider_links.account_id, provider_links.provider_id",
        "link_throttles_pkey" => "link_throttles.account_id, link_throttles.provider_id",
        "proxy_grants_pkey" => "proxy_grants.grantee_id, proxy_grants.patient_id",
        "practice_services_pkey" => "practice_services.ods, practice_services.service",
        "patient_services_pkey" => "patient_services.patient_id, patient_services.service",
        "sessions_pkey" => "sessions.suid_hash",
        "appointment_sessions_pkey" => "appointment_sessions.id",
        "appointments_pkey" => "appointments.id",
        "appointments_slot_key" => "appointments.session_id, appointments.start_ms",
        _ => return None,
    })
}

/// SQLSTATEs after which retrying later may work: the connection or the server failed, the
/// server is shutting down or out of resources, the statement timed out or lost a lock or
/// serialization race, or the database refuses connections or does not exist (yet).
fn transient(code: &str) -> bool {
    matches!(
        code.get(..2),
        Some("08" | "40" | "53" | "57" | "58" | "28" | "3D")
    ) || matches!(code, "55000" | "55006" | "55P03")
}

/// Maps an sqlx error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys, error kinds and SQLSTATEs only: PostgreSQL's messages (and
/// sqlx's) may quote values, so none is passed on.
fn map_err(table: &'static str) -> impl Fn(sqlx_core::Error) -> StoreError {
    move |e| match e {
        sqlx_core::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // unique_violation
                "23505" => StoreError::Conflict(
                    db.constraint()
                        .and_then(unique_key)
                        .unwrap_or(table)
                        .to_owned(),
                ),
                // foreign_key_violation
                "23503" => StoreError::NotFound(referenced(table).to_owned()),
                "57014" => StoreError::Unavailable(format!(
                    "{table}: statement timed out or was cancelled (SQLSTATE 57014)"
                )),
                code if transient(code) => {
                    StoreError::Unavailable(format!("{table}: database error (SQLSTATE {code})"))
                }
                code => StoreError::Other(format!("{table}: database error (SQLSTATE {code})")),
            }
        }
        sqlx_core::Error::Io(_) => {
            StoreError::Unavailable(format!("{table}: cannot reach the database"))
        }
        sqlx_core::Error::Tls(_) => {
            StoreError::Unavailable(format!("{table}: TLS to the database failed"))
        }
        sqlx_core::Error::PoolTimedOut => StoreError::Unavailable(format!(
            "{table}: timed out waiting for a database connection"
        )),
        sqlx_core::Error::PoolClosed => StoreError::Unavailable("store closed".into()),
        sqlx_core::Error::WorkerCrashed | sqlx_core::Error::Protocol(_) => {
            StoreError::Unavailable(format!("{table}: database connection failed"))
        }
        sqlx_core::Error::RowNotFound => StoreError::Other(format!("{table}: row not found")),
        sqlx_core::Error::ColumnIndexOutOfBounds { .. }
        | sqlx_core::Error::ColumnNotFound(_)
        | sqlx_core::Error::TypeNotFound { .. } => {
            StoreError::Other(format!("{table}: unexpected result shape"))
        }
        sqlx_core::Error::ColumnDecode { .. } | sqlx_core::Error::Decode(_) => {
            StoreError::Other(format!("{table}: cannot decode a column"))
        }
        sqlx_core::Error::Encode(_) => StoreError::Other(format!("{table}: cannot encode a value")),
        sqlx_core::Error::Configuration(_) => {
            StoreError::Other(format!("{table}: invalid database configuration"))
        }
        _ => StoreError::Other(format!("{table}: unexpected database error")),
    }
}

/// Selects appointment sessions' columns (as read by `appointment_session_row`).
macro_rules! select_appointment_sessions {
    ($rest:literal) => {
        concat!(
            "SELECT id, ods, session_type, staff_details, location, slot_type, start_ms,
                    slot_minutes, slot_count
             FROM appointment_sessions ",
            $rest
        )
    };
}

/// Selects appointments' columns (as read by `appointment_row`) from `appointments a`.
macro_rules! select_appointments {
    ($rest:literal) => {
        concat!(
            "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes, a.booked_by,
                    a.booked_at, a.cancelled_at
             FROM appointments a ",
            $rest
        )
    };
}

// --- the store ---------------------------------------------------------------------------------

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        query_opt(&self.db, "database", q("SELECT 1"), present).await?;
        Ok(())
    }

    // --- providers ---

    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        let query = q("INSERT INTO providers
                 (id, name, fingerprint, trusted_identity, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&provider.id)
        .bind(&provider.name)
        .bind(&provider.fingerprint)
        .bind(provider.trusted_identity)
        .bind(ms(provider.created_at))
        .bind(opt_ms(provider.revoked_at));
        execute(&self.db, "providers", query).await?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        let query = q(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE id = $1",
        )
        .bind(id);
        query_opt(&self.db, "providers", query, provider_row).await
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        let query = q(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE fingerprint = $1",
        )
        .bind(fingerprint);
        query_opt(&self.db, "providers", query, provider_row).await
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        let query = q(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers ORDER BY created_at, id",
        );
        query_all(&self.db, "providers", query, provider_row).await
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.end_with_sessions(
            "providers",
            "UPDATE providers SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            "UPDATE sessions SET ended_at = $2 WHERE provider_id = $1 AND ended_at IS NULL",
            id,
            at,
        )
        .await
    }

    // --- practices ---

    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        let query = q("INSERT INTO practices (ods, name, address, settings)
             VALUES ($1, $2, $3, $4::text::jsonb)")
        .bind(&practice.ods)
        .bind(&practice.name)
        .bind(&practice.address)
        .bind(settings_json(&practice.settings)?);
        execute(&self.db, "practices", query).await?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        let query =
            q("SELECT ods, name, address, settings::text FROM practices WHERE ods = $1").bind(ods);
        query_opt(&self.db, "practices", query, practice_row).await
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        let query = q("SELECT ods, name, address, settings::text FROM practices ORDER BY ods");
        query_all(&self.db, "practices", query, practice_row).await
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        let query = q("UPDATE practices SET settings = $2::text::jsonb WHERE ods = $1")
            .bind(ods)
            .bind(settings_json(settings)?);
        Ok(execute(&self.db, "practices", query).await? > 0)
    }

    // --- patients ---

    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        let query = q(
            "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                   date_of_birth, gender, address)
             VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9)",
        )
        .bind(&patient.id)
        .bind(&patient.ods)
        .bind(&patient.nhs_number)
        .bind(&patient.title)
        .bind(&patient.first_name)
        .bind(&patient.last_name)
        .bind(date_text(patient.date_of_birth))
        .bind(&patient.gender)
        .bind(&patient.address);
        execute(&self.db, "patients", query).await?;
        Ok(())
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        let query = q("SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE id = $1")
        .bind(id);
        query_opt(&self.db, "patients", query, patient_row).await
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        let query = q("SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE nhs_number = $1")
        .bind(nhs_number);
        query_opt(&self.db, "patients", query, patient_row).await
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        let query = match ods {
            Some(ods) => q("SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients WHERE ods = $1 ORDER BY id")
            .bind(ods),
            None => q("SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients ORDER BY id"),
        };
        query_all(&self.db, "patients", query, patient_row).await
    }

    // --- online accounts and linkage ---

    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        let query = q("INSERT INTO online_accounts
                 (id, patient_id, email, mobile, created_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&account.id)
        .bind(&account.patient_id)
        .bind(&account.email)
        .bind(&account.mobile)
        .bind(ms(account.created_at))
        .bind(opt_ms(account.ended_at));
        execute(&self.db, "online_accounts", query).await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        let query = q("SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE id = $1")
        .bind(id);
        query_opt(&self.db, "online_accounts", query, account_row).await
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        let query = q("SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE patient_id = $1")
        .bind(patient_id);
        query_opt(&self.db, "online_accounts", query, account_row).await
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.end_with_sessions(
            "online_accounts",
            "UPDATE online_accounts SET ended_at = COALESCE(ended_at, $2) WHERE id = $1",
            "UPDATE sessions SET ended_at = $2 WHERE account_id = $1 AND ended_at IS NULL",
            id,
            at,
        )
        .await
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        let query = q(
            "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id) DO UPDATE SET
                 key_hash = excluded.key_hash,
                 issued_at = excluded.issued_at,
                 expires_at = excluded.expires_at",
        )
        .bind(&key.account_id)
        .bind(&key.key_hash)
        .bind(ms(key.issued_at))
        .bind(ms(key.expires_at));
        execute(&self.db, "linkage_keys", query).await?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        let query = q("SELECT account_id, key_hash, issued_at, expires_at
             FROM linkage_keys WHERE account_id = $1")
        .bind(account_id);
        query_opt(&self.db, "linkage_keys", query, linkage_key_row).await
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        let query = q(
            "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 passphrase_hash = excluded.passphrase_hash,
                 linked_at = excluded.linked_at",
        )
        .bind(&link.account_id)
        .bind(&link.provider_id)
        .bind(&link.passphrase_hash)
        .bind(ms(link.linked_at));
        execute(&self.db, "provider_links", query).await?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        let query = q("SELECT account_id, provider_id, passphrase_hash, linked_at
             FROM provider_links WHERE account_id = $1 AND provider_id = $2")
        .bind(account_id)
        .bind(provider_id);
        query_opt(&self.db, "provider_links", query, provider_link_row).await
    }

    // --- linkage throttling ---

    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>> {
        let query = q("SELECT failures, locked_until
             FROM link_throttles WHERE account_id = $1 AND provider_id = $2")
        .bind(account_id)
        .bind(provider_id);
        query_opt(&self.db, "link_throttles", query, throttle_row).await
    }

    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()> {
        let query = q(
            "INSERT INTO link_throttles (account_id, provider_id, failures, locked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 failures = excluded.failures,
                 locked_until = excluded.locked_until",
        )
        .bind(account_id)
        .bind(provider_id)
        .bind(i64::from(throttle.failures))
        .bind(opt_ms(throttle.locked_until));
        execute(&self.db, "link_throttles", query).await?;
        Ok(())
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        let query = q("DELETE FROM link_throttles WHERE account_id = $1 AND provider_id = $2")
            .bind(account_id)
            .bind(provider_id);
        execute(&self.db, "link_throttles", query).await?;
        Ok(())
    }

    // --- proxy access ---

    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        let query = q(
            "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES ($1, $2, $3)
             ON CONFLICT (grantee_id, patient_id) DO NOTHING",
        )
        .bind(grantee_id)
        .bind(patient_id)
        .bind(ms(at));
        execute(&self.db, "proxy_grants", query).await?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let query = q("DELETE FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2")
            .bind(grantee_id)
            .bind(patient_id);
        Ok(execute(&self.db, "proxy_grants", query).await? > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        let query = q(
            "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
                    to_char(p.date_of_birth, 'YYYY-MM-DD'), p.gender, p.address
             FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
             WHERE g.grantee_id = $1 AND g.patient_id <> g.grantee_id
             ORDER BY g.patient_id",
        )
        .bind(grantee_id);
        query_all(&self.db, "proxy_grants", query, patient_row).await
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let query = q("SELECT 1 FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2")
            .bind(grantee_id)
            .bind(patient_id);
        Ok(query_opt(&self.db, "proxy_grants", query, present)
            .await?
            .is_some())
    }

    // --- service switches ---

    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        let query = match enabled {
            Some(enabled) => q(
                "INSERT INTO practice_services (ods, service, enabled) VALUES ($1, $2, $3)
                 ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(ods)
            .bind(service)
            .bind(enabled),
            None => q("DELETE FROM practice_services WHERE ods = $1 AND service = $2")
                .bind(ods)
                .bind(service),
        };
        execute(&self.db, "practice_services", query).await?;
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        let query = match enabled {
            Some(enabled) => q(
                "INSERT INTO patient_services (patient_id, service, enabled) VALUES ($1, $2, $3)
                 ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(patient_id)
            .bind(service)
            .bind(enabled),
            None => q("DELETE FROM patient_services WHERE patient_id = $1 AND service = $2")
                .bind(patient_id)
                .bind(service),
        };
        execute(&self.db, "patient_services", query).await?;
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        let query =
            q("SELECT service, enabled FROM practice_services WHERE ods = $1 ORDER BY service")
                .bind(ods);
        query_all(&self.db, "practice_services", query, practice_switch_row).await
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        let query = q(
            "SELECT service, enabled FROM patient_services WHERE patient_id = $1
             ORDER BY service",
        )
        .bind(patient_id);
        query_all(&self.db, "patient_services", query, patient_switch_row).await
    }

    // --- sessions ---

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let query = q(
            "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                   selected_patient_id, created_at, last_seen_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&session.suid_hash)
        .bind(&session.provider_id)
        .bind(&session.account_id)
        .bind(&session.online_user_id)
        .bind(&session.selected_patient_id)
        .bind(ms(session.created_at))
        .bind(ms(session.last_seen_at))
        .bind(opt_ms(session.ended_at));
        execute(&self.db, "sessions", query).await?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let query = q(
            "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                    created_at, last_seen_at, ended_at
             FROM sessions WHERE suid_hash = $1",
        )
        .bind(suid_hash);
        query_opt(&self.db, "sessions", query, session_row).await
    }

    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
    ) -> StoreResult<Option<SessionContext>> {
        // One statement, so one round trip and one snapshot, for what every in-session request
        // needs first. Without a patient id the patient side of the row is all NULL.
        let query = q(
            "SELECT s.suid_hash, s.provider_id, s.account_id, s.online_user_id,
                    s.selected_patient_id, s.created_at, s.last_seen_at, s.ended_at,
                    p.id, p.name, p.fingerprint, p.trusted_identity, p.created_at, p.revoked_at,
                    t.id, t.ods, t.nhs_number, t.title, t.first_name, t.last_name,
                    to_char(t.date_of_birth, 'YYYY-MM-DD'), t.gender, t.address,
                    r.ods, r.name, r.address, r.settings::text,
                    ARRAY(SELECT CASE WHEN enabled THEN '+' ELSE '-' END || service
                          FROM practice_services WHERE ods = r.ods),
                    ARRAY(SELECT CASE WHEN enabled THEN '+' ELSE '-' END || service
                          FROM patient_services WHERE patient_id = t.id),
                    EXISTS (SELECT 1 FROM proxy_grants g
                            WHERE g.grantee_id = s.online_user_id AND g.patient_id = t.id)
             FROM sessions s
             JOIN providers p ON p.id = s.provider_id
             LEFT JOIN patients t ON t.id = $2
             LEFT JOIN practices r ON r.ods = t.ods
             WHERE s.suid_hash = $1",
        )
        .bind(suid_hash)
        .bind(patient_id);
        query_opt(&self.db, "sessions", query, session_context_row).await
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let query = q("UPDATE sessions
             SET last_seen_at = $2, selected_patient_id = COALESCE($3, selected_patient_id)
             WHERE suid_hash = $1")
        .bind(suid_hash)
        .bind(ms(at))
        .bind(selected_patient_id);
        execute(&self.db, "sessions", query).await?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let query =
            q("UPDATE sessions SET ended_at = $2 WHERE suid_hash = $1 AND ended_at IS NULL")
                .bind(suid_hash)
                .bind(ms(at));
        Ok(execute(&self.db, "sessions", query).await? > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let query =
            q("DELETE FROM sessions WHERE ended_at < $1 OR last_seen_at < $1").bind(ms(before));
        execute(&self.db, "sessions", query).await
    }

    // --- appointments ---

    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()> {
        let query = q("INSERT INTO appointment_sessions
                 (id, ods, session_type, staff_details, location, slot_type, start_ms,
                  slot_minutes, slot_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&session.id)
        .bind(&session.ods)
        .bind(&session.session_type)
        .bind(&session.staff_details)
        .bind(&session.location)
        .bind(&session.slot_type)
        .bind(ms(session.start))
        .bind(i64::from(session.slot_minutes))
        .bind(i64::from(session.slot_count));
        execute(&self.db, "appointment_sessions", query).await?;
        Ok(())
    }

    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>> {
        let query = q(select_appointment_sessions!("WHERE id = $1")).bind(id);
        query_opt(
            &self.db,
            "appointment_sessions",
            query,
            appointment_session_row,
        )
        .await
    }

    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>> {
        let query = q(select_appointment_sessions!(
            "WHERE ods = $1 AND start_ms >= $2 AND start_ms < $3 ORDER BY start_ms, id"
        ))
        .bind(ods)
        .bind(ms(from))
        .bind(ms(to));
        query_all(
            &self.db,
            "appointment_sessions",
            query,
            appointment_session_row,
        )
        .await
    }

    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        let query = q(select_appointments!(
            "JOIN appointment_sessions s ON s.id = a.session_id
             WHERE s.ods = $1 AND a.start_ms >= $2 AND a.start_ms < $3
               AND a.cancelled_at IS NULL
             ORDER BY a.start_ms, a.id"
        ))
        .bind(ods)
        .bind(ms(from))
        .bind(ms(to));
        query_all(&self.db, "appointments", query, appointment_row).await
    }

    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome> {
        // One round trip: the steps are in the function (migration 0003), which says why.
        let a = appointment;
        let query = q("SELECT pfs_book_appointment(
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(&a.id)
        .bind(&a.session_id)
        .bind(&a.patient_id)
        .bind(ms(a.start))
        .bind(ms(a.end))
        .bind(&a.notes)
        .bind(&a.booked_by)
        .bind(ms(a.booked_at))
        .bind(ms(now))
        .bind(i64::from(max_future));
        let query = bind_access(query, log);
        let outcome = query_opt(&self.db, "appointments", query, |row| {
            Cols::new(row, "appointments").get::<String>(0, "booking outcome")
        })
        .await?;
        match outcome.as_deref() {
            Some("booked") => Ok(BookOutcome::Booked),
            Some("slot_taken") => Ok(BookOutcome::SlotTaken),
            Some("limit_reached") => Ok(BookOutcome::LimitReached),
            Some("no_patient") => Err(StoreError::NotFound("patient".into())),
            Some("no_session") => Err(StoreError::NotFound("appointment session".into())),
            _ => Err(StoreError::Other(
                "appointments: unexpected booking outcome".into(),
            )),
        }
    }

    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>> {
        let query = q(select_appointments!("WHERE a.id = $1")).bind(id);
        query_opt(&self.db, "appointments", query, appointment_row).await
    }

    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
        let query = q(
            "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                    a.booked_by, a.booked_at, a.cancelled_at,
                    s.id, s.ods, s.session_type, s.staff_details, s.location, s.slot_type,
                    s.start_ms, s.slot_minutes, s.slot_count
             FROM appointments a JOIN appointment_sessions s ON s.id = a.session_id
             WHERE a.patient_id = $1 AND a.cancelled_at IS NULL
             ORDER BY a.start_ms, a.id",
        )
        .bind(patient_id);
        query_all(
            &self.db,
            "appointments",
            query,
            appointment_with_session_row,
        )
        .await
    }

    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        // One statement: the log entry is written only if an appointment was cancelled.
        let query = q("WITH cancelled AS (
                 UPDATE appointments SET cancelled_at = $2
                 WHERE id = $1 AND cancelled_at IS NULL
                 RETURNING patient_id
             )
             INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT $3, $4, $5, $6, $7, $8 FROM cancelled")
        .bind(id)
        .bind(ms(at));
        let query = bind_access(query, log);
        Ok(execute(&self.db, "appointments", query).await? > 0)
    }

    // --- record access log ---

    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()> {
        let query = q("INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             VALUES ($1, $2, $3, $4, $5, $6)");
        execute(&self.db, "record_accesses", bind_access(query, access)).await?;
        Ok(())
    }

    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>> {
        let query = q(
            "SELECT patient_id, at_ms, accessed_by, organisation, access_type, method
             FROM record_accesses
             WHERE patient_id = $1 AND at_ms >= $2 AND at_ms < $3
             ORDER BY at_ms, id",
        )
        .bind(patient_id)
        .bind(ms(from))
        .bind(ms(to));
        query_all(&self.db, "record_accesses", query, record_access_row).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        assert!(transient("08006")); // connection_failure
        assert!(transient("57P01")); // admin_shutdown
        assert!(transient("53300")); // too_many_connections
        assert!(transient("40001")); // serialization_failure
        assert!(transient("55000")); // database does not allow connections
        assert!(!transient("23505")); // unique_violation
        assert!(!transient("42601")); // syntax_error
    }

    #[test]
    fn unique_keys_read_like_sqlite() {
        assert_eq!(unique_key("providers_pkey"), Some("providers.id"));
        assert_eq!(
            unique_key("online_accounts_patient_id_key"),
            Some("online_accounts.patient_id")
        );
        assert_eq!(unique_key("something_else"), None);
    }

    #[test]
    fn bad_urls_are_not_echoed() {
        let err = connect_options("postgres://user:s3cret@[::1:5432/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(files, embedded, "list every file of migrations/postgres");
        for (i, (version, _, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1, "versions count up from 1");
        }
    }
}
