//! The PostgreSQL backend, on tokio-postgres.
//!
//! Each store (that is, each server instance) talks to the database over two kinds of
//! connection:
//!
//! * **Reads share a few pipelined connections** (default one). A read is a single `SELECT`,
//!   which under MVCC never waits for a lock, so concurrent requests can send their reads down
//!   one connection without waiting for each other's replies; the database backend then works
//!   through a queue instead of sleeping and being woken for every statement (measured against
//!   one pooled connection per read: docs/benchmarks.md).
//!   The session-context read that starts nearly every request goes further: the reads waiting
//!   at the same moment become one statement (see `batch.rs`).
//! * **Writes take a pooled connection of their own** (deadpool, default at most 16). A write
//!   may wait for a row lock and its commit waits for the disk, and neither should hold up the
//!   reads queued behind it. Nearly every write is one statement (a multi-step one is a single
//!   statement with data-modifying CTEs, or a PL/pgSQL function: booking in migration 0003,
//!   ordering medication in 0005). The exception is storing files, whose pages are many large
//!   rows written with what refers to them: those run in a client-side transaction
//!   ([`Db::transaction`]), and a connection left inside one, or grown by a large file
//!   (`Conn::retired`), is closed rather than pooled.
//!
//! Every connection gets the store's `statement_timeout` when it is opened, so a statement stuck
//! behind a lock fails with [`StoreError::Unavailable`] instead of holding a request forever,
//! and waiting for a connection is bounded by the acquire timeout. When the database cannot be
//! reached every call fails with [`StoreError::Unavailable`]; a broken connection is replaced by
//! the next call that needs it, so nothing needs restarting when the database is back.
//!
//! Statements are prepared once per connection and cached there by where their (static) SQL
//! text lies in the binary.
//!
//! The schema is the SQLite one ported (`migrations/postgres`): instants are BIGINT unix
//! milliseconds (UTC), booleans BOOLEAN, dates DATE, practice settings JSONB. Migrations are
//! applied by [`connect`] (and [`migrate`]) with sqlx's migrator, under its advisory lock, so
//! instances starting together do not race. Queries are static SQL with `$n` parameters and
//! rows are mapped by hand.
//!
//! [`migrate`]: fn@migrate

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::{Manager, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};
use futures_util::future::BoxFuture;
use pfs_core::store::*;
use sqlx_postgres::PgConnectOptions;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use self::migrate::migrate_with;
use self::sql::{map_err, present, query_opt};
use crate::timing::{StoreTimers, Timed};

mod access_log;
mod account;
mod account_info;
mod appointment;
mod batch;
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
pub mod tls;

pub use self::migrate::migrate;

/// The most session-context reads one store queues for the database; a read beyond them is
/// answered [`StoreError::Unavailable`] at once (see `batch.rs`).
pub const SESSION_CONTEXT_QUEUE: usize = batch::QUEUE_CAPACITY;

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
    /// The CA that signed the database server's certificate (PEM), for URLs that name none
    /// (`sslrootcert`); see [`tls`] for what each `sslmode` checks.
    pub ca_file: Option<PathBuf>,
    /// Where each read's and write's latency is recorded (default: nowhere). A batch of
    /// session-context reads is one read.
    pub timers: StoreTimers,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            read_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            ca_file: None,
            timers: StoreTimers::noop(),
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
    /// Patients bulk-inserted since this instance last refreshed the table's statistics
    /// (`patient.rs`, `insert_patients`).
    patients_since_analyze: Arc<std::sync::atomic::AtomicU64>,
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
    prepared: Mutex<HashMap<SqlText, Statement>>,
    /// Set while [`Db::transaction`] has a transaction open on it: a connection given back in
    /// that state (its request abandoned midway) is closed, never reused.
    in_transaction: AtomicBool,
    /// Set by a write that sent megabytes (a file): the driver keeps its buffers at their
    /// largest size for the connection's life, so such a connection is closed after use
    /// rather than kept in the pool holding them.
    retired: AtomicBool,
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
            .insert(SqlText::of(sql), st.clone());
        Ok(st)
    }

    /// Closes this connection once its current use ends, instead of returning it to the pool
    /// (see [`Conn::retired`]).
    fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    fn cached(&self, sql: &'static str) -> Option<Statement> {
        let prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        prepared.get(&SqlText::of(sql)).cloned()
    }
}

/// A statement's key in a connection's cache: the address and length of its static SQL text.
/// Hashing the text itself cost more than the rest of a batch's bookkeeping (the batched read
/// is several KB long); static memory never changes, so the same address and length is the
/// same text. (The same text at two addresses is prepared twice, which is harmless.)
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SqlText(usize, usize);

impl SqlText {
    fn of(sql: &'static str) -> SqlText {
        SqlText(sql.as_ptr().addr(), sql.len())
    }
}

/// Opens connections, each with the store's statement timeout, over TLS as the URL asks.
struct Connector {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
    statement_timeout_ms: u128,
}

/// Runs a connection's I/O on its own task; it ends (and the client reports closed) when the
/// connection breaks or the client is dropped.
fn drive(connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static) {
    tokio::spawn(async move {
        if connection.await.is_err() {
            tracing::debug!("a database connection closed with an error");
        }
    });
}

impl Connector {
    /// A new connection; `for_reads` for a shared read connection (see [`Db::reader`]).
    ///
    /// Boxed: connecting is rare, and its state (the driver's connect and TLS futures, over
    /// 8 KB) would otherwise be part of every read's and write's future, and be copied with it
    /// (docs/benchmarks.md, "Instructions per request").
    fn open(&self, for_reads: bool) -> BoxFuture<'_, Result<Conn, tokio_postgres::Error>> {
        Box::pin(self.connect(for_reads))
    }

    async fn connect(&self, for_reads: bool) -> Result<Conn, tokio_postgres::Error> {
        let client = match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                drive(connection);
                client
            }
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                drive(connection);
                client
            }
        };
        // No JIT: every statement here is a short indexed lookup or write, and generic plans
        // guess their row counts. A plan whose guessed cost passes `jit_above_cost` would be
        // compiled on every execution: 10-13 ms where the statement itself takes 0.1 ms
        // (docs/benchmarks.md, "PostgreSQL: no JIT").
        let mut sql = format!(
            "SET statement_timeout = {}; SET jit = off;",
            self.statement_timeout_ms
        );
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
            in_transaction: AtomicBool::new(false),
            retired: AtomicBool::new(false),
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
        if conn.in_transaction.load(Ordering::Acquire) {
            return Err(RecycleError::message("left inside a transaction"));
        }
        if conn.retired.load(Ordering::Acquire) {
            return Err(RecycleError::message("retired after a large write"));
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
    timers: StoreTimers,
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
        let _timed = Timed::start(&self.timers.read);
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
        let _timed = Timed::start(&self.timers.write);
        let conn = self.writers.get().await.map_err(|e| pool_error(table, e))?;
        let result = match tokio::time::timeout(self.answer_deadline, work(&conn)).await {
            Ok(answer) => answer.map_err(map_err(table)),
            Err(_) => Err(unanswered(table)),
        };
        if matches!(result, Err(StoreError::Unavailable(_))) || conn.retired.load(Ordering::Acquire)
        {
            drop(Object::take(conn));
        }
        result
    }
}

impl Db {
    /// Runs `work` inside one transaction on a pooled connection of its own: committed when
    /// `work` succeeds, rolled back when it fails. For the few writes that cannot be one
    /// statement: storing files, whose pages are many rows of many megabytes, with what refers
    /// to them.
    async fn transaction<T>(
        &self,
        table: &'static str,
        work: impl AsyncFnOnce(&Conn) -> Result<T, tokio_postgres::Error>,
    ) -> StoreResult<T> {
        self.write(table, async |c| {
            c.in_transaction.store(true, Ordering::Release);
            c.client.batch_execute("BEGIN").await?;
            let result = work(c).await;
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = c.client.batch_execute(end).await;
            if ended.is_ok() {
                c.in_transaction.store(false, Ordering::Release);
            }
            let value = result?;
            ended?;
            Ok(value)
        })
        .await
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

/// The migrations driver's settings for `url`, trusting `ca_file` when the URL names no CA.
fn connect_options(url: &str, ca_file: Option<&Path>) -> StoreResult<PgConnectOptions> {
    // The URL may carry a password: never echo it.
    let options =
        PgConnectOptions::from_str(url).map_err(|_| StoreError::Other(INVALID_URL.into()))?;
    Ok(match ca_file {
        Some(ca) if !url.contains("sslrootcert=") => options.ssl_root_cert(ca),
        _ => options,
    })
}

/// Opens the store on the database at `url`, after applying the migrations it has not had.
pub async fn connect(url: &str, opts: PostgresOptions) -> StoreResult<PostgresStore> {
    let ca_file = opts.ca_file.as_deref();
    let tls::Target { mut config, tls } = tls::target(url, ca_file)?;
    migrate_with(connect_options(url, ca_file)?, opts.acquire_timeout).await?;
    config.connect_timeout(opts.acquire_timeout);
    let connector = Arc::new(Connector {
        config,
        tls,
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
        timers: opts.timers,
    });
    tracing::debug!("postgres store open");
    Ok(PostgresStore {
        contexts: batch::ContextReads::start(db.clone()),
        db,
        patients_since_analyze: Default::default(),
    })
}

impl PostgresStore {
    /// How many write connections are open (in use or idle in the pool).
    pub fn open_write_connections(&self) -> usize {
        self.db.writers.status().size
    }

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.db.writers.close();
        for slot in &self.db.readers {
            slot.lock().await.take();
        }
    }
}

// --- the store ---------------------------------------------------------------------------------

#[async_trait]
impl HealthStore for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        query_opt(&self.db, "database", "SELECT 1", &[], present).await?;
        Ok(())
    }
}
