//! The SQLite backend: every suite case on a fresh database file, plus SQLite-specific checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pfs_core::model::{ProviderLink, RecordAccess};
use pfs_core::store::*;

use crate::fixtures::{account, patient, practice, provider, t};
use pfs_store::{SqliteOptions, SqliteStore, suite};
use tempfile::TempDir;

/// A database file in its own temporary directory, removed on drop.
struct TempDb {
    dir: TempDir,
    store: SqliteStore,
}

impl TempDb {
    async fn new() -> TempDb {
        TempDb::with(SqliteOptions::default()).await
    }

    async fn with(opts: SqliteOptions) -> TempDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&db_path(dir.path()), opts)
            .await
            .expect("open");
        TempDb { dir, store }
    }

    fn path(&self) -> PathBuf {
        db_path(self.dir.path())
    }
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("pfs.sqlite3")
}

/// Another connection of this process to the store's file: with the store's VFS, as any other
/// (a process of its own would be refused the file, see `unix-excl` in the store's docs).
fn beside(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags_and_vfs(
        path,
        rusqlite::OpenFlags::default(),
        pfs_store::sqlite::VFS,
    )
    .unwrap()
}

/// One test per suite case, each on its own database file.
macro_rules! sqlite_cases {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let db = TempDb::new().await;
            suite::$case(&db.store).await;
            db.store.close().await;
        }
    )*};
}

pfs_store::store_suite_cases!(sqlite_cases);

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let db = TempDb::new().await;
    suite::durable_write(&db.store).await;
    db.store.close().await;

    for _ in 0..2 {
        let store = SqliteStore::open(&db.path(), SqliteOptions::default())
            .await
            .expect("re-open");
        suite::durable_check(&store).await;
        store.close().await;
    }
}

#[tokio::test]
async fn creates_the_file_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    assert!(!path.exists());
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
    store.close().await;
    let header = std::fs::read(&path).expect("database file");
    assert!(header.starts_with(b"SQLite format 3\0"));
    // File format write/read versions 2 mean WAL.
    assert_eq!((header[18], header[19]), (2, 2));
}

#[test]
fn default_options() {
    let opts = SqliteOptions::default();
    assert_eq!(opts.max_connections, 8);
    assert_eq!(opts.busy_timeout, Duration::from_secs(5));
}

#[tokio::test]
async fn closed_store_is_unavailable() {
    let db = TempDb::new().await;
    let clone = db.store.clone();
    db.store.close().await;
    assert!(matches!(
        clone.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        clone.list_providers().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn unopenable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("pfs.sqlite3");
    let result = SqliteStore::open(&path, SqliteOptions::default()).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn write_lock_held_elsewhere_is_unavailable() {
    let db = TempDb::with(SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    })
    .await;
    let other = beside(&db.path());
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let result = db.store.insert_practice(&practice("X00001")).await;
    match result {
        Err(StoreError::Unavailable(text)) => assert!(text.contains("practices"), "{text}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }

    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    db.store
        .insert_practice(&practice("X00001"))
        .await
        .expect("free again");
}

#[tokio::test]
async fn reads_go_on_while_the_write_lock_is_held_elsewhere() {
    let db = TempDb::with(SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    })
    .await;
    db.store.insert_practice(&practice("X00001")).await.unwrap();
    let other = beside(&db.path());
    other
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM practices;")
        .unwrap();

    // WAL: readers see the last commit and never wait for the writer.
    let got = db.store.practice("X00001").await.unwrap();
    assert_eq!(got, Some(practice("X00001")));
    assert_eq!(db.store.list_practices().await.unwrap().len(), 1);

    other.execute_batch("ROLLBACK").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_waiting_too_long_for_the_writer_is_unavailable() {
    let db = TempDb::with(SqliteOptions {
        busy_timeout: Duration::from_secs(3),
        acquire_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    })
    .await;
    let other = beside(&db.path());
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    // Two writes race for the writer connection: the one that takes it holds it while SQLite
    // waits for the other lock, and the other gives up waiting for the writer. Which one wins
    // does not matter, so nothing waits for the first write to start.
    let write = |ods: &'static str| {
        let store = db.store.clone();
        tokio::spawn(async move { store.insert_practice(&practice(ods)).await })
    };
    let (mut a, mut b) = (write("X00001"), write("X00002"));
    let (timed_out, first, second) = tokio::select! {
        done = &mut a => (done.unwrap(), b, practice("X00001")),
        done = &mut b => (done.unwrap(), a, practice("X00002")),
    };
    match timed_out {
        Err(StoreError::Unavailable(text)) => assert!(text.contains("writer"), "{text}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Reads do not queue behind writes.
    assert_eq!(db.store.list_practices().await.unwrap(), vec![]);

    other.execute_batch("ROLLBACK").unwrap();
    first.await.unwrap().expect("the first write goes through");
    db.store.insert_practice(&second).await.expect("free again");
    assert_eq!(db.store.list_practices().await.unwrap().len(), 2);
}

#[test]
fn concurrent_reads_beyond_the_pool_size() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TempDb::with(SqliteOptions {
        max_connections: 1,
        ..SqliteOptions::default()
    }));
    let p = provider("00000000000000ff");
    rt.block_on(db.store.insert_provider(&p)).unwrap();

    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                for _ in 0..300 {
                    let got = rt.block_on(db.store.provider(&p.id)).expect("read");
                    assert_eq!(got.as_ref(), Some(&p));
                }
            });
        }
    });
    rt.block_on(db.store.close());
}

#[tokio::test]
async fn closed_store_refuses_writes_too() {
    let db = TempDb::new().await;
    db.store.close().await;
    db.store.close().await;
    assert!(matches!(
        db.store.insert_practice(&practice("X00001")).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        db.store.purge_sessions(t(0)).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn adopts_a_database_migrated_by_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    {
        // What the earlier sqlx-based store left: the schema, and sqlx's own record of it.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                 success BOOLEAN NOT NULL,
                 checksum BLOB NOT NULL,
                 execution_time BIGINT NOT NULL
             );
             INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (1, 'initial', TRUE, x'00', 1);
             INSERT INTO practices (ods, name, address, settings)
             VALUES ('X00001', 'Riverside Surgery', '1 River Street', '{\"minimumAge\":16}');",
        )
        .unwrap();
    }

    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("open");
    assert_eq!(
        store.list_practices().await.unwrap(),
        vec![practice("X00001")]
    );
    store.insert_practice(&practice("X00002")).await.unwrap();
    store.close().await;

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    // sqlx had applied 0001; opening applied the later migrations on top, up to the last
    // file of migrations/sqlite.
    let migrations =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".sql")
            })
            .count();
    assert_eq!(version, i64::try_from(migrations).unwrap());
    assert!(version >= 4, "0004_medication.sql is applied");
    let appointments: i64 = conn
        .query_row("SELECT count(*) FROM appointments", [], |row| row.get(0))
        .unwrap();
    assert_eq!(appointments, 0);
}

/// Migration 0014 makes the access log again without AUTOINCREMENT: the entries written before
/// it are kept, ids and all, and later ones are numbered after them.
#[tokio::test]
async fn the_access_log_keeps_its_entries_through_migration_14() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let at = t(0).timestamp_millis();
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("open");
    store.insert_practice(&practice("X00001")).await.unwrap();
    store
        .insert_patient(&patient("42", "X00001"))
        .await
        .unwrap();
    store.close().await;
    {
        // Back to schema version 13: the log as migration 0002 made it, holding three
        // entries of one instant.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE record_accesses;
             CREATE TABLE record_accesses (
                 id           INTEGER PRIMARY KEY AUTOINCREMENT,
                 patient_id   TEXT    NOT NULL REFERENCES patients (id),
                 at_ms        INTEGER NOT NULL,
                 accessed_by  TEXT    NOT NULL,
                 organisation TEXT    NOT NULL,
                 access_type  TEXT    NOT NULL,
                 method       TEXT    NOT NULL
             ) STRICT;
             CREATE INDEX record_accesses_patient_at_idx ON record_accesses (patient_id, at_ms);
             PRAGMA user_version = 13;",
        )
        .unwrap();
        for (id, what) in [
            (7, "Viewed record"),
            (8, "Viewed documents"),
            (9, "Viewed record"),
        ] {
            conn.execute(
                "INSERT INTO record_accesses (id, patient_id, at_ms, accessed_by, organisation,
                                              access_type, method)
                 VALUES (?1, '42', ?2, 'Ada Example (Example App)', 'Practice 1', ?3, 'Online')",
                rusqlite::params![id, at, what],
            )
            .unwrap();
        }
    }

    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("open");
    let entry = RecordAccess {
        patient_id: "42".into(),
        at: t(0),
        accessed_by: "Ada Example (Example App)".into(),
        organisation: "Practice 1".into(),
        access_type: "Viewed appointments".into(),
        method: "Online".into(),
    };
    store.insert_record_access(&entry).await.unwrap();
    let listed: Vec<String> = store
        .record_accesses("42", t(0), t(1))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.access_type)
        .collect();
    assert_eq!(
        listed,
        [
            "Viewed record",
            "Viewed documents",
            "Viewed record",
            "Viewed appointments"
        ]
    );
    store.close().await;

    let conn = rusqlite::Connection::open(&path).unwrap();
    let (sql, last): (String, i64) = conn
        .query_row(
            "SELECT (SELECT sql FROM sqlite_schema WHERE name = 'record_accesses'),
                    (SELECT max(id) FROM record_accesses)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    assert_eq!(last, 10, "the new entry is numbered after the kept ones");
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .unwrap();
    store.close().await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();

    match SqliteStore::open(&path, SqliteOptions::default()).await {
        Err(StoreError::Other(text)) => assert!(text.contains("newer"), "{text}"),
        other => panic!("expected Other, got {other:?}"),
    }
}

#[tokio::test]
async fn dangling_references_are_not_found() {
    let db = TempDb::new().await;
    let s = &db.store;
    let at = t(0);
    let not_found = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    };

    not_found(s.insert_account(&account("1", "42")).await, "account");
    not_found(
        s.set_practice_service("Z99999", "messaging", Some(true))
            .await,
        "service",
    );
    not_found(
        s.set_patient_service("42", "messaging", Some(true)).await,
        "service",
    );
    not_found(s.grant_proxy("42", "43", at).await, "proxy");
    not_found(
        s.upsert_provider_link(&ProviderLink {
            account_id: "1".into(),
            provider_id: "00000000000000ff".into(),
            passphrase_hash: "a".repeat(64),
            linked_at: at,
        })
        .await,
        "link",
    );

    s.insert_practice(&practice("X00001")).await.unwrap();
    s.insert_patient(&patient("42", "X00001")).await.unwrap();
    s.insert_account(&account("1", "42")).await.unwrap();
    let mut provider = provider("00000000000000ff");
    s.insert_provider(&provider).await.unwrap();
    // Now every reference resolves.
    s.grant_proxy("42", "42", at).await.unwrap();
    s.set_patient_service("42", "messaging", Some(true))
        .await
        .unwrap();
    provider.id = "00000000000000fe".into();
    provider.fingerprint = "e".repeat(64);
    s.insert_provider(&provider).await.unwrap();
}

#[tokio::test]
async fn instants_are_truncated_to_milliseconds() {
    let db = TempDb::new().await;
    let mut p = provider("00000000000000ff");
    p.created_at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00.123999999Z")
        .unwrap()
        .with_timezone(&Utc);
    db.store.insert_provider(&p).await.unwrap();
    let got = db.store.provider(&p.id).await.unwrap().expect("provider");
    assert_eq!(got.created_at, t(0));
}
