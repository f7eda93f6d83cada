//! Helpers for tests that run against a real PostgreSQL database (the shared suite here, the
//! multi-instance tests in pfs-testkit).
//!
//! Tests get the database from [`TEST_URL_VAR`]; each test works in a schema of its own
//! ([`TestSchema`]), so tests are independent and run in parallel on one database. When the
//! variable is unset, PostgreSQL tests must say so ([`not_configured`]) rather than pass quietly.

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

/// Says, on standard error, that PostgreSQL tests were skipped.
pub fn not_configured() {
    use std::io::Write;
    // Straight to the stream, not `eprintln!`: the test harness captures the macros' output of
    // passing tests, and a skip must show.
    let _ = writeln!(
        std::io::stderr(),
        "PostgreSQL tests skipped: {TEST_URL_VAR} is not set"
    );
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

    /// A new schema in the test database, or `None` after saying (see [`not_configured`]) that
    /// PostgreSQL tests are skipped.
    pub async fn create_or_skip() -> Option<TestSchema> {
        match test_url() {
            Some(url) => Some(TestSchema::create(&url).await),
            None => {
                not_configured();
                None
            }
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
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
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
