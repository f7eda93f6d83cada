//! The schema migrations in `migrations/sqlite` and applying them on open.

use pfs_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

use super::sql::map_err;

/// The schema migrations, in order: `(version, file name, SQL)`. Versions count up from 1 and
/// match the file names' numeric prefixes; the database's `PRAGMA user_version` is the last
/// one applied.
pub(super) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_initial.sql",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "0002_appointments.sql",
        include_str!("../../migrations/sqlite/0002_appointments.sql"),
    ),
    (
        3,
        "0003_accounts.sql",
        include_str!("../../migrations/sqlite/0003_accounts.sql"),
    ),
    (
        4,
        "0004_medication.sql",
        include_str!("../../migrations/sqlite/0004_medication.sql"),
    ),
    (
        5,
        "0005_demographics.sql",
        include_str!("../../migrations/sqlite/0005_demographics.sql"),
    ),
    (
        6,
        "0006_binary_data.sql",
        include_str!("../../migrations/sqlite/0006_binary_data.sql"),
    ),
    (
        7,
        "0007_record.sql",
        include_str!("../../migrations/sqlite/0007_record.sql"),
    ),
    (
        8,
        "0008_messaging.sql",
        include_str!("../../migrations/sqlite/0008_messaging.sql"),
    ),
    (
        9,
        "0009_faults.sql",
        include_str!("../../migrations/sqlite/0009_faults.sql"),
    ),
    (
        10,
        "0010_namespaces.sql",
        include_str!("../../migrations/sqlite/0010_namespaces.sql"),
    ),
    (
        11,
        "0011_record_token.sql",
        include_str!("../../migrations/sqlite/0011_record_token.sql"),
    ),
    (
        12,
        "0012_messages_token.sql",
        include_str!("../../migrations/sqlite/0012_messages_token.sql"),
    ),
    (
        13,
        "0013_appointments_in_order.sql",
        include_str!("../../migrations/sqlite/0013_appointments_in_order.sql"),
    ),
    (
        14,
        "0014_access_log_without_autoincrement.sql",
        include_str!("../../migrations/sqlite/0014_access_log_without_autoincrement.sql"),
    ),
];

/// Applies the migrations the database has not had, all in one transaction.
///
/// A database written by the earlier sqlx-based store records its migrations in
/// `_sqlx_migrations` instead of `user_version`; those count as applied.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let err = map_err("migrations");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let mut version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(&err)?;
    if version == 0 {
        let sqlx: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                                WHERE type = 'table' AND name = '_sqlx_migrations')",
                [],
                |row| row.get(0),
            )
            .map_err(&err)?;
        if sqlx {
            let applied: Option<i64> = tx
                .query_row(
                    "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                    [],
                    |row| row.get(0),
                )
                .map_err(&err)?;
            version = applied.unwrap_or(0);
        }
    }
    let known = MIGRATIONS.last().map_or(0, |(v, _, _)| i64::from(*v));
    if version > known {
        return Err(StoreError::Other(format!(
            "migrations: the database has schema version {version}, newer than this build's {known}"
        )));
    }
    for (v, name, sql) in MIGRATIONS {
        if i64::from(*v) <= version {
            continue;
        }
        tx.execute_batch(sql).map_err(&err)?;
        tracing::info!(migration = name, "applied sqlite migration");
    }
    tx.pragma_update(None, "user_version", known)
        .map_err(&err)?;
    tx.commit().map_err(&err)
}
