//! Unit tests of the SQLite store's internals (the store itself is tested by the suite).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::StatementStatus;

use super::appointment::PATIENT_APPOINTMENTS;
use super::migrate::{MIGRATIONS, migrate};
use super::patient::patient_row;
use super::proxy::PROXY_PATIENTS;
use super::sql::{date_text, ms, query_all, transient, unique_key};
use super::{SqliteOptions, SqliteStore, Synchronous, open_reader, open_writer};

#[test]
fn unique_key_names_columns_only() {
    assert_eq!(
        unique_key("UNIQUE constraint failed: providers.fingerprint"),
        Some("providers.fingerprint")
    );
    assert_eq!(
        unique_key("UNIQUE constraint failed: proxy_grants.grantee_id, proxy_grants.patient_id"),
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
    let mut writer = open_writer(&path, Duration::from_secs(1), Synchronous::Normal).unwrap();
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

/// A patient's appointments come out of the index in order, with no sort of their own.
#[test]
fn patient_appointments_need_no_sort() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open_writer(
        &dir.path().join("plan.db"),
        Duration::from_secs(1),
        Synchronous::Normal,
    )
    .unwrap();
    migrate(&mut writer).unwrap();
    let plan: Vec<String> = writer
        .prepare(&format!("EXPLAIN QUERY PLAN {PATIENT_APPOINTMENTS}"))
        .unwrap()
        .query_map(["1000001"], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("appointments_patient_start_idx")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|step| step.contains("TEMP B-TREE")),
        "{plan:?}"
    );
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

/// The writer connection, which makes every commit, runs with the `synchronous` setting asked
/// for (SQLite reads it back as 1 for NORMAL, 2 for FULL), in WAL mode; the default is NORMAL.
#[tokio::test]
async fn the_writer_has_the_synchronous_setting_asked_for() {
    assert_eq!(SqliteOptions::default().synchronous, Synchronous::Normal);
    for (choice, level) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            synchronous: choice,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&dir.path().join("pfs.sqlite3"), opts)
            .await
            .unwrap();
        let (sync, journal) = store
            .write(|c| {
                let sync: i64 = c
                    .pragma_query_value(None, "synchronous", |row| row.get(0))
                    .unwrap();
                let journal: String = c
                    .pragma_query_value(None, "journal_mode", |row| row.get(0))
                    .unwrap();
                Ok((sync, journal))
            })
            .await
            .unwrap();
        assert_eq!(sync, level, "{choice:?}");
        assert_eq!(journal, "wal", "{choice:?}");
        store.close().await;
    }
}

#[test]
fn synchronous_is_read_from_its_name() {
    assert_eq!("normal".parse(), Ok(Synchronous::Normal));
    assert_eq!("FULL".parse(), Ok(Synchronous::Full));
    assert!("off".parse::<Synchronous>().is_err());
}
