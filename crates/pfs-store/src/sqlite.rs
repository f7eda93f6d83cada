//! The embedded SQLite backend, on rusqlite.
//!
//! One database file in WAL mode. Every write goes through one writer connection behind an
//! async mutex, so writers queue without holding a runtime thread; reads take a connection
//! from a small pool of query-only connections. Statements run inline on the calling task:
//! a point read on a warm page cache costs microseconds, far less than handing it to another
//! thread and back. Every statement is prepared once per connection and cached.
//!
//! Instants are stored as INTEGER unix milliseconds (UTC), so anything finer than a
//! millisecond is truncated; dates as `YYYY-MM-DD` text; practice settings as a JSON
//! document. The schema lives in `migrations/sqlite` and is applied by [`SqliteStore::open`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::{
    Appointment, AppointmentSession, BookOutcome, LinkThrottle, LinkageKeyRecord, OnlineAccount,
    Patient, PatientContext, Practice, PracticeSettings, Prefetch, Provider, ProviderLink,
    RecordAccess, ServiceSwitch, SessionContext, SessionRecord,
};
use pfs_core::store::*;
use rusqlite::config::DbConfig;
use rusqlite::types::FromSql;
use rusqlite::{Connection, OpenFlags, Params, Row, TransactionBehavior, ffi, params};

/// The schema migrations, in order: `(version, file name, SQL)`. Versions count up from 1 and
/// match the file names' numeric prefixes; the database's `PRAGMA user_version` is the last
/// one applied.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_initial.sql",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "0002_appointments.sql",
        include_str!("../migrations/sqlite/0002_appointments.sql"),
    ),
];

/// Prepared statements kept per connection; more than the store has.
const STATEMENT_CACHE: usize = 64;

/// Tuning for [`SqliteStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Most pooled read connections (default 8; at least 1 is used). Writes use one more
    /// connection of their own. A read that finds every pooled connection busy opens a
    /// temporary one rather than wait.
    pub max_connections: u32,
    /// How long a statement waits for another connection's (or process's) lock before failing
    /// with [`StoreError::Unavailable`] (default 5 s).
    pub busy_timeout: Duration,
    /// How long a write waits for the writer connection, while other writes hold it, before
    /// failing with [`StoreError::Unavailable`] (default 30 s).
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`Store`] in one SQLite database file.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The one connection every write uses; `None` once closed.
    writer: tokio::sync::Mutex<Option<Connection>>,
    /// How long a write waits for `writer`.
    acquire_timeout: Duration,
    readers: Readers,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.readers.path)
            .field("max_readers", &self.inner.readers.max)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and brings its schema up to date.
    ///
    /// Connections use WAL journaling, `synchronous = NORMAL`, enforced foreign keys and the
    /// busy timeout from `opts`; read connections are `query_only`.
    pub async fn open(path: &Path, opts: SqliteOptions) -> StoreResult<SqliteStore> {
        let mut writer = open_writer(path, opts.busy_timeout)?;
        migrate(&mut writer)?;
        let readers = Readers {
            path: path.to_owned(),
            busy_timeout: opts.busy_timeout,
            max: usize::try_from(opts.max_connections.max(1)).unwrap_or(usize::MAX),
            state: Mutex::new(ReaderState::default()),
        };
        // Open one reader now, so a file that cannot be read fails here rather than later.
        drop(readers.get()?);
        tracing::debug!(path = %path.display(), "sqlite store open");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: tokio::sync::Mutex::new(Some(writer)),
                acquire_timeout: opts.acquire_timeout,
                readers,
            }),
        })
    }

    /// Closes every idle connection, waits for a write in progress, then closes the writer
    /// (checkpointing the WAL). A read in progress closes its connection when it finishes.
    ///
    /// Later calls on this store, or any clone of it, fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        let idle = {
            let mut state = self.inner.readers.state();
            state.closed = true;
            state.open -= state.idle.len();
            std::mem::take(&mut state.idle)
        };
        drop(idle);
        let writer = self.inner.writer.lock().await.take();
        if let Some(conn) = writer
            && let Err((_, e)) = conn.close()
        {
            tracing::warn!(error = %map_err("database")(e), "closing the sqlite store");
        }
    }

    /// Runs `f` on a read connection, inline.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.inner.readers.get()?;
        f(conn.conn())
    }

    /// Runs `f` on the writer connection once it is free, inline.
    async fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let writer = &self.inner.writer;
        let mut guard = match writer.try_lock() {
            Ok(guard) => guard,
            Err(_) => tokio::time::timeout(self.inner.acquire_timeout, writer.lock())
                .await
                .map_err(|_| {
                    StoreError::Unavailable("timed out waiting for the writer connection".into())
                })?,
        };
        let conn = guard.as_mut().ok_or_else(closed)?;
        f(conn)
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("store closed".into())
}

// --- connections -------------------------------------------------------------------------------

/// Opens the writer connection, creating the file, and switches the database to WAL.
fn open_writer(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let err = map_err("database");
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(busy_timeout).map_err(&err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other(
            "database: cannot switch to WAL journaling".into(),
        ));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(&err)?;
    tune(&conn).map_err(&err)?;
    Ok(conn)
}

/// Settings every connection gets.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans must not depend on bound values: otherwise SQLite marks some cached statements
    // (e.g. proxy_patients, through constant propagation) to be re-prepared, parsing and
    // planning anew, every time a parameter is bound.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Opens a read connection to the (existing) database.
fn open_reader(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let err = map_err("database");
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(busy_timeout).map_err(&err)?;
    conn.pragma_update(None, "query_only", "ON").map_err(&err)?;
    tune(&conn).map_err(&err)?;
    Ok(conn)
}

/// Applies the migrations the database has not had, all in one transaction.
///
/// A database written by the earlier sqlx-based store records its migrations in
/// `_sqlx_migrations` instead of `user_version`; those count as applied.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let err = map_err("migrations");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let mut version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(&err)?;
    if version == 0 {
        let sqlx: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                                WHERE type = 'table' AND name = '_sqlx_migrations')",
                [],
                |row| row.get(0),
            )
            .map_err(&err)?;
        if sqlx {
            let applied: Option<i64> = tx
                .query_row(
                    "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                    [],
                    |row| row.get(0),
                )
                .map_err(&err)?;
            version = applied.unwrap_or(0);
        }
    }
    let known = MIGRATIONS.last().map_or(0, |(v, _, _)| i64::from(*v));
    if version > known {
        return Err(StoreError::Other(format!(
            "migrations: the database has schema version {version}, newer than this build's {known}"
        )));
    }
    for (v, name, sql) in MIGRATIONS {
        if i64::from(*v) <= version {
            continue;
        }
        tx.execute_batch(sql).map_err(&err)?;
        tracing::info!(migration = name, "applied sqlite migration");
    }
    tx.pragma_update(None, "user_version", known)
        .map_err(&err)?;
    tx.commit().map_err(&err)
}

/// The pool of read connections.
struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    /// Most pooled connections.
    max: usize,
    state: Mutex<ReaderState>,
}

#[derive(Default)]
struct ReaderState {
    /// Pooled connections not in use.
    idle: Vec<Connection>,
    /// Pooled connections open, idle or in use.
    open: usize,
    closed: bool,
}

impl Readers {
    fn state(&self) -> MutexGuard<'_, ReaderState> {
        // Nothing panics while holding the lock; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle pooled connection, else a new one: pooled while fewer than `max` are open,
    /// temporary (closed after use) otherwise.
    fn get(&self) -> StoreResult<Reader<'_>> {
        let pooled = {
            let mut state = self.state();
            if state.closed {
                return Err(closed());
            }
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(conn),
                    pooled: true,
                });
            }
            let pooled = state.open < self.max;
            if pooled {
                state.open += 1;
            }
            pooled
        };
        match open_reader(&self.path, self.busy_timeout) {
            Ok(conn) => Ok(Reader {
                pool: self,
                conn: Some(conn),
                pooled,
            }),
            Err(e) => {
                if pooled {
                    self.state().open -= 1;
                }
                Err(e)
            }
        }
    }
}

/// A read connection in use; goes back to the pool on drop.
struct Reader<'p> {
    pool: &'p Readers,
    conn: Option<Connection>,
    pooled: bool,
}

impl Reader<'_> {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !self.pooled {
            return;
        }
        let mut state = self.pool.state();
        if state.closed {
            state.open -= 1;
            drop(state);
            drop(conn);
        } else {
            state.idle.push(conn);
        }
    }
}

// --- statements --------------------------------------------------------------------------------

/// Runs a query expected to return at most one row.
fn query_opt<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let err = map_err(table);
    let mut stmt = conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params).map_err(&err)?;
    match rows.next().map_err(&err)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a query and maps every row.
fn query_all<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let err = map_err(table);
    let mut stmt = conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs a statement; returns how many rows it changed.
fn execute(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
) -> StoreResult<usize> {
    let err = map_err(table);
    conn.prepare_cached(sql)
        .map_err(&err)?
        .execute(params)
        .map_err(&err)
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

/// Typed, error-mapped column access for one row of one table. Columns are read by position
/// (the order of the SELECT list); the name is for error texts.
struct Cols<'a, 'r> {
    row: &'a Row<'r>,
    table: &'static str,
    /// Where this table's columns start in the row (non-zero in joins).
    offset: usize,
}

impl<'a, 'r> Cols<'a, 'r> {
    fn new(row: &'a Row<'r>, table: &'static str) -> Self {
        Cols {
            row,
            table,
            offset: 0,
        }
    }

    fn corrupt(&self, column: &str, what: &str) -> StoreError {
        StoreError::Other(format!("{}.{column}: {what}", self.table))
    }

    fn get<T: FromSql>(&self, idx: usize, column: &'static str) -> StoreResult<T> {
        self.row
            .get(idx + self.offset)
            .map_err(|_| self.corrupt(column, "cannot decode"))
    }

    fn text(&self, idx: usize, column: &'static str) -> StoreResult<&'a str> {
        self.row
            .get_ref(idx + self.offset)
            .ok()
            .and_then(|v| v.as_str().ok())
            .ok_or_else(|| self.corrupt(column, "cannot decode"))
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
        NaiveDate::parse_from_str(self.text(idx, column)?, "%Y-%m-%d")
            .map_err(|_| self.corrupt(column, "not a date"))
    }
}

fn provider_row(row: &Row<'_>) -> StoreResult<Provider> {
    provider_at(row, 0)
}

/// A provider whose columns start at `offset` (after another table's, in a join).
fn provider_at(row: &Row<'_>, offset: usize) -> StoreResult<Provider> {
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

fn practice_row(row: &Row<'_>) -> StoreResult<Practice> {
    let c = Cols::new(row, "practices");
    Ok(Practice {
        ods: c.get(0, "ods")?,
        name: c.get(1, "name")?,
        address: c.get(2, "address")?,
        settings: serde_json::from_str(c.text(3, "settings")?)
            .map_err(|_| c.corrupt("settings", "not valid settings JSON"))?,
    })
}

fn settings_json(settings: &PracticeSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|_| StoreError::Other("practices.settings: cannot encode".into()))
}

fn patient_row(row: &Row<'_>) -> StoreResult<Patient> {
    let c = Cols::new(row, "patients");
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

fn account_row(row: &Row<'_>) -> StoreResult<OnlineAccount> {
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

fn linkage_key_row(row: &Row<'_>) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get(0, "account_id")?,
        key_hash: c.get(1, "key_hash")?,
        issued_at: c.instant(2, "issued_at")?,
        expires_at: c.instant(3, "expires_at")?,
    })
}

fn provider_link_row(row: &Row<'_>) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get(0, "account_id")?,
        provider_id: c.get(1, "provider_id")?,
        passphrase_hash: c.get(2, "passphrase_hash")?,
        linked_at: c.instant(3, "linked_at")?,
    })
}

fn throttle_row(row: &Row<'_>) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get(0, "failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant(1, "locked_until")?,
    })
}

fn practice_switch_row(row: &Row<'_>) -> StoreResult<ServiceSwitch> {
    switch_row(row, "practice_services")
}

fn patient_switch_row(row: &Row<'_>) -> StoreResult<ServiceSwitch> {
    switch_row(row, "patient_services")
}

fn switch_row(row: &Row<'_>, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get(0, "service")?,
        enabled: c.get(1, "enabled")?,
    })
}

/// The patient, their practice and the service switches that apply to them (see
/// [`PatientContext`]).
fn read_patient_context(c: &Connection, patient_id: &str) -> StoreResult<Option<PatientContext>> {
    let Some(patient) = query_opt(
        c,
        "patients",
        "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                address
         FROM patients WHERE id = ?1",
        [patient_id],
        patient_row,
    )?
    else {
        return Ok(None);
    };
    let Some(practice) = query_opt(
        c,
        "practices",
        "SELECT ods, name, address, settings FROM practices WHERE ods = ?1",
        [&patient.ods],
        practice_row,
    )?
    else {
        return Ok(None);
    };
    let practice_switches = query_all(
        c,
        "practice_services",
        "SELECT service, enabled FROM practice_services WHERE ods = ?1 ORDER BY service",
        [&practice.ods],
        practice_switch_row,
    )?;
    let patient_switches = query_all(
        c,
        "patient_services",
        "SELECT service, enabled FROM patient_services WHERE patient_id = ?1
         ORDER BY service",
        [&patient.id],
        patient_switch_row,
    )?;
    Ok(Some(PatientContext {
        patient,
        practice,
        practice_switches,
        patient_switches,
    }))
}

/// Appends an entry to a patient's access log.
fn insert_record_access(c: &Connection, access: &RecordAccess) -> StoreResult<()> {
    execute(
        c,
        "record_accesses",
        "INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type,
                                      method)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            access.patient_id,
            ms(access.at),
            access.accessed_by,
            access.organisation,
            access.access_type,
            access.method,
        ],
    )?;
    Ok(())
}

/// A patient's live appointments with their sessions, by start then id.
fn read_patient_appointments(
    c: &Connection,
    patient_id: &str,
) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
    query_all(
        c,
        "appointments",
        "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                a.booked_by, a.booked_at, a.cancelled_at,
                s.id, s.ods, s.session_type, s.staff_details, s.location, s.slot_type,
                s.start_ms, s.slot_minutes, s.slot_count
         FROM appointments a JOIN appointment_sessions s ON s.id = a.session_id
         WHERE a.patient_id = ?1 AND a.cancelled_at IS NULL
         ORDER BY a.start_ms, a.id",
        [patient_id],
        appointment_with_session_row,
    )
}

/// Whether `grantee_id` holds a proxy grant for `patient_id`.
fn read_has_proxy(c: &Connection, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
    let found = query_opt(
        c,
        "proxy_grants",
        "SELECT 1 FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2",
        [grantee_id, patient_id],
        present,
    )?;
    Ok(found.is_some())
}

fn session_with_provider_row(row: &Row<'_>) -> StoreResult<(SessionRecord, Provider)> {
    Ok((session_row(row)?, provider_at(row, 8)?))
}

fn session_row(row: &Row<'_>) -> StoreResult<SessionRecord> {
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

fn appointment_session_row(row: &Row<'_>) -> StoreResult<AppointmentSession> {
    appointment_session_at(row, 0)
}

/// An appointment session whose columns start at `offset` (after another table's, in a join).
fn appointment_session_at(row: &Row<'_>, offset: usize) -> StoreResult<AppointmentSession> {
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

fn appointment_row(row: &Row<'_>) -> StoreResult<Appointment> {
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
fn appointment_with_session_row(row: &Row<'_>) -> StoreResult<(Appointment, AppointmentSession)> {
    Ok((appointment_row(row)?, appointment_session_at(row, 9)?))
}

fn record_access_row(row: &Row<'_>) -> StoreResult<RecordAccess> {
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

/// Marks row `id` of `table` ended (an earlier time is kept, `mark` uses `COALESCE`) and ends
/// its open sessions, in one transaction; false if there is no such row.
fn end_with_sessions(
    c: &mut Connection,
    table: &'static str,
    mark: &str,
    end_sessions: &str,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let err = map_err(table);
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    if execute(&tx, table, mark, params![id, ms(at)])? == 0 {
        return Ok(false);
    }
    execute(&tx, "sessions", end_sessions, params![id, ms(at)])?;
    tx.commit().map_err(&err)?;
    Ok(true)
}

fn present(_: &Row<'_>) -> StoreResult<()> {
    Ok(())
}

fn count_row(row: &Row<'_>) -> StoreResult<i64> {
    Cols::new(row, "appointments").get(0, "count")
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

/// SQLite primary result codes after which retrying later may work.
fn transient(code: i64) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    const PROTOCOL: i64 = 15;
    matches!(
        code & 0xff,
        BUSY | LOCKED | IOERR | FULL | CANTOPEN | PROTOCOL
    )
}

/// The key named by SQLite's `UNIQUE constraint failed: t.a, t.b`, if it names only columns.
fn unique_key(message: &str) -> Option<&str> {
    let key = message.split_once("failed: ")?.1.trim();
    let identifier_only = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | ' '));
    identifier_only.then_some(key)
}

/// Maps a rusqlite error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys and error kinds only. SQLite's own messages qualify (every value
/// is a bound parameter, and its messages quote SQL, not parameters); other rusqlite errors are
/// reduced to a fixed label because their texts may carry data.
fn map_err(table: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e {
        rusqlite::Error::SqliteFailure(err, message) => match err.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreError::Conflict(
                    message
                        .as_deref()
                        .and_then(unique_key)
                        .unwrap_or(table)
                        .to_owned(),
                )
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound(referenced(table).to_owned()),
            code => {
                let text = match message {
                    Some(message) => format!("{table}: {message} (code {code})"),
                    None => format!("{table}: {err} (code {code})"),
                };
                if transient(i64::from(code)) {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Other(text)
                }
            }
        },
        rusqlite::Error::QueryReturnedNoRows => {
            StoreError::Other(format!("{table}: row not found"))
        }
        rusqlite::Error::InvalidColumnIndex(_)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::QueryReturnedMoreThanOneRow
        | rusqlite::Error::ExecuteReturnedResults => {
            StoreError::Other(format!("{table}: unexpected result shape"))
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => {
            StoreError::Other(format!("{table}: cannot decode a column"))
        }
        rusqlite::Error::ToSqlConversionFailure(_) | rusqlite::Error::NulError(_) => {
            StoreError::Other(format!("{table}: cannot encode a value"))
        }
        rusqlite::Error::InvalidPath(_) => {
            StoreError::Unavailable(format!("{table}: invalid path"))
        }
        _ => StoreError::Other(format!("{table}: unexpected database error")),
    }
}

const APPOINTMENT_SESSION_COLUMNS: &str =
    "id, ods, session_type, staff_details, location, slot_type,
     start_ms, slot_minutes, slot_count";

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

/// The patients a grantee may act for (not themselves). A constant for a test: it is the
/// statement SQLite re-prepares on every bind unless the QPSG is on.
const PROXY_PATIENTS: &str = "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
            p.date_of_birth, p.gender, p.address
     FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
     WHERE g.grantee_id = ?1 AND g.patient_id <> g.grantee_id
     ORDER BY g.patient_id";

// --- the store ---------------------------------------------------------------------------------

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            query_opt(c, "database", "SELECT 1", [], present)?;
            Ok(())
        })
    }
}

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "providers",
                "INSERT INTO providers (id, name, fingerprint, trusted_identity, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    provider.id,
                    provider.name,
                    provider.fingerprint,
                    provider.trusted_identity,
                    ms(provider.created_at),
                    opt_ms(provider.revoked_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        self.read(|c| {
            query_opt(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers WHERE id = ?1",
                [id],
                provider_row,
            )
        })
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        self.read(|c| {
            query_opt(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers WHERE fingerprint = ?1",
                [fingerprint],
                provider_row,
            )
        })
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        self.read(|c| {
            query_all(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers ORDER BY created_at, id",
                [],
                provider_row,
            )
        })
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|c| {
            end_with_sessions(
                c,
                "providers",
                "UPDATE providers SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                "UPDATE sessions SET ended_at = ?2 WHERE provider_id = ?1 AND ended_at IS NULL",
                id,
                at,
            )
        })
        .await
    }
}

#[async_trait]
impl PracticeStore for SqliteStore {
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        let settings = settings_json(&practice.settings)?;
        self.write(|c| {
            execute(
                c,
                "practices",
                "INSERT INTO practices (ods, name, address, settings) VALUES (?1, ?2, ?3, ?4)",
                params![practice.ods, practice.name, practice.address, settings],
            )
        })
        .await?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        self.read(|c| {
            query_opt(
                c,
                "practices",
                "SELECT ods, name, address, settings FROM practices WHERE ods = ?1",
                [ods],
                practice_row,
            )
        })
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        self.read(|c| {
            query_all(
                c,
                "practices",
                "SELECT ods, name, address, settings FROM practices ORDER BY ods",
                [],
                practice_row,
            )
        })
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        let settings = settings_json(settings)?;
        let changed = self
            .write(|c| {
                execute(
                    c,
                    "practices",
                    "UPDATE practices SET settings = ?2 WHERE ods = ?1",
                    params![ods, settings],
                )
            })
            .await?;
        Ok(changed > 0)
    }
}

#[async_trait]
impl PatientStore for SqliteStore {
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "patients",
                "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                       date_of_birth, gender, address)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    patient.id,
                    patient.ods,
                    patient.nhs_number,
                    patient.title,
                    patient.first_name,
                    patient.last_name,
                    date_text(patient.date_of_birth),
                    patient.gender,
                    patient.address,
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        self.read(|c| {
            query_opt(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                        address
                 FROM patients WHERE id = ?1",
                [id],
                patient_row,
            )
        })
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        self.read(|c| {
            query_opt(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                        address
                 FROM patients WHERE nhs_number = ?1",
                [nhs_number],
                patient_row,
            )
        })
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        self.read(|c| match ods {
            Some(ods) => query_all(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                        gender, address
                 FROM patients WHERE ods = ?1 ORDER BY id",
                [ods],
                patient_row,
            ),
            None => query_all(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                        gender, address
                 FROM patients ORDER BY id",
                [],
                patient_row,
            ),
        })
    }

    async fn patient_context(&self, patient_id: &str) -> StoreResult<Option<PatientContext>> {
        self.read(|c| {
            // One read transaction for the four reads: one snapshot, one lock round.
            let tx = c.unchecked_transaction().map_err(map_err("patients"))?;
            read_patient_context(&tx, patient_id)
        })
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "online_accounts",
                "INSERT INTO online_accounts (id, patient_id, email, mobile, created_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    account.id,
                    account.patient_id,
                    account.email,
                    account.mobile,
                    ms(account.created_at),
                    opt_ms(account.ended_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        self.read(|c| {
            query_opt(
                c,
                "online_accounts",
                "SELECT id, patient_id, email, mobile, created_at, ended_at
                 FROM online_accounts WHERE id = ?1",
                [id],
                account_row,
            )
        })
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        self.read(|c| {
            query_opt(
                c,
                "online_accounts",
                "SELECT id, patient_id, email, mobile, created_at, ended_at
                 FROM online_accounts WHERE patient_id = ?1",
                [patient_id],
                account_row,
            )
        })
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|c| {
            end_with_sessions(
                c,
                "online_accounts",
                "UPDATE online_accounts SET ended_at = COALESCE(ended_at, ?2) WHERE id = ?1",
                "UPDATE sessions SET ended_at = ?2 WHERE account_id = ?1 AND ended_at IS NULL",
                id,
                at,
            )
        })
        .await
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "linkage_keys",
                "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id) DO UPDATE SET
                     key_hash = excluded.key_hash,
                     issued_at = excluded.issued_at,
                     expires_at = excluded.expires_at",
                params![
                    key.account_id,
                    key.key_hash,
                    ms(key.issued_at),
                    ms(key.expires_at)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        self.read(|c| {
            query_opt(
                c,
                "linkage_keys",
                "SELECT account_id, key_hash, issued_at, expires_at
                 FROM linkage_keys WHERE account_id = ?1",
                [account_id],
                linkage_key_row,
            )
        })
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "provider_links",
                "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, provider_id) DO UPDATE SET
                     passphrase_hash = excluded.passphrase_hash,
                     linked_at = excluded.linked_at",
                params![
                    link.account_id,
                    link.provider_id,
                    link.passphrase_hash,
                    ms(link.linked_at)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        self.read(|c| {
            query_opt(
                c,
                "provider_links",
                "SELECT account_id, provider_id, passphrase_hash, linked_at
                 FROM provider_links WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
                provider_link_row,
            )
        })
    }

    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>> {
        self.read(|c| {
            query_opt(
                c,
                "link_throttles",
                "SELECT failures, locked_until
                 FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
                throttle_row,
            )
        })
    }

    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "link_throttles",
                "INSERT INTO link_throttles (account_id, provider_id, failures, locked_until)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, provider_id) DO UPDATE SET
                     failures = excluded.failures,
                     locked_until = excluded.locked_until",
                params![
                    account_id,
                    provider_id,
                    i64::from(throttle.failures),
                    opt_ms(throttle.locked_until)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "link_throttles",
                "DELETE FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
            )
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ProxyStore for SqliteStore {
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        self.write(|c| {
            execute(
                c,
                "proxy_grants",
                "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (grantee_id, patient_id) DO NOTHING",
                params![grantee_id, patient_id, ms(at)],
            )
        })
        .await?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let changed = self
            .write(|c| {
                execute(
                    c,
                    "proxy_grants",
                    "DELETE FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2",
                    [grantee_id, patient_id],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        self.read(|c| query_all(c, "proxy_grants", PROXY_PATIENTS, [grantee_id], patient_row))
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        self.read(|c| read_has_proxy(c, grantee_id, patient_id))
    }
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        self.write(|c| match enabled {
            Some(enabled) => execute(
                c,
                "practice_services",
                "INSERT INTO practice_services (ods, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled",
                params![ods, service, enabled],
            ),
            None => execute(
                c,
                "practice_services",
                "DELETE FROM practice_services WHERE ods = ?1 AND service = ?2",
                [ods, service],
            ),
        })
        .await?;
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        self.write(|c| match enabled {
            Some(enabled) => execute(
                c,
                "patient_services",
                "INSERT INTO patient_services (patient_id, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled",
                params![patient_id, service, enabled],
            ),
            None => execute(
                c,
                "patient_services",
                "DELETE FROM patient_services WHERE patient_id = ?1 AND service = ?2",
                [patient_id, service],
            ),
        })
        .await?;
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        self.read(|c| {
            query_all(
                c,
                "practice_services",
                "SELECT service, enabled FROM practice_services WHERE ods = ?1 ORDER BY service",
                [ods],
                practice_switch_row,
            )
        })
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        self.read(|c| {
            query_all(
                c,
                "patient_services",
                "SELECT service, enabled FROM patient_services WHERE patient_id = ?1
                 ORDER BY service",
                [patient_id],
                patient_switch_row,
            )
        })
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "sessions",
                "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                       selected_patient_id, created_at, last_seen_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    session.suid_hash,
                    session.provider_id,
                    session.account_id,
                    session.online_user_id,
                    session.selected_patient_id,
                    ms(session.created_at),
                    ms(session.last_seen_at),
                    opt_ms(session.ended_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            query_opt(
                c,
                "sessions",
                "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                        created_at, last_seen_at, ended_at
                 FROM sessions WHERE suid_hash = ?1",
                [suid_hash],
                session_row,
            )
        })
    }

    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>> {
        self.read(|c| {
            let tx = c.unchecked_transaction().map_err(map_err("sessions"))?;
            let Some((session, provider)) = query_opt(
                &tx,
                "sessions",
                "SELECT s.suid_hash, s.provider_id, s.account_id, s.online_user_id,
                        s.selected_patient_id, s.created_at, s.last_seen_at, s.ended_at,
                        p.id, p.name, p.fingerprint, p.trusted_identity, p.created_at, p.revoked_at
                 FROM sessions s JOIN providers p ON p.id = s.provider_id
                 WHERE s.suid_hash = ?1",
                [suid_hash],
                session_with_provider_row,
            )?
            else {
                return Ok(None);
            };
            let (patient, proxy_grant) = match patient_id {
                None => (None, false),
                Some(id) => (
                    read_patient_context(&tx, id)?,
                    read_has_proxy(&tx, &session.online_user_id, id)?,
                ),
            };
            let appointments = match (&patient, prefetch) {
                (Some(p), Prefetch::Appointments) => {
                    Some(read_patient_appointments(&tx, &p.patient.id)?)
                }
                _ => None,
            };
            Ok(Some(SessionContext {
                session,
                provider,
                patient,
                proxy_grant,
                appointments,
            }))
        })
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "sessions",
                "UPDATE sessions
                 SET last_seen_at = ?2, selected_patient_id = COALESCE(?3, selected_patient_id)
                 WHERE suid_hash = ?1",
                params![suid_hash, ms(at), selected_patient_id],
            )
        })
        .await?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .write(|c| {
                execute(
                    c,
                    "sessions",
                    "UPDATE sessions SET ended_at = ?2 WHERE suid_hash = ?1 AND ended_at IS NULL",
                    params![suid_hash, ms(at)],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let deleted = self
            .write(|c| {
                execute(
                    c,
                    "sessions",
                    "DELETE FROM sessions WHERE ended_at < ?1 OR last_seen_at < ?1",
                    [ms(before)],
                )
            })
            .await?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}

#[async_trait]
impl AppointmentStore for SqliteStore {
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "appointment_sessions",
                "INSERT INTO appointment_sessions (id, ods, session_type, staff_details, location,
                                                  slot_type, start_ms, slot_minutes, slot_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    session.id,
                    session.ods,
                    session.session_type,
                    session.staff_details,
                    session.location,
                    session.slot_type,
                    ms(session.start),
                    i64::from(session.slot_minutes),
                    i64::from(session.slot_count),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>> {
        self.read(|c| {
            query_opt(
                c,
                "appointment_sessions",
                &format!(
                    "SELECT {APPOINTMENT_SESSION_COLUMNS} FROM appointment_sessions WHERE id = ?1"
                ),
                [id],
                appointment_session_row,
            )
        })
    }

    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>> {
        self.read(|c| {
            query_all(
                c,
                "appointment_sessions",
                &format!(
                    "SELECT {APPOINTMENT_SESSION_COLUMNS} FROM appointment_sessions
                     WHERE ods = ?1 AND start_ms >= ?2 AND start_ms < ?3
                     ORDER BY start_ms, id"
                ),
                params![ods, ms(from), ms(to)],
                appointment_session_row,
            )
        })
    }

    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        self.read(|c| {
            query_all(
                c,
                "appointments",
                select_appointments!(
                    "JOIN appointment_sessions s ON s.id = a.session_id
                     WHERE s.ods = ?1 AND a.start_ms >= ?2 AND a.start_ms < ?3
                       AND a.cancelled_at IS NULL
                     ORDER BY a.start_ms, a.id"
                ),
                params![ods, ms(from), ms(to)],
                appointment_row,
            )
        })
    }

    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome> {
        let a = appointment;
        self.write(|c| {
            let err = map_err("appointments");
            // The writer connection already serialises writes; IMMEDIATE also keeps another
            // process's writer out between the count and the insert.
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let session = query_opt(
                &tx,
                "appointment_sessions",
                "SELECT 1 FROM appointment_sessions WHERE id = ?1",
                [&a.session_id],
                present,
            )?;
            if session.is_none() {
                return Err(StoreError::NotFound("appointment session".into()));
            }
            let patient = query_opt(
                &tx,
                "patients",
                "SELECT 1 FROM patients WHERE id = ?1",
                [&a.patient_id],
                present,
            )?;
            if patient.is_none() {
                return Err(StoreError::NotFound("patient".into()));
            }
            let future = query_opt(
                &tx,
                "appointments",
                "SELECT count(*) FROM appointments
                 WHERE patient_id = ?1 AND start_ms > ?2 AND cancelled_at IS NULL",
                params![a.patient_id, ms(now)],
                count_row,
            )?
            .unwrap_or(0);
            if future >= i64::from(max_future) {
                return Ok(BookOutcome::LimitReached);
            }
            // A live appointment in the slot makes this insert nothing.
            let inserted = execute(
                &tx,
                "appointments",
                "INSERT INTO appointments (id, session_id, patient_id, start_ms, end_ms, notes,
                                           booked_by, booked_at, cancelled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (session_id, start_ms) WHERE cancelled_at IS NULL DO NOTHING",
                params![
                    a.id,
                    a.session_id,
                    a.patient_id,
                    ms(a.start),
                    ms(a.end),
                    a.notes,
                    a.booked_by,
                    ms(a.booked_at),
                    opt_ms(a.cancelled_at),
                ],
            )?;
            if inserted == 0 {
                return Ok(BookOutcome::SlotTaken);
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(&err)?;
            Ok(BookOutcome::Booked)
        })
        .await
    }

    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>> {
        self.read(|c| {
            query_opt(
                c,
                "appointments",
                select_appointments!("WHERE a.id = ?1"),
                [id],
                appointment_row,
            )
        })
    }

    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
        self.read(|c| read_patient_appointments(c, patient_id))
    }

    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err("appointments"))?;
            let changed = execute(
                &tx,
                "appointments",
                "UPDATE appointments SET cancelled_at = ?2
                 WHERE id = ?1 AND cancelled_at IS NULL",
                params![id, ms(at)],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("appointments"))?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl AccessLogStore for SqliteStore {
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()> {
        self.write(|c| insert_record_access(c, access)).await
    }

    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>> {
        self.read(|c| {
            query_all(
                c,
                "record_accesses",
                "SELECT patient_id, at_ms, accessed_by, organisation, access_type, method
                 FROM record_accesses
                 WHERE patient_id = ?1 AND at_ms >= ?2 AND at_ms < ?3
                 ORDER BY at_ms, id",
                params![patient_id, ms(from), ms(to)],
                record_access_row,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    #[test]
    fn unique_key_names_columns_only() {
        assert_eq!(
            unique_key("UNIQUE constraint failed: providers.fingerprint"),
            Some("providers.fingerprint")
        );
        assert_eq!(
            unique_key(
                "UNIQUE constraint failed: proxy_grants.grantee_id, proxy_grants.patient_id"
            ),
            Some("proxy_grants.grantee_id, proxy_grants.patient_id")
        );
        assert_eq!(unique_key("UNIQUE constraint failed: index 'x'"), None);
        assert_eq!(unique_key("something else"), None);
    }

    #[test]
    fn transient_codes() {
        assert!(transient(5)); // SQLITE_BUSY
        assert!(transient(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(transient(266)); // SQLITE_IOERR_READ
        assert!(!transient(1)); // SQLITE_ERROR
        assert!(!transient(2067)); // SQLITE_CONSTRAINT_UNIQUE
    }

    #[test]
    fn instants_are_milliseconds() {
        let at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ms(at), 1_740_823_200_123);
        assert_eq!(
            date_text(NaiveDate::from_ymd_opt(1987, 6, 5).unwrap()),
            "1987-06-05"
        );
    }

    #[test]
    fn binding_new_values_does_not_reprepare() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pfs.sqlite3");
        let mut writer = open_writer(&path, Duration::from_secs(1)).unwrap();
        migrate(&mut writer).unwrap();
        let reader = open_reader(&path, Duration::from_secs(1)).unwrap();
        for conn in [&writer, &reader] {
            for grantee in ["1000001", "1000002", "1000003"] {
                query_all(conn, "proxy_grants", PROXY_PATIENTS, [grantee], patient_row).unwrap();
            }
            let stmt = conn.prepare_cached(PROXY_PATIENTS).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        }
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<&str> = MIGRATIONS.iter().map(|(_, name, _)| *name).collect();
        assert_eq!(
            files, embedded,
            "list every file of migrations/sqlite in MIGRATIONS"
        );
        for (i, (version, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1, "{name}: versions count up from 1");
            let prefix: u32 = name
                .split('_')
                .next()
                .unwrap()
                .parse()
                .expect("numeric prefix");
            assert_eq!(prefix, *version, "{name}: the version is the file's prefix");
        }
    }
}
