//! The PostgreSQL backend, on tokio-postgres.
//!
//! Each store (that is, each server instance) talks to the database over two kinds of
//! connection:
//!
//! * **Reads share a few pipelined connections** (default one). A read is a single `SELECT`,
//!   which under MVCC never waits for a lock, so concurrent requests can send their reads down
//!   one connection without waiting for each other's replies; the database backend then works
//!   through a queue instead of sleeping and being woken for every statement. On a 2-core
//!   machine this carried about 30% more reads per second than one pooled connection per read.
//!   The session-context read that starts nearly every request goes further: the reads waiting
//!   at the same moment become one statement (see `batch.rs`).
//! * **Writes take a pooled connection of their own** (deadpool, default at most 16). A write
//!   may wait for a row lock and its commit waits for the disk, and neither should hold up the
//!   reads queued behind it. Every write is one statement (a multi-step one is a single
//!   statement with data-modifying CTEs, or the booking function of migration 0003), so there
//!   are no client-side transactions to keep open.
//!
//! Every connection gets the store's `statement_timeout` when it is opened, so a statement stuck
//! behind a lock fails with [`StoreError::Unavailable`] instead of holding a request forever,
//! and waiting for a connection is bounded by the acquire timeout. When the database cannot be
//! reached every call fails with [`StoreError::Unavailable`]; a broken connection is replaced by
//! the next call that needs it, so nothing needs restarting when the database is back.
//!
//! Statements are prepared once per connection and cached there by their SQL text.
//!
//! The schema is the SQLite one ported (`migrations/postgres`): instants are BIGINT unix
//! milliseconds (UTC), booleans BOOLEAN, dates DATE, practice settings JSONB. Migrations are
//! applied by [`connect`] (and [`migrate`]) with sqlx's migrator, under its advisory lock, so
//! instances starting together do not race. Queries are static SQL with `$n` parameters and
//! rows are mapped by hand.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool::managed::{Manager, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};
use pfs_core::model::{
    Appointment, AppointmentSession, BookOutcome, LinkThrottle, LinkageKeyRecord, OnlineAccount,
    Patient, PatientContext, Practice, PracticeSettings, Prefetch, Provider, ProviderLink,
    RecordAccess, ServiceSwitch, SessionContext, SessionRecord,
};
use pfs_core::store::*;
use sqlx_core::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx_core::sql_str::SqlSafeStr;
use sqlx_postgres::{PgConnectOptions, PgPoolOptions};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, NoTls, Row, Statement};

/// The session-context statement, for any number of reads at once: `$1` the suid hashes,
/// `$2` the named patient ids (NULL for none), element by element. One row per session found:
/// the read's position in the arrays (`ord`, from 1), then session (1..9), provider (9..15),
/// the named patient (15..24, its id also named `named_id`; all NULL if not named or not
/// found), practice (24..28), the two switch lists and the proxy grant:
/// [`SESSION_CONTEXT_COLUMNS`] columns, read by `session_context_row`.
///
/// The `OFFSET 0` keeps the lateral subquery a subquery, so that it runs once per read with
/// index lookups whatever the planner guesses about the arrays' length.
macro_rules! session_contexts_sql {
    () => {
        "SELECT q.ord, c.*
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(suid_hash, patient_id, ord)
         CROSS JOIN LATERAL (
             SELECT s.suid_hash, s.provider_id, s.account_id, s.online_user_id,
                    s.selected_patient_id, s.created_at, s.last_seen_at, s.ended_at,
                    p.id, p.name, p.fingerprint, p.trusted_identity, p.created_at,
                    p.revoked_at,
                    t.id AS named_id, t.ods, t.nhs_number, t.title, t.first_name, t.last_name,
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
             LEFT JOIN patients t ON t.id = q.patient_id
             LEFT JOIN practices r ON r.ods = t.ods
             WHERE s.suid_hash = q.suid_hash
             OFFSET 0
         ) c"
    };
}

/// How many columns the session-context statement returns.
const SESSION_CONTEXT_COLUMNS: usize = 31;

/// The session-context statement with each named patient's live appointments joined on: one
/// row per appointment (its columns from [`SESSION_CONTEXT_COLUMNS`], then its session's), or
/// one with those columns all NULL. As above, `OFFSET 0` makes the appointments a lookup per
/// patient: left to itself, a plan made while the tables were small joined every live
/// appointment of every patient and filtered afterwards.
macro_rules! session_contexts_with_appointments_sql {
    () => {
        concat!(
            "SELECT c.*, b.*
             FROM (",
            session_contexts_sql!(),
            ") c
             LEFT JOIN LATERAL (
                 SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                        a.booked_by, a.booked_at, a.cancelled_at,
                        x.id, x.ods, x.session_type, x.staff_details, x.location, x.slot_type,
                        x.start_ms, x.slot_minutes, x.slot_count
                 FROM appointments a JOIN appointment_sessions x ON x.id = a.session_id
                 WHERE a.patient_id = c.named_id AND a.cancelled_at IS NULL
                 OFFSET 0
             ) b ON true"
        )
    };
}

mod batch;

/// The schema migrations, in order: `(version, description, SQL)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "appointments",
        include_str!("../../migrations/postgres/0002_appointments.sql"),
    ),
    (
        3,
        "booking_function",
        include_str!("../../migrations/postgres/0003_booking_function.sql"),
    ),
];

/// Tuning for [`connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Most pooled connections for writes per store, i.e. per server instance (default 16).
    pub max_connections: u32,
    /// Pipelined connections that all reads share, per store (default 1). One database backend
    /// then serves every read of the instance; raise this when that backend saturates a core.
    pub read_connections: u32,
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
            read_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Store`] in a PostgreSQL database.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct PostgresStore {
    db: Arc<Db>,
    contexts: batch::ContextReads,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("write_connections", &self.db.writers.status().size)
            .field("read_connections", &self.db.readers.len())
            .finish_non_exhaustive()
    }
}

/// One database connection and the statements prepared on it.
struct Conn {
    client: Client,
    prepared: Mutex<HashMap<&'static str, Statement>>,
}

impl Conn {
    /// `sql` prepared on this connection (the first use costs a round trip).
    async fn statement(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(st) = self.cached(sql) {
            return Ok(st);
        }
        let st = self.client.prepare(sql).await?;
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql, st.clone());
        Ok(st)
    }

    fn cached(&self, sql: &str) -> Option<Statement> {
        let prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        prepared.get(sql).cloned()
    }
}

/// Opens connections, each with the store's statement timeout.
struct Connector {
    config: tokio_postgres::Config,
    statement_timeout_ms: u128,
}

impl Connector {
    /// A new connection; `for_reads` for a shared read connection (see [`Db::reader`]).
    async fn open(&self, for_reads: bool) -> Result<Conn, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        // The connection's I/O runs on its own task; it ends (and the client reports closed)
        // when the connection breaks or the client is dropped.
        tokio::spawn(async move {
            if connection.await.is_err() {
                tracing::debug!("a database connection closed with an error");
            }
        });
        let mut sql = format!("SET statement_timeout = {};", self.statement_timeout_ms);
        if for_reads {
            // Reads are indexed lookups, planned once per connection. Without this the batched
            // session-context read would be re-planned on every call: its custom plans know
            // the arrays' length, and look far cheaper than a generic plan that must guess it.
            sql.push_str("SET plan_cache_mode = force_generic_plan;");
        }
        client.batch_execute(&sql).await?;
        Ok(Conn {
            client,
            prepared: Mutex::default(),
        })
    }
}

/// Opens and recycles the write connections.
struct WritePool(Arc<Connector>);

impl Manager for WritePool {
    type Type = Conn;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<Conn, tokio_postgres::Error> {
        self.0.open(false).await
    }

    async fn recycle(&self, conn: &mut Conn, _: &Metrics) -> RecycleResult<tokio_postgres::Error> {
        // No round trip: a broken connection shows as closed, and the driver finishes a
        // statement its caller abandoned before running the next one.
        if conn.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

/// The store's connections: shared pipelined ones for reads, a pool for writes.
struct Db {
    connector: Arc<Connector>,
    acquire_timeout: Duration,
    /// How long a statement's answer may take before its connection counts as broken: the
    /// statement timeout, which the database enforces itself, and a second for the network.
    answer_deadline: Duration,
    readers: Vec<tokio::sync::Mutex<Option<Arc<Conn>>>>,
    next_reader: AtomicUsize,
    writers: Pool<WritePool>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Db {
    /// A connection for a read: the next shared one (and its slot), reopened first if it broke.
    async fn reader(&self, table: &'static str) -> StoreResult<(usize, Arc<Conn>)> {
        if self.writers.is_closed() {
            return Err(StoreError::Unavailable("store closed".into()));
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut slot = self.readers[i].lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok((i, conn.clone()));
        }
        let conn = tokio::time::timeout(self.acquire_timeout, self.connector.open(true))
            .await
            .map_err(|_| timed_out(table))?
            .map_err(map_err(table))?;
        let conn = Arc::new(conn);
        *slot = Some(conn.clone());
        Ok((i, conn))
    }

    /// Runs a read on a shared connection. A connection that leaves a read unanswered past
    /// the deadline is replaced, so that one stalled connection cannot hold up every read.
    async fn read(
        &self,
        table: &'static str,
        sql: &'static str,
        params: Params<'_>,
    ) -> StoreResult<Vec<Row>> {
        let (i, conn) = self.reader(table).await?;
        let work = async {
            let st = conn.statement(sql).await?;
            conn.client.query(&st, params).await
        };
        match tokio::time::timeout(self.answer_deadline, work).await {
            Ok(answer) => answer.map_err(map_err(table)),
            Err(_) => {
                let mut slot = self.readers[i].lock().await;
                if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                    *slot = None;
                }
                Err(unanswered(table))
            }
        }
    }

    /// Runs `work` on a pooled connection of its own, which is closed rather than reused if the
    /// call failed as [`StoreError::Unavailable`] (unreachable, broken, timed out, unanswered).
    async fn write<T>(
        &self,
        table: &'static str,
        work: impl AsyncFnOnce(&Conn) -> Result<T, tokio_postgres::Error>,
    ) -> StoreResult<T> {
        let conn = self.writers.get().await.map_err(|e| pool_error(table, e))?;
        let result = match tokio::time::timeout(self.answer_deadline, work(&conn)).await {
            Ok(answer) => answer.map_err(map_err(table)),
            Err(_) => Err(unanswered(table)),
        };
        if matches!(result, Err(StoreError::Unavailable(_))) {
            drop(Object::take(conn));
        }
        result
    }
}

fn unanswered(table: &'static str) -> StoreError {
    StoreError::Unavailable(format!("{table}: the database did not answer in time"))
}

fn timed_out(table: &'static str) -> StoreError {
    StoreError::Unavailable(format!(
        "{table}: timed out waiting for a database connection"
    ))
}

fn pool_error(table: &'static str, e: PoolError<tokio_postgres::Error>) -> StoreError {
    match e {
        PoolError::Backend(e) => map_err(table)(e),
        PoolError::Timeout(_) => timed_out(table),
        PoolError::Closed => StoreError::Unavailable("store closed".into()),
        _ => StoreError::Unavailable(format!("{table}: no database connection")),
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

const INVALID_URL: &str = "database: invalid PostgreSQL URL";

fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    // The URL may carry a password: never echo it.
    PgConnectOptions::from_str(url).map_err(|_| StoreError::Other(INVALID_URL.into()))
}

/// Opens the store on the database at `url`, after applying the migrations it has not had.
pub async fn connect(url: &str, opts: PostgresOptions) -> StoreResult<PostgresStore> {
    migrate_with(connect_options(url)?, opts.acquire_timeout).await?;
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|_| StoreError::Other(INVALID_URL.into()))?;
    config.connect_timeout(opts.acquire_timeout);
    let connector = Arc::new(Connector {
        config,
        statement_timeout_ms: opts.statement_timeout.as_millis().max(1),
    });
    let writers = Pool::builder(WritePool(connector.clone()))
        .max_size(opts.max_connections.max(1) as usize)
        .wait_timeout(Some(opts.acquire_timeout))
        .create_timeout(Some(opts.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|_| StoreError::Other("database: cannot build the connection pool".into()))?;
    let readers = (0..opts.read_connections.max(1))
        .map(|_| tokio::sync::Mutex::new(None))
        .collect();
    let db = Arc::new(Db {
        connector,
        acquire_timeout: opts.acquire_timeout,
        answer_deadline: opts.statement_timeout + Duration::from_secs(1),
        readers,
        next_reader: AtomicUsize::new(0),
        writers,
    });
    tracing::debug!("postgres store open");
    Ok(PostgresStore {
        contexts: batch::ContextReads::start(db.clone()),
        db,
    })
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
        .map_err(migrate_err)?;
    let result = migrator().run(&pool).await.map_err(|e| match e {
        MigrateError::Execute(e) => migrate_err(e),
        MigrateError::VersionTooNew(v, _)
        | MigrateError::VersionMissing(v) => StoreError::Other(format!(
            "migrations: the database has migration {v}, which this build does not know (newer schema?)"
        )),
        MigrateError::VersionMismatch(v) => StoreError::Other(format!(
            "migrations: migration {v} was applied with different SQL"
        )),
        _ => StoreError::Other("migrations: cannot apply the PostgreSQL migrations".into()),
    });
    pool.close().await;
    result
}

/// Maps an sqlx error met while migrating. Like [`map_err`], the text never quotes PostgreSQL's
/// messages, which may contain values.
fn migrate_err(e: sqlx_core::Error) -> StoreError {
    match e {
        sqlx_core::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if transient(&code) {
                StoreError::Unavailable(format!("migrations: database error (SQLSTATE {code})"))
            } else {
                StoreError::Other(format!("migrations: database error (SQLSTATE {code})"))
            }
        }
        sqlx_core::Error::Io(_) | sqlx_core::Error::Tls(_) | sqlx_core::Error::Protocol(_) => {
            StoreError::Unavailable("migrations: cannot reach the database".into())
        }
        sqlx_core::Error::PoolTimedOut => timed_out("migrations"),
        _ => StoreError::Other("migrations: unexpected database error".into()),
    }
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

impl PostgresStore {
    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.db.writers.close();
        for slot in &self.db.readers {
            slot.lock().await.take();
        }
    }
}

// --- statements --------------------------------------------------------------------------------

/// The six fields of an access-log entry, in column order (patient_id, at_ms, accessed_by,
/// organisation, access_type, method), as owned parameter values.
struct AccessParams<'a> {
    access: &'a RecordAccess,
    at_ms: i64,
}

impl<'a> AccessParams<'a> {
    fn new(access: &'a RecordAccess) -> Self {
        AccessParams {
            access,
            at_ms: ms(access.at),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        let a = self.access;
        [
            &a.patient_id,
            &self.at_ms,
            &a.accessed_by,
            &a.organisation,
            &a.access_type,
            &a.method,
        ]
    }
}

async fn query_opt<T>(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
    map: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    db.read(table, sql, params)
        .await?
        .first()
        .map(map)
        .transpose()
}

async fn query_all<T>(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
    map: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    db.read(table, sql, params).await?.iter().map(map).collect()
}

/// Runs a write statement; the number of rows it changed.
async fn execute(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
) -> StoreResult<u64> {
    db.write(table, async |c| {
        let st = c.statement(sql).await?;
        c.client.execute(&st, params).await
    })
    .await
}

/// Runs an "end this row and its open sessions" statement (its `$1` the row's id, `$2` the
/// time, a row back if the row exists); false if there is no such row.
async fn ended(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let at = ms(at);
    db.write(table, async |c| {
        let st = c.statement(sql).await?;
        c.client.query_opt(&st, &[&id, &at]).await
    })
    .await
    .map(|row| row.is_some())
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
    row: &'r Row,
    table: &'static str,
    /// Where this table's columns start in the row (non-zero in joins).
    offset: usize,
}

impl<'r> Cols<'r> {
    fn new(row: &'r Row, table: &'static str) -> Self {
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
        T: for<'a> FromSql<'a>,
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

fn provider_row(row: &Row) -> StoreResult<Provider> {
    provider_at(row, 0)
}

/// A provider whose columns start at `offset` (after another table's, in a join).
fn provider_at(row: &Row, offset: usize) -> StoreResult<Provider> {
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

fn practice_row(row: &Row) -> StoreResult<Practice> {
    practice_at(row, 0)
}

fn practice_at(row: &Row, offset: usize) -> StoreResult<Practice> {
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

fn patient_row(row: &Row) -> StoreResult<Patient> {
    patient_at(row, 0)
}

fn patient_at(row: &Row, offset: usize) -> StoreResult<Patient> {
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

fn account_row(row: &Row) -> StoreResult<OnlineAccount> {
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

fn linkage_key_row(row: &Row) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get(0, "account_id")?,
        key_hash: c.get(1, "key_hash")?,
        issued_at: c.instant(2, "issued_at")?,
        expires_at: c.instant(3, "expires_at")?,
    })
}

fn provider_link_row(row: &Row) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get(0, "account_id")?,
        provider_id: c.get(1, "provider_id")?,
        passphrase_hash: c.get(2, "passphrase_hash")?,
        linked_at: c.instant(3, "linked_at")?,
    })
}

fn throttle_row(row: &Row) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get(0, "failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant(1, "locked_until")?,
    })
}

fn practice_switch_row(row: &Row) -> StoreResult<ServiceSwitch> {
    switch_row(row, "practice_services")
}

fn patient_switch_row(row: &Row) -> StoreResult<ServiceSwitch> {
    switch_row(row, "patient_services")
}

fn switch_row(row: &Row, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get(0, "service")?,
        enabled: c.get(1, "enabled")?,
    })
}

/// A row of the session-context statement (see `session_contexts_sql!`), without anything
/// prefetched.
fn session_context_row(row: &Row) -> StoreResult<SessionContext> {
    let c = Cols {
        offset: 1,
        ..Cols::new(row, "sessions")
    };
    let found: Option<String> = c.get(14, "patient id")?;
    let patient = match found {
        None => None,
        Some(_) => Some(PatientContext {
            patient: patient_at(row, 15)?,
            practice: practice_at(row, 24)?,
            practice_switches: switches(c.get(27, "practice switches")?)?,
            patient_switches: switches(c.get(28, "patient switches")?)?,
        }),
    };
    Ok(SessionContext {
        session: session_at(row, 1)?,
        provider: provider_at(row, 9)?,
        patient,
        proxy_grant: c.get(29, "proxy grant")?,
        appointments: None,
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

fn session_row(row: &Row) -> StoreResult<SessionRecord> {
    session_at(row, 0)
}

/// A session whose columns start at `offset`.
fn session_at(row: &Row, offset: usize) -> StoreResult<SessionRecord> {
    let c = Cols {
        offset,
        ..Cols::new(row, "sessions")
    };
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

fn appointment_session_row(row: &Row) -> StoreResult<AppointmentSession> {
    appointment_session_at(row, 0)
}

/// An appointment session whose columns start at `offset` (after another table's, in a join).
fn appointment_session_at(row: &Row, offset: usize) -> StoreResult<AppointmentSession> {
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

fn appointment_row(row: &Row) -> StoreResult<Appointment> {
    appointment_at(row, 0)
}

/// An appointment whose columns start at `offset` (after another table's, in a join).
fn appointment_at(row: &Row, offset: usize) -> StoreResult<Appointment> {
    let c = Cols {
        offset,
        ..Cols::new(row, "appointments")
    };
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
fn appointment_with_session_row(row: &Row) -> StoreResult<(Appointment, AppointmentSession)> {
    appointment_with_session_at(row, 0)
}

/// As [`appointment_with_session_row`], with the columns starting at `offset`.
fn appointment_with_session_at(
    row: &Row,
    offset: usize,
) -> StoreResult<(Appointment, AppointmentSession)> {
    Ok((
        appointment_at(row, offset)?,
        appointment_session_at(row, offset + 9)?,
    ))
}

/// Puts a patient's appointments in the order the store promises: by start, then id. (Sorted
/// here rather than by an ORDER BY: the database's sort node allocated enough to make its
/// allocator grow and trim the heap on every call, a tenth of its time.)
fn sort_appointments(all: &mut [(Appointment, AppointmentSession)]) {
    all.sort_by(|(a, _), (b, _)| (a.start, &a.id).cmp(&(b.start, &b.id)));
}

fn record_access_row(row: &Row) -> StoreResult<RecordAccess> {
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

fn present(_: &Row) -> StoreResult<()> {
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

/// Maps a driver error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys, error kinds and SQLSTATEs only: PostgreSQL's messages may
/// quote values, so none is passed on.
fn map_err(table: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        if let Some(db) = e.as_db_error() {
            return match db.code().code() {
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
            };
        }
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io {
            StoreError::Unavailable(format!("{table}: cannot reach the database"))
        } else {
            // Encoding a parameter, decoding a column, or a protocol surprise.
            StoreError::Other(format!("{table}: unexpected database error"))
        }
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
impl HealthStore for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        query_opt(&self.db, "database", "SELECT 1", &[], present).await?;
        Ok(())
    }
}

#[async_trait]
impl ProviderStore for PostgresStore {
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        execute(
            &self.db,
            "providers",
            "INSERT INTO providers
                 (id, name, fingerprint, trusted_identity, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &provider.id,
                &provider.name,
                &provider.fingerprint,
                &provider.trusted_identity,
                &ms(provider.created_at),
                &opt_ms(provider.revoked_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        query_opt(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE id = $1",
            &[&id],
            provider_row,
        )
        .await
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        query_opt(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE fingerprint = $1",
            &[&fingerprint],
            provider_row,
        )
        .await
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        query_all(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers ORDER BY created_at, id",
            &[],
            provider_row,
        )
        .await
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        // One statement, so the provider and its open sessions end together.
        let sql = "WITH ended AS (
                 UPDATE providers SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1
                 RETURNING id
             ), closed AS (
                 UPDATE sessions SET ended_at = $2
                 WHERE provider_id IN (SELECT id FROM ended) AND ended_at IS NULL
             )
             SELECT 1 FROM ended";
        ended(&self.db, "providers", sql, id, at).await
    }
}

#[async_trait]
impl PracticeStore for PostgresStore {
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        execute(
            &self.db,
            "practices",
            "INSERT INTO practices (ods, name, address, settings)
             VALUES ($1, $2, $3, $4::text::jsonb)",
            &[
                &practice.ods,
                &practice.name,
                &practice.address,
                &settings_json(&practice.settings)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        query_opt(
            &self.db,
            "practices",
            "SELECT ods, name, address, settings::text FROM practices WHERE ods = $1",
            &[&ods],
            practice_row,
        )
        .await
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        query_all(
            &self.db,
            "practices",
            "SELECT ods, name, address, settings::text FROM practices ORDER BY ods",
            &[],
            practice_row,
        )
        .await
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "practices",
            "UPDATE practices SET settings = $2::text::jsonb WHERE ods = $1",
            &[&ods, &settings_json(settings)?],
        )
        .await?
            > 0)
    }
}

#[async_trait]
impl PatientStore for PostgresStore {
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        execute(
            &self.db,
            "patients",
            "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                   date_of_birth, gender, address)
             VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9)",
            &[
                &patient.id,
                &patient.ods,
                &patient.nhs_number,
                &patient.title,
                &patient.first_name,
                &patient.last_name,
                &date_text(patient.date_of_birth),
                &patient.gender,
                &patient.address,
            ],
        )
        .await?;
        Ok(())
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        query_opt(
            &self.db,
            "patients",
            "SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE id = $1",
            &[&id],
            patient_row,
        )
        .await
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        query_opt(
            &self.db,
            "patients",
            "SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE nhs_number = $1",
            &[&nhs_number],
            patient_row,
        )
        .await
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        match ods {
            Some(ods) => {
                let sql = "SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients WHERE ods = $1 ORDER BY id";
                query_all(&self.db, "patients", sql, &[&ods], patient_row).await
            }
            None => {
                let sql = "SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients ORDER BY id";
                query_all(&self.db, "patients", sql, &[], patient_row).await
            }
        }
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        execute(
            &self.db,
            "online_accounts",
            "INSERT INTO online_accounts
                 (id, patient_id, email, mobile, created_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &account.id,
                &account.patient_id,
                &account.email,
                &account.mobile,
                &ms(account.created_at),
                &opt_ms(account.ended_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        query_opt(
            &self.db,
            "online_accounts",
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE id = $1",
            &[&id],
            account_row,
        )
        .await
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        query_opt(
            &self.db,
            "online_accounts",
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE patient_id = $1",
            &[&patient_id],
            account_row,
        )
        .await
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        // One statement, so the account and its open sessions end together.
        let sql = "WITH ended AS (
                 UPDATE online_accounts SET ended_at = COALESCE(ended_at, $2) WHERE id = $1
                 RETURNING id
             ), closed AS (
                 UPDATE sessions SET ended_at = $2
                 WHERE account_id IN (SELECT id FROM ended) AND ended_at IS NULL
             )
             SELECT 1 FROM ended";
        ended(&self.db, "online_accounts", sql, id, at).await
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        execute(
            &self.db,
            "linkage_keys",
            "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id) DO UPDATE SET
                 key_hash = excluded.key_hash,
                 issued_at = excluded.issued_at,
                 expires_at = excluded.expires_at",
            &[
                &key.account_id,
                &key.key_hash,
                &ms(key.issued_at),
                &ms(key.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        query_opt(
            &self.db,
            "linkage_keys",
            "SELECT account_id, key_hash, issued_at, expires_at
             FROM linkage_keys WHERE account_id = $1",
            &[&account_id],
            linkage_key_row,
        )
        .await
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        execute(
            &self.db,
            "provider_links",
            "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 passphrase_hash = excluded.passphrase_hash,
                 linked_at = excluded.linked_at",
            &[
                &link.account_id,
                &link.provider_id,
                &link.passphrase_hash,
                &ms(link.linked_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        query_opt(
            &self.db,
            "provider_links",
            "SELECT account_id, provider_id, passphrase_hash, linked_at
             FROM provider_links WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
            provider_link_row,
        )
        .await
    }

    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>> {
        query_opt(
            &self.db,
            "link_throttles",
            "SELECT failures, locked_until
             FROM link_throttles WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
            throttle_row,
        )
        .await
    }

    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()> {
        execute(
            &self.db,
            "link_throttles",
            "INSERT INTO link_throttles (account_id, provider_id, failures, locked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 failures = excluded.failures,
                 locked_until = excluded.locked_until",
            &[
                &account_id,
                &provider_id,
                &i64::from(throttle.failures),
                &opt_ms(throttle.locked_until),
            ],
        )
        .await?;
        Ok(())
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        execute(
            &self.db,
            "link_throttles",
            "DELETE FROM link_throttles WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ProxyStore for PostgresStore {
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        execute(
            &self.db,
            "proxy_grants",
            "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES ($1, $2, $3)
             ON CONFLICT (grantee_id, patient_id) DO NOTHING",
            &[&grantee_id, &patient_id, &ms(at)],
        )
        .await?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "proxy_grants",
            "DELETE FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2",
            &[&grantee_id, &patient_id],
        )
        .await?
            > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        query_all(
            &self.db,
            "proxy_grants",
            "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
                    to_char(p.date_of_birth, 'YYYY-MM-DD'), p.gender, p.address
             FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
             WHERE g.grantee_id = $1 AND g.patient_id <> g.grantee_id
             ORDER BY g.patient_id",
            &[&grantee_id],
            patient_row,
        )
        .await
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        Ok(query_opt(
            &self.db,
            "proxy_grants",
            "SELECT 1 FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2",
            &[&grantee_id, &patient_id],
            present,
        )
        .await?
        .is_some())
    }
}

#[async_trait]
impl ServiceStore for PostgresStore {
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        match enabled {
            Some(enabled) => {
                let sql =
                    "INSERT INTO practice_services (ods, service, enabled) VALUES ($1, $2, $3)
                     ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled";
                execute(
                    &self.db,
                    "practice_services",
                    sql,
                    &[&ods, &service, &enabled],
                )
                .await?
            }
            None => {
                let sql = "DELETE FROM practice_services WHERE ods = $1 AND service = $2";
                execute(&self.db, "practice_services", sql, &[&ods, &service]).await?
            }
        };
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        match enabled {
            Some(enabled) => {
                let sql = "INSERT INTO patient_services (patient_id, service, enabled) VALUES ($1, $2, $3)
                     ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled";
                execute(
                    &self.db,
                    "patient_services",
                    sql,
                    &[&patient_id, &service, &enabled],
                )
                .await?
            }
            None => {
                let sql = "DELETE FROM patient_services WHERE patient_id = $1 AND service = $2";
                execute(&self.db, "patient_services", sql, &[&patient_id, &service]).await?
            }
        };
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        query_all(
            &self.db,
            "practice_services",
            "SELECT service, enabled FROM practice_services WHERE ods = $1 ORDER BY service",
            &[&ods],
            practice_switch_row,
        )
        .await
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        query_all(
            &self.db,
            "patient_services",
            "SELECT service, enabled FROM patient_services WHERE patient_id = $1
             ORDER BY service",
            &[&patient_id],
            patient_switch_row,
        )
        .await
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        execute(
            &self.db,
            "sessions",
            "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                   selected_patient_id, created_at, last_seen_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &session.suid_hash,
                &session.provider_id,
                &session.account_id,
                &session.online_user_id,
                &session.selected_patient_id,
                &ms(session.created_at),
                &ms(session.last_seen_at),
                &opt_ms(session.ended_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        query_opt(
            &self.db,
            "sessions",
            "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                    created_at, last_seen_at, ended_at
             FROM sessions WHERE suid_hash = $1",
            &[&suid_hash],
            session_row,
        )
        .await
    }

    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>> {
        // Read together with whatever other requests are waiting (see `batch`).
        self.contexts.read(suid_hash, patient_id, prefetch).await
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        execute(
            &self.db,
            "sessions",
            "UPDATE sessions
             SET last_seen_at = $2, selected_patient_id = COALESCE($3, selected_patient_id)
             WHERE suid_hash = $1",
            &[&suid_hash, &ms(at), &selected_patient_id],
        )
        .await?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "sessions",
            "UPDATE sessions SET ended_at = $2 WHERE suid_hash = $1 AND ended_at IS NULL",
            &[&suid_hash, &ms(at)],
        )
        .await?
            > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        execute(
            &self.db,
            "sessions",
            "DELETE FROM sessions WHERE ended_at < $1 OR last_seen_at < $1",
            &[&ms(before)],
        )
        .await
    }
}

#[async_trait]
impl AppointmentStore for PostgresStore {
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()> {
        execute(
            &self.db,
            "appointment_sessions",
            "INSERT INTO appointment_sessions
                 (id, ods, session_type, staff_details, location, slot_type, start_ms,
                  slot_minutes, slot_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &session.id,
                &session.ods,
                &session.session_type,
                &session.staff_details,
                &session.location,
                &session.slot_type,
                &ms(session.start),
                &i64::from(session.slot_minutes),
                &i64::from(session.slot_count),
            ],
        )
        .await?;
        Ok(())
    }

    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>> {
        query_opt(
            &self.db,
            "appointment_sessions",
            select_appointment_sessions!("WHERE id = $1"),
            &[&id],
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
        query_all(
            &self.db,
            "appointment_sessions",
            select_appointment_sessions!(
                "WHERE ods = $1 AND start_ms >= $2 AND start_ms < $3 ORDER BY start_ms, id"
            ),
            &[&ods, &ms(from), &ms(to)],
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
        query_all(
            &self.db,
            "appointments",
            select_appointments!(
                "JOIN appointment_sessions s ON s.id = a.session_id
             WHERE s.ods = $1 AND a.start_ms >= $2 AND a.start_ms < $3
               AND a.cancelled_at IS NULL
             ORDER BY a.start_ms, a.id"
            ),
            &[&ods, &ms(from), &ms(to)],
            appointment_row,
        )
        .await
    }

    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome> {
        // One round trip: the steps are in the function (migration 0003), which says why.
        let sql = "SELECT pfs_book_appointment(
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        let a = appointment;
        let (start, end, booked_at, now) = (ms(a.start), ms(a.end), ms(a.booked_at), ms(now));
        let max_future = i64::from(max_future);
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &a.id,
            &a.session_id,
            &a.patient_id,
            &start,
            &end,
            &a.notes,
            &a.booked_by,
            &booked_at,
            &now,
            &max_future,
        ];
        params.extend(log.params());
        let outcome: String = self
            .db
            .write("appointments", async |c| {
                let st = c.statement(sql).await?;
                c.client.query_one(&st, &params).await?.try_get(0)
            })
            .await?;
        match outcome.as_str() {
            "booked" => Ok(BookOutcome::Booked),
            "slot_taken" => Ok(BookOutcome::SlotTaken),
            "limit_reached" => Ok(BookOutcome::LimitReached),
            "no_patient" => Err(StoreError::NotFound("patient".into())),
            "no_session" => Err(StoreError::NotFound("appointment session".into())),
            _ => Err(StoreError::Other(
                "appointments: unexpected booking outcome".into(),
            )),
        }
    }

    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>> {
        let sql = select_appointments!("WHERE a.id = $1");
        query_opt(&self.db, "appointments", sql, &[&id], appointment_row).await
    }

    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
        let sql = "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                    a.booked_by, a.booked_at, a.cancelled_at,
                    s.id, s.ods, s.session_type, s.staff_details, s.location, s.slot_type,
                    s.start_ms, s.slot_minutes, s.slot_count
             FROM appointments a JOIN appointment_sessions s ON s.id = a.session_id
             WHERE a.patient_id = $1 AND a.cancelled_at IS NULL";
        let mut all = query_all(
            &self.db,
            "appointments",
            sql,
            &[&patient_id],
            appointment_with_session_row,
        )
        .await?;
        sort_appointments(&mut all);
        Ok(all)
    }

    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        // One statement: the log entry is written only if an appointment was cancelled.
        let sql = "WITH cancelled AS (
                 UPDATE appointments SET cancelled_at = $8
                 WHERE id = $7 AND cancelled_at IS NULL
                 RETURNING patient_id
             )
             INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT $1, $2, $3, $4, $5, $6 FROM cancelled";
        let at = ms(at);
        let log = AccessParams::new(log);
        let mut params = log.params().to_vec();
        params.extend([&id as &(dyn ToSql + Sync), &at]);
        Ok(execute(&self.db, "appointments", sql, &params).await? > 0)
    }
}

#[async_trait]
impl AccessLogStore for PostgresStore {
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()> {
        let sql = "INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             VALUES ($1, $2, $3, $4, $5, $6)";
        let access = AccessParams::new(access);
        execute(&self.db, "record_accesses", sql, &access.params()).await?;
        Ok(())
    }

    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>> {
        let sql = "SELECT patient_id, at_ms, accessed_by, organisation, access_type, method
             FROM record_accesses
             WHERE patient_id = $1 AND at_ms >= $2 AND at_ms < $3
             ORDER BY at_ms, id";
        let params: Params = &[&patient_id, &ms(from), &ms(to)];
        query_all(&self.db, "record_accesses", sql, params, record_access_row).await
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
