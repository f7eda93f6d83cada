//! Unit tests of the PostgreSQL store: most need no database; the last looks inside the
//! store's own connections.

use super::migrate::MIGRATIONS;
use super::sql::{transient, unique_key};
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
fn a_statement_is_cached_under_its_texts_place_and_length() {
    const ONE: &str = "SELECT 1 + 1";
    let prefix: &'static str = &ONE[..8]; // "SELECT 1": same address, shorter
    assert!(SqlText::of(ONE) == SqlText::of(ONE));
    assert!(SqlText::of(ONE) != SqlText::of(prefix));
    assert!(SqlText::of(ONE) != SqlText::of("SELECT 2 + 2"));
}

#[test]
fn bad_urls_are_not_echoed() {
    let err = connect_options("postgres://user:s3cret@[::1:5432/db", None).unwrap_err();
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

/// A setting as one of the store's own connections sees it.
async fn setting(conn: &Conn, name: &str) -> String {
    let row = conn
        .client
        .query_one("SELECT current_setting($1)", &[&name])
        .await
        .expect("current_setting");
    row.get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn connections_are_set_up_for_short_statements() {
    use crate::pg_testing::{TestSchema, required_test_url};
    let schema = TestSchema::create(&required_test_url()).await;
    let store = connect(schema.url(), PostgresOptions::default())
        .await
        .expect("connect");
    let (_, reader) = store.db.reader("test").await.expect("a read connection");
    let writer = store.db.writers.get().await.expect("a write connection");
    for conn in [&*reader, &*writer] {
        assert_eq!(setting(conn, "jit").await, "off");
        assert_ne!(setting(conn, "statement_timeout").await, "0");
    }
    assert_eq!(
        setting(&reader, "plan_cache_mode").await,
        "force_generic_plan"
    );
    assert_eq!(setting(&writer, "plan_cache_mode").await, "auto");
    drop(writer);
    store.close().await;
}
