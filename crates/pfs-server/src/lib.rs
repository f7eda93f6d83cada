//! The openpfs server: the mutual-TLS PFS endpoint and the JSON admin API, over the store.
//!
//! [`start`] brings up both listeners on a data directory (creating the CA, certificates,
//! database and demo data on first start) and returns a handle that stops them when dropped.

pub mod admin;
pub mod datadir;
pub mod demo;
pub mod endpoint;
pub mod metrics;
pub mod pki;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use pfs_core::{Clock, ClockOffset, Pfs, PracticeStore, ShiftedClock, Store, SystemClock};
use pfs_store::{PostgresOptions, SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use datadir::DataDir;
pub use demo::DemoAccount;
pub use endpoint::Limits;
pub use metrics::Metrics;
pub use transport::{Counters, Listener, RequestHook};

/// How to run a server.
#[derive(Clone)]
pub struct ServeOptions {
    /// The data directory (default `./pfs-data`).
    pub data_dir: PathBuf,
    /// PFS listener address (default `127.0.0.1:8443`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Admin listener address (default `127.0.0.1:8444`).
    pub admin_listen: SocketAddr,
    /// Domain settings (timeouts, linkage, hashing).
    pub core: pfs_core::Config,
    /// Listener limits.
    pub limits: Limits,
    /// The database: `None` for SQLite in the data directory (`pfs.db`), or a PostgreSQL URL
    /// (`postgres://user:password@host:5432/db`) that any number of instances may share.
    pub database: Option<String>,
    /// SQLite settings (connection pool size and timeouts).
    pub sqlite: SqliteOptions,
    /// PostgreSQL settings (pool size, acquire and statement timeouts).
    pub postgres: PostgresOptions,
    /// Seed the demo practice, synthetic patients and a demo provider when the database is new
    /// (default false: a sandbox must ask for it, a production start never gets a trusted demo
    /// identity with its private key on disk).
    pub seed_demo: bool,
    /// The clock (the system clock unless a test injects one).
    pub clock: Arc<dyn Clock>,
    /// The sandbox's time travel: an offset over `clock` that the admin API sets (zero at
    /// start). Pass a handle of your own to see it elsewhere (`pfs serve` shows it in every log
    /// line while it is not zero).
    pub clock_offset: ClockOffset,
    /// For tests only: called at the start of every request on both listeners, inside the
    /// handler's panic guard, so that a test can make a handler panic and check that the panic
    /// is answered and counted. `pfs serve` never sets it, so production code has no panic
    /// path of its own for this.
    #[doc(hidden)]
    pub request_hook: Option<RequestHook>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            data_dir: PathBuf::from("pfs-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            core: pfs_core::Config::default(),
            limits: Limits::default(),
            database: None,
            sqlite: SqliteOptions::default(),
            postgres: PostgresOptions::default(),
            seed_demo: false,
            clock: Arc::new(SystemClock),
            clock_offset: ClockOffset::new(),
            request_hook: None,
        }
    }
}

/// A running server; dropping it stops both listeners.
pub struct RunningServer {
    /// Where the PFS endpoint listens.
    pub pfs_addr: SocketAddr,
    /// Where the admin API listens.
    pub admin_addr: SocketAddr,
    /// The data directory.
    pub data_dir: DataDir,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// Demo accounts, when this start seeded them.
    pub seeded: Option<Vec<DemoAccount>>,
    /// Whether the database holds no practice (a new database started without the demo).
    pub empty: bool,
    /// The service, for in-process callers (tests, tools).
    pub pfs: Arc<Pfs>,
    /// Counters (panics caught), as `GET /health` reports them.
    pub counters: Arc<Counters>,
    /// This server's metrics, as `GET /metrics` renders them.
    pub metrics: Arc<Metrics>,
    /// The sandbox's clock offset, as the admin API sets it.
    pub clock_offset: ClockOffset,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting connections, lets the requests in progress finish (at most
    /// [`Limits::drain_timeout`]), closes every connection still open and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if let Err(e) = self.pfs.flush_writes().await {
            tracing::error!(error = %e, "access-log entries queued at shutdown were not written");
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the server.
pub async fn start(opts: ServeOptions) -> Result<RunningServer> {
    let dir = DataDir::open(&opts.data_dir)?;
    let ca = dir.ca()?;
    let server_cert = dir.server_cert(&ca)?;
    let pepper = dir.pepper()?;
    let admin_token = dir.admin_token()?;

    let metrics = Arc::new(Metrics::new());
    let (store, fresh) = open_store(&opts, &dir, &metrics).await?;
    let clock = Arc::new(ShiftedClock::new(
        opts.clock.clone(),
        opts.clock_offset.clone(),
    ));
    let pfs =
        Arc::new(Pfs::new(store, clock, pepper, opts.core.clone()).map_err(anyhow::Error::msg)?);
    pfs.reload_faults()
        .await
        .context("cannot read the fault injection rules")?;
    let seeded = if fresh && opts.seed_demo {
        let accounts = demo::seed(&pfs, &dir, &ca).await?;
        // What `POST /api/sandbox/reset` goes back to. Without it the sandbox still runs; only
        // a reset is refused (a PostgreSQL role without CREATE on the database cannot save it).
        if let Err(e) = pfs.save_demo_snapshot().await {
            tracing::warn!(error = %e, "the demo snapshot was not saved: a reset will be refused");
        }
        Some(accounts)
    } else {
        None
    };
    let empty = pfs
        .store()
        .list_practices()
        .await
        .context("cannot read the database")?
        .is_empty();

    let tls = tls::server_config(&ca.cert_pem, &server_cert.cert_pem, &server_cert.key_pem)?;
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let admin_listener = TcpListener::bind(opts.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {} (admin)", opts.admin_listen))?;
    let pfs_addr = listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    datadir::write_public(&dir.path("admin-url"), &format!("http://{admin_addr}\n"))?;

    let (shutdown, rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(endpoint::serve(
        listener,
        tls,
        pfs.clone(),
        opts.limits,
        counters.clone(),
        metrics.clone(),
        opts.request_hook.clone(),
        rx.clone(),
    )));
    let state = Arc::new(admin::AdminState {
        pfs: pfs.clone(),
        token: admin_token.clone(),
        ca,
        counters: counters.clone(),
        metrics: metrics.clone(),
        clock_offset: opts.clock_offset.clone(),
    });
    tasks.push(tokio::spawn(admin::serve(
        admin_listener,
        state,
        opts.limits,
        opts.request_hook.clone(),
        rx.clone(),
    )));
    tasks.push(tokio::spawn(metrics_upkeep(metrics.clone(), rx.clone())));
    tasks.push(tokio::spawn(fault_rules_upkeep(pfs.clone(), rx.clone())));
    tasks.push(tokio::spawn(housekeeping(pfs.clone(), metrics.clone(), rx)));

    Ok(RunningServer {
        pfs_addr,
        admin_addr,
        data_dir: dir,
        admin_token,
        seeded,
        empty,
        pfs,
        counters,
        metrics,
        clock_offset: opts.clock_offset,
        shutdown,
        tasks,
    })
}

/// Opens the configured store; also says whether it is new (and so gets the demo data).
///
/// A SQLite database is new when its file did not exist; a PostgreSQL one when it has no
/// practices yet, so the first instance started on an empty database seeds it and the others
/// (and later restarts) do not.
async fn open_store(
    opts: &ServeOptions,
    dir: &DataDir,
    metrics: &Metrics,
) -> Result<(Arc<dyn Store>, bool)> {
    match &opts.database {
        None => {
            let fresh = !dir.database().exists();
            let sqlite = SqliteOptions {
                timers: metrics.store_timers("sqlite"),
                ..opts.sqlite.clone()
            };
            let store = SqliteStore::open(&dir.database(), sqlite)
                .await
                .with_context(|| {
                    format!("cannot open the database {}", dir.database().display())
                })?;
            Ok((Arc::new(store), fresh))
        }
        Some(url) if pfs_store::postgres::is_postgres_url(url) => {
            // The URL may hold a password: it stays out of the messages.
            let postgres = PostgresOptions {
                timers: metrics.store_timers("postgres"),
                ..opts.postgres.clone()
            };
            let store = pfs_store::postgres::connect(url, postgres)
                .await
                .context("cannot open the PostgreSQL database")?;
            let fresh = store
                .list_practices()
                .await
                .context("cannot read the PostgreSQL database")?
                .is_empty();
            Ok((Arc::new(store), fresh))
        }
        Some(_) => anyhow::bail!(
            "unsupported database URL: give a postgres:// URL, or none for SQLite in the data directory"
        ),
    }
}

/// Every 5 seconds: moves the histograms' recent samples into their buckets, so that they do
/// not pile up in memory when nobody scrapes `/metrics` for a while.
async fn metrics_upkeep(metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        metrics.upkeep();
    }
}

/// How often an instance checks whether the fault injection rules changed in the store (by
/// another instance): a change made elsewhere applies here within about this long.
pub const FAULT_RULES_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Every [`FAULT_RULES_POLL`]: reads the fault injection rules again if their version in the
/// store moved (one small read otherwise).
async fn fault_rules_upkeep(pfs: Arc<Pfs>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(FAULT_RULES_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match pfs.refresh_faults().await {
            Ok(_) => failing = false,
            // Once per outage, not once a second.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "the fault injection rules could not be read");
            }
            Err(_) => {}
        }
    }
}

/// Once a minute: deletes sessions that can no longer be used and linkage throttles that have
/// expired, and counts the live sessions for their gauge ([`Pfs::housekeeping`]).
async fn housekeeping(pfs: Arc<Pfs>, metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match pfs.housekeeping(pfs.clock().now()).await {
            Ok(done) => metrics.live_sessions(done.live_sessions),
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping (old sessions, expired throttles) failed")
            }
        }
    }
}
