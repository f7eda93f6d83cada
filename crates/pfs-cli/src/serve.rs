//! `pfs serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use pfs_server::{ServeOptions, start};

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
    /// SQLite read connections in the pool (writes use one more, dedicated connection).
    #[arg(long, env = "PFS_DB_CONNECTIONS", default_value_t = 8)]
    db_connections: u32,
    /// Do not seed the demo practice into a new database.
    #[arg(long, env = "PFS_NO_DEMO")]
    no_demo: bool,
    /// Log filter (tracing syntax), e.g. `info` or `pfs_server=debug`.
    #[arg(long, env = "PFS_LOG", default_value = "info")]
    log: String,
}

pub async fn run(a: Args) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&a.log)?)
        .with_target(false)
        .init();
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
        seed_demo: !a.no_demo,
        ..ServeOptions::default()
    };
    opts.core.idle_timeout = chrono::Duration::minutes(a.idle_timeout_minutes);
    opts.core.session_lifetime = chrono::Duration::hours(a.session_lifetime_hours);
    opts.core.linkage_key_ttl = chrono::Duration::days(a.linkage_key_days);
    opts.limits.max_body_bytes = a.max_body_bytes;
    anyhow::ensure!(a.db_connections > 0, "--db-connections must be at least 1");
    opts.sqlite.max_connections = a.db_connections;

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
    if let Some(accounts) = &server.seeded {
        println!();
        println!(
            "A demo practice was created with {} online accounts.",
            accounts.len()
        );
        println!("Demo credentials are in {dir}/demo/: ca.pem, client.pem, client-key.pem,");
        println!("provider-id and accounts.json. Try, in another terminal:");
        println!("  pfs call CheckVersion");
        println!("  pfs admin patient list");
    }
    wait_for_signal().await;
    println!("stopping");
    server.shutdown().await;
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
