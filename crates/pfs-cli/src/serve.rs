//! `pfs serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use pfs_core::ClockOffset;
use pfs_core::clock::describe_offset;
use pfs_server::{ServeOptions, start};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Options of `pfs serve` (each also from the environment).
#[derive(clap::Args)]
pub struct Args {
    /// Data directory: database, certificates, keys, demo credentials.
    #[arg(long, env = "PFS_DATA_DIR", default_value = "pfs-data")]
    data_dir: PathBuf,
    /// PFS endpoint address (port 0 picks a free port).
    #[arg(long, env = "PFS_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Admin API address.
    #[arg(long, env = "PFS_ADMIN_LISTEN", default_value = "127.0.0.1:8444")]
    admin_listen: SocketAddr,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "PFS_IDLE_TIMEOUT_MINUTES", default_value_t = 20)]
    idle_timeout_minutes: i64,
    /// Hours after which any session ends.
    #[arg(long, env = "PFS_SESSION_LIFETIME_HOURS", default_value_t = 12)]
    session_lifetime_hours: i64,
    /// Days a linkage key stays valid.
    #[arg(long, env = "PFS_LINKAGE_KEY_DAYS", default_value_t = 14)]
    linkage_key_days: i64,
    /// Largest request body in bytes.
    #[arg(long, env = "PFS_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// Milliseconds a request's headers may take to arrive; also how long an idle keep-alive
    /// connection stays open (both listeners).
    #[arg(long, env = "PFS_HEADER_TIMEOUT_MS", default_value_t = 30_000)]
    header_timeout_ms: u64,
    /// Milliseconds a whole request (headers and body) may take to arrive, from its first byte
    /// (both listeners); a late PFS body gets 9001 and the connection is closed.
    #[arg(long, env = "PFS_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Connections the PFS listener holds at once (TLS handshakes included); more wait in the
    /// kernel's accept queue.
    #[arg(long, env = "PFS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Requests of one provider served at once; more get 9008.
    #[arg(long, env = "PFS_MAX_IN_FLIGHT_PER_PROVIDER", default_value_t = 64)]
    max_in_flight_per_provider: usize,
    /// On SIGTERM or Ctrl-C, milliseconds to let requests in progress finish before every
    /// connection still open is closed.
    #[arg(long, env = "PFS_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    drain_timeout_ms: u64,
    /// Database: a PostgreSQL URL (`postgres://user:password@host:5432/db`) shared by any
    /// number of instances; without it, SQLite in the data directory.
    #[arg(long, env = "PFS_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Database connections in the pool: SQLite read connections (default 8; writes use one
    /// more, dedicated connection), or PostgreSQL write connections of this instance (default
    /// 16).
    #[arg(long, env = "PFS_DB_CONNECTIONS")]
    db_connections: Option<u32>,
    /// SQLite: `normal` (a committed write survives a crash of the process) or `full` (it also
    /// survives a power loss, at the cost of an fsync per commit).
    #[arg(long, env = "PFS_SQLITE_SYNCHRONOUS", default_value = "normal",
          value_parser = clap::builder::TypedValueParser::try_map(
              clap::builder::PossibleValuesParser::new(["normal", "full"]),
              |s| s.parse::<pfs_store::Synchronous>()))]
    sqlite_synchronous: pfs_store::Synchronous,
    /// PostgreSQL: pipelined connections that this instance's reads share.
    #[arg(long, env = "PFS_DB_READ_CONNECTIONS", default_value_t = 1)]
    db_read_connections: u32,
    /// PostgreSQL: milliseconds a statement may run before it is cancelled (statement_timeout).
    #[arg(long, env = "PFS_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    db_statement_timeout_ms: u64,
    /// PostgreSQL: milliseconds a request waits for a pooled connection before failing (9010).
    #[arg(long, env = "PFS_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    db_acquire_timeout_ms: u64,
    /// PostgreSQL: the CA (PEM) that signed the database server's certificate, for a URL that
    /// names none (`sslrootcert`); `sslmode` in the URL says how much is checked.
    #[arg(long, env = "PFS_DATABASE_CA")]
    database_ca: Option<PathBuf>,
    /// Linkage-key hashes waiting or running at once, for all providers; over it `LinkAccount`
    /// is answered busy (9008) at once.
    #[arg(long, env = "PFS_KDF_QUEUE", default_value_t = 64)]
    kdf_queue: usize,
    /// Linkage-key hashes waiting or running at once for one provider.
    #[arg(long, env = "PFS_KDF_QUEUE_PER_PROVIDER", default_value_t = 8)]
    kdf_queue_per_provider: usize,
    /// Hours after its last failure that an unlocked linkage throttle is forgotten.
    #[arg(long, env = "PFS_LINK_THROTTLE_RETENTION_HOURS", default_value_t = 24)]
    link_throttle_retention_hours: i64,
    /// Do not write reads of patients' data to their access log: only to measure what the
    /// logging costs (patients' `ListRecordAccesses` then misses every read).
    #[arg(long, env = "PFS_NO_READ_ACCESS_LOG")]
    no_read_access_log: bool,
    /// MiB the reply cache may hold (RequestPatientRecord's encoded events per patient and
    /// view, MessagesView's encoded messages per patient, each checked against its token on
    /// every read); 0 turns it off.
    #[arg(long, env = "PFS_REPLY_CACHE_MIB", default_value_t = 32)]
    reply_cache_mib: usize,
    /// Seed a demo practice, synthetic patients and a demo provider (its private key written to
    /// DATA_DIR/demo/) into a new database: a sandbox, never for real patients.
    #[arg(long, env = "PFS_DEMO")]
    demo: bool,
    /// Log filter (tracing syntax), e.g. `info` or `pfs_server=debug`.
    #[arg(long, env = "PFS_LOG", default_value = "info")]
    log: String,
    /// Log line format: `text` (for people) or `json` (one JSON object per line, for log
    /// collectors).
    #[arg(long, env = "PFS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, its span's fields in front.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), and
    /// `span`/`spans` holding the fields of the spans it happened in (a PFS request's `type`,
    /// `provider`, `code`, `micros`).
    Json,
}

/// Libraries whose verbose levels can carry request or database values (tokio-postgres logs
/// every statement's bound parameters at debug): held at `warn` whatever `--log` asks for, so
/// no suid, passphrase, linkage key or patient value can reach a log line.
const QUIET_LIBRARIES: &[&str] = &[
    "tokio_postgres",
    "tokio_postgres_rustls",
    "postgres_protocol",
    "sqlx",
    "sqlx_core",
    "sqlx_postgres",
    "deadpool",
    "rusqlite",
    "hyper",
    "hyper_util",
    "h2",
    "axum",
    "tower",
    "rustls",
    "tokio_rustls",
];

/// Sets up logging: `filter` (tracing syntax) for openpfs, [`QUIET_LIBRARIES`] at `warn` at
/// most, in `format`; colour only for text on a terminal. While the sandbox clock is moved,
/// every line says by how much ([`ClockMarked`]).
fn init_logging(filter: &str, format: LogFormat, offset: &ClockOffset) -> Result<()> {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let quiet = tracing_subscriber::filter::filter_fn(|meta| {
        let library = meta.target().split("::").next().unwrap_or_default();
        *meta.level() <= tracing::Level::WARN || !QUIET_LIBRARIES.contains(&library)
    });
    let filter = tracing_subscriber::EnvFilter::try_new(filter)?;
    let events = tracing_subscriber::fmt::format().with_target(false);
    match format {
        LogFormat::Text => {
            let layer = tracing_subscriber::fmt::layer()
                .event_format(ClockMarked::text(events, offset))
                .with_ansi(std::io::stdout().is_terminal())
                .with_filter(quiet)
                .with_filter(filter);
            tracing_subscriber::registry().with(layer).init();
        }
        LogFormat::Json => {
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .event_format(ClockMarked::json(events.json(), offset))
                .with_ansi(false)
                .with_filter(quiet)
                .with_filter(filter);
            tracing_subscriber::registry().with(layer).init();
        }
    }
    Ok(())
}

/// A log line format that, while the sandbox clock is moved, marks every line with the
/// offset: `[clock +3d00h00m00s] ` in front of a text line, a `clockOffset` member first in a
/// JSON one. Time stamps stay real time, so lines still sort and correlate with other logs.
struct ClockMarked<F> {
    inner: F,
    offset: ClockOffset,
    json: bool,
}

impl<F> ClockMarked<F> {
    fn text(inner: F, offset: &ClockOffset) -> Self {
        ClockMarked {
            inner,
            offset: offset.clone(),
            json: false,
        }
    }

    fn json(inner: F, offset: &ClockOffset) -> Self {
        ClockMarked {
            inner,
            offset: offset.clone(),
            json: true,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for ClockMarked<F>
where
    F: FormatEvent<S, N>,
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if !self.offset.is_active() {
            return self.inner.format_event(ctx, writer, event);
        }
        let marker = describe_offset(self.offset.get());
        if !self.json {
            write!(writer, "[clock {marker}] ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        // A JSON line is one object: format it aside and put the member first.
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"clockOffset\":\"{marker}\",{rest}"),
            None => writer.write_str(&line),
        }
    }
}

pub async fn run(a: Args) -> Result<()> {
    let clock_offset = ClockOffset::new();
    init_logging(&a.log, a.log_format, &clock_offset)?;
    anyhow::ensure!(
        a.idle_timeout_minutes > 0,
        "--idle-timeout-minutes must be positive"
    );
    anyhow::ensure!(
        a.session_lifetime_hours > 0,
        "--session-lifetime-hours must be positive"
    );
    anyhow::ensure!(
        a.linkage_key_days > 0,
        "--linkage-key-days must be positive"
    );
    let mut opts = ServeOptions {
        data_dir: a.data_dir,
        listen: a.listen,
        admin_listen: a.admin_listen,
        seed_demo: a.demo,
        database: a.database,
        clock_offset,
        ..ServeOptions::default()
    };
    opts.core.idle_timeout = chrono::Duration::minutes(a.idle_timeout_minutes);
    opts.core.session_lifetime = chrono::Duration::hours(a.session_lifetime_hours);
    opts.core.linkage_key_ttl = chrono::Duration::days(a.linkage_key_days);
    anyhow::ensure!(a.kdf_queue > 0, "--kdf-queue must be at least 1");
    anyhow::ensure!(
        a.kdf_queue_per_provider > 0,
        "--kdf-queue-per-provider must be at least 1"
    );
    anyhow::ensure!(
        a.link_throttle_retention_hours > 0,
        "--link-throttle-retention-hours must be positive"
    );
    opts.core.kdf_queue = a.kdf_queue;
    opts.core.kdf_queue_per_provider = a.kdf_queue_per_provider;
    opts.core.link_throttle_retention = chrono::Duration::hours(a.link_throttle_retention_hours);
    opts.core.log_reads = !a.no_read_access_log;
    opts.core.reply_cache_bytes = a
        .reply_cache_mib
        .checked_mul(1024 * 1024)
        .context("--reply-cache-mib is too large")?;
    opts.limits.max_body_bytes = a.max_body_bytes;
    for (flag, value) in [
        ("--header-timeout-ms", a.header_timeout_ms),
        ("--request-timeout-ms", a.request_timeout_ms),
        ("--max-connections", a.max_connections as u64),
        (
            "--max-in-flight-per-provider",
            a.max_in_flight_per_provider as u64,
        ),
    ] {
        anyhow::ensure!(value > 0, "{flag} must be at least 1");
    }
    opts.limits.header_timeout = std::time::Duration::from_millis(a.header_timeout_ms);
    opts.limits.request_timeout = std::time::Duration::from_millis(a.request_timeout_ms);
    opts.limits.max_connections = a.max_connections;
    opts.limits.max_in_flight_per_provider = a.max_in_flight_per_provider;
    opts.limits.drain_timeout = std::time::Duration::from_millis(a.drain_timeout_ms);
    if let Some(n) = a.db_connections {
        anyhow::ensure!(n > 0, "--db-connections must be at least 1");
        opts.sqlite.max_connections = n;
        opts.postgres.max_connections = n;
    }
    anyhow::ensure!(
        a.db_read_connections > 0,
        "--db-read-connections must be at least 1"
    );
    opts.postgres.read_connections = a.db_read_connections;
    opts.sqlite.synchronous = a.sqlite_synchronous;
    anyhow::ensure!(
        a.db_statement_timeout_ms > 0,
        "--db-statement-timeout-ms must be positive"
    );
    anyhow::ensure!(
        a.db_acquire_timeout_ms > 0,
        "--db-acquire-timeout-ms must be positive"
    );
    opts.postgres.statement_timeout = std::time::Duration::from_millis(a.db_statement_timeout_ms);
    opts.postgres.acquire_timeout = std::time::Duration::from_millis(a.db_acquire_timeout_ms);
    opts.postgres.ca_file = a.database_ca;

    let server_uses_postgres = opts.database.is_some();
    let server = start(opts).await?;
    let dir = server.data_dir.root().display().to_string();
    println!("openpfs is running");
    println!(
        "  PFS endpoint  https://{}/  (mutual TLS; any path)",
        server.pfs_addr
    );
    println!(
        "  admin API     http://{}/api  (token in {dir}/admin-token)",
        server.admin_addr
    );
    println!("  data          {dir}");
    println!(
        "  database      {}",
        if server_uses_postgres {
            "PostgreSQL"
        } else {
            "SQLite (in the data directory)"
        }
    );
    if let Some(accounts) = &server.seeded {
        println!();
        println!(
            "A demo practice was created with {} online accounts.",
            accounts.len()
        );
        println!("Demo credentials are in {dir}/demo/: ca.pem, client.pem, client-key.pem,");
        println!("provider-id and accounts.json. Try, in another terminal (docs/sandbox.md):");
        println!("  pfs call CheckVersion");
        println!("  pfs login --account ID           (ID: an accountId of accounts.json)");
        println!("  pfs call ViewAppointments futureAppointments=Y");
        println!("  pfs conformance");
        println!("  pfs admin sandbox reset          (back to this first start at any time)");
        println!("  pfs admin patient list");
    } else if server.empty {
        println!();
        println!("The database holds no practice yet. Next steps:");
        println!(
            "  pfs admin practice add …        a practice (see `pfs admin practice add --help`)"
        );
        println!("  pfs admin provider add --name NAME --out DIR");
        println!("                                  a third-party app's client certificate and id");
        println!("  pfs admin patient add …         patients, then `pfs admin account issue ID`");
        println!(
            "For a sandbox with synthetic data instead, start a new data directory with --demo."
        );
    }
    wait_for_signal().await;
    println!("stopping");
    server.shutdown().await;
    Ok(())
}

/// Options of `pfs migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to bring up to date (`postgres://user:password@host:5432/db`).
    #[arg(long, env = "PFS_DATABASE_URL", hide_env_values = true)]
    database: String,
    /// The CA (PEM) that signed the database server's certificate, for a URL that names none.
    #[arg(long, env = "PFS_DATABASE_CA")]
    database_ca: Option<PathBuf>,
}

/// `pfs migrate`: applies the PostgreSQL migrations the database has not had, then exits.
pub async fn migrate(a: MigrateArgs) -> Result<()> {
    anyhow::ensure!(
        pfs_store::postgres::is_postgres_url(&a.database),
        "--database must be a postgres:// URL (SQLite databases are migrated when the server opens them)"
    );
    pfs_store::postgres::migrate(&a.database, a.database_ca.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
    println!("the database schema is up to date");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
