//! The embedded SQLite backend, on rusqlite.
//!
//! One database file in WAL mode. Every write goes through one writer connection behind an
//! async mutex, so writers queue without holding a runtime thread; reads take a connection
//! from a small pool of query-only connections. Statements run inline on the calling task:
//! a point read on a warm page cache costs microseconds, far less than handing it to another
//! thread and back. Every statement is prepared once per connection and cached.
//!
//! The file belongs to this process while it is open: connections use SQLite's `unix-excl`
//! VFS, which takes an exclusive lock on the database for the process (its own connections
//! share it) and keeps the WAL index in memory rather than in a `-shm` file. A read
//! transaction then begins without a system call, and the store can keep copies of hot rows
//! that no other process can change behind its back (the `hot` module). Another process (a second
//! server, the `sqlite3` shell) opening the file meanwhile is told that it is locked.
//!
//! Instants are stored as INTEGER unix milliseconds (UTC), so anything finer than a
//! millisecond is truncated; dates as `YYYY-MM-DD` text; practice settings as a JSON
//! document. The schema lives in `migrations/sqlite` and is applied by [`SqliteStore::open`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use pfs_core::store::*;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::timing::{StoreTimers, Timed};
use migrate::migrate;
use sql::{ReadTx, map_err, present, query_opt};

mod access_log;
mod account;
mod account_info;
mod appointment;
mod binary_data;
mod demographics;
mod fault;
mod hot;
mod medication;
mod messaging;
mod migrate;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod service;
mod session;
mod sql;
#[cfg(test)]
mod tests;

/// Prepared statements kept per connection; more than the store has.
const STATEMENT_CACHE: usize = 64;

/// SQLite's unix VFS with an exclusive lock for the process and the WAL index on the heap
/// (see the module's documentation).
pub const VFS: &std::ffi::CStr = c"unix-excl";

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
    /// Where each read's and write's latency is recorded (default: nowhere).
    pub timers: StoreTimers,
    /// How far a committed write is on disk before the commit returns (default
    /// [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
}

/// SQLite's `synchronous` setting for the writer connection, in WAL mode: what a committed
/// transaction survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `NORMAL`: a commit appends to the WAL without waiting for the disk; the WAL is synced
    /// at each checkpoint. Every committed transaction survives a crash of the process; an
    /// operating-system crash or power loss can roll back the transactions committed since the
    /// last sync (the database stays consistent either way).
    #[default]
    Normal,
    /// `FULL`: every commit also waits for the WAL to reach the disk (one fsync per commit),
    /// so committed transactions survive a power loss too.
    Full,
}

impl Synchronous {
    /// The pragma's value.
    pub fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl std::str::FromStr for Synchronous {
    type Err = String;

    /// `normal` or `full`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            _ => Err(format!("expected normal or full, not {s:?}")),
        }
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
            timers: StoreTimers::noop(),
            synchronous: Synchronous::Normal,
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
    timers: StoreTimers,
    /// Copies of hot rows, and the write generation that keeps them exact.
    hot: hot::HotRows,
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
    /// Connections use WAL journaling, enforced foreign keys and the busy timeout from `opts`;
    /// the writer connection has `synchronous` as `opts` says; read connections are
    /// `query_only`.
    pub async fn open(path: &Path, opts: SqliteOptions) -> StoreResult<SqliteStore> {
        let mut writer = open_writer(path, opts.busy_timeout, opts.synchronous)?;
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
                timers: opts.timers,
                hot: hot::HotRows::default(),
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
        let _timed = Timed::start(&self.inner.timers.read);
        let conn = self.inner.readers.get()?;
        f(conn.conn())
    }

    /// Runs `f` on a read connection inside one read transaction: one snapshot for several
    /// statements (`what` names the table errors are reported against).
    fn snapshot<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.read(|c| {
            let tx = ReadTx::begin(c).map_err(map_err(what))?;
            let out = f(c)?;
            tx.end().map_err(map_err(what))?;
            Ok(out)
        })
    }

    /// Runs `f` on the writer connection once it is free, inline; afterwards (whatever `f`
    /// did, even if it panicked) the copies of hot rows taken before are out of date.
    async fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        /// Moves the generation on when the write is over, however it ends.
        struct MoveOn<'a>(&'a hot::HotRows);
        impl Drop for MoveOn<'_> {
            fn drop(&mut self) {
                self.0.moved_on();
            }
        }
        let _moved = MoveOn(&self.inner.hot);
        self.write_bookkeeping(f).await
    }

    /// [`SqliteStore::write`] for writes that touch no table behind the hot rows (providers,
    /// patients, practices, service switches): the access log and session bookkeeping, which
    /// run many times a second and would otherwise empty the copies each time.
    async fn write_bookkeeping<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _timed = Timed::start(&self.inner.timers.write);
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
fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    synchronous: Synchronous,
) -> StoreResult<Connection> {
    let err = map_err("database");
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        VFS,
    )
    .map_err(&err)?;
    conn.busy_timeout(busy_timeout).map_err(&err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            // The first statement takes the file's lock: another process has it.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable(
                    "database: the file is locked by another process \
                     (another pfs serve on this data directory?)"
                        .into(),
                )
            }
            _ => err(e),
        })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other(
            "database: cannot switch to WAL journaling".into(),
        ));
    }
    conn.pragma_update(None, "synchronous", synchronous.pragma_value())
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
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        VFS,
    )
    .map_err(&err)?;
    conn.busy_timeout(busy_timeout).map_err(&err)?;
    conn.pragma_update(None, "query_only", "ON").map_err(&err)?;
    tune(&conn).map_err(&err)?;
    Ok(conn)
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
