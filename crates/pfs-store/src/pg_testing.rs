//! Helpers for tests that run against a real PostgreSQL database (the shared suite here, the
//! multi-instance tests in pfs-testkit, the multi-process tests in pfs-cli).
//!
//! Tests get the database from [`TEST_URL_VAR`]; each test works in a schema of its own
//! ([`TestSchema`]), so tests are independent and run in parallel on one database. PostgreSQL
//! tests are `#[ignore]`d, so a plain `cargo test` lists them as ignored; run with
//! `--include-ignored`, each gets its URL from [`required_test_url`], which fails the test when
//! the variable is unset rather than letting it pass without having run.

use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use sqlx_core::sql_str::AssertSqlSafe;
use sqlx_postgres::PgConnection;

/// The environment variable holding the test database URL.
pub const TEST_URL_VAR: &str = "PFS_TEST_POSTGRES_URL";

/// The test database URL, if configured.
pub fn test_url() -> Option<String> {
    std::env::var(TEST_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// The test database URL; panics, naming [`TEST_URL_VAR`], when it is unset or empty.
///
/// For tests marked `#[ignore = "needs PostgreSQL: ..."]`: one run anyway (`--include-ignored`
/// or `--ignored`) without a database fails instead of passing without having run.
#[track_caller]
pub fn required_test_url() -> String {
    match test_url() {
        Some(url) => url,
        None => panic!(
            "this test needs PostgreSQL: set {TEST_URL_VAR} to a database URL, e.g. \
             {TEST_URL_VAR}=postgres://pfs:pfs-test@127.0.0.1:5432/pfs_test \
             (without it, leave out --include-ignored and the PostgreSQL tests stay ignored)"
        ),
    }
}

/// The environment variable naming the CA (PEM) that signed the test database server's
/// certificate, for the TLS tests (`.ci/run` makes one and sets it).
pub const TEST_CA_VAR: &str = "PFS_TEST_POSTGRES_CA";

/// The test database's CA file; panics, naming the variable, when it is not set.
pub fn required_test_ca() -> String {
    std::env::var(TEST_CA_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "this test needs PostgreSQL with TLS: set {TEST_CA_VAR} to the CA file that \
                 signed the server's certificate (see .ci/run, which makes one)"
            )
        })
}

/// A uniquely named schema, created empty, with a URL whose connections use it as their
/// `search_path`; dropped (with everything in it) on drop.
pub struct TestSchema {
    base_url: String,
    name: String,
    url: String,
}

impl TestSchema {
    /// Creates a new schema in the database at `base_url`.
    pub async fn create(base_url: &str) -> TestSchema {
        let name = format!("pfs_test_{}", random_suffix());
        let mut conn = PgConnection::connect(base_url)
            .await
            .expect("connect to the PostgreSQL test database");
        conn.execute(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .await
            .expect("create a test schema");
        let _ = conn.close().await;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        // libpq's form, which both drivers read: `options=-c search_path=<name>`.
        let url = format!("{base_url}{sep}options=-c%20search_path%3D{name}");
        TestSchema {
            base_url: base_url.to_owned(),
            name,
            url,
        }
    }

    /// The URL of the database, connecting into this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let base_url = self.base_url.clone();
        // The schema, and the sandbox snapshots taken of it (schemas of their own, named after
        // its name's MD5: see postgres/sandbox.rs).
        let sql = format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE;
             DO $$DECLARE s text; BEGIN
                 FOR s IN SELECT nspname FROM pg_namespace WHERE starts_with(nspname,
                          'pfs_snapshot_' || left(md5('{name}'), 8) || '_') LOOP
                     EXECUTE format('DROP SCHEMA %I CASCADE', s);
                 END LOOP;
             END$$;",
            name = self.name
        );
        // Drop may run inside a runtime: do the async work on a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&base_url).await {
                    let _ = conn.execute(AssertSqlSafe(sql)).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

fn random_suffix() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
