//! The schema migrations (`migrations/postgres`) and applying them with sqlx's migrator.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use pfs_core::{StoreError, StoreResult};
use sqlx_core::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx_core::sql_str::SqlSafeStr;
use sqlx_postgres::{PgConnectOptions, PgPoolOptions};

use super::sql::transient;
use super::{connect_options, timed_out};

/// The schema migrations, in order: `(version, description, SQL)`.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "appointments",
        include_str!("../../migrations/postgres/0002_appointments.sql"),
    ),
    (
        3,
        "booking_function",
        include_str!("../../migrations/postgres/0003_booking_function.sql"),
    ),
    (
        4,
        "accounts",
        include_str!("../../migrations/postgres/0004_accounts.sql"),
    ),
    (
        5,
        "medication",
        include_str!("../../migrations/postgres/0005_medication.sql"),
    ),
    (
        6,
        "demographics",
        include_str!("../../migrations/postgres/0006_demographics.sql"),
    ),
    (
        7,
        "binary_data",
        include_str!("../../migrations/postgres/0007_binary_data.sql"),
    ),
    (
        8,
        "record",
        include_str!("../../migrations/postgres/0008_record.sql"),
    ),
    (
        9,
        "messaging",
        include_str!("../../migrations/postgres/0009_messaging.sql"),
    ),
    (
        10,
        "faults",
        include_str!("../../migrations/postgres/0010_faults.sql"),
    ),
    (
        11,
        "namespaces",
        include_str!("../../migrations/postgres/0011_namespaces.sql"),
    ),
    (
        12,
        "record_token",
        include_str!("../../migrations/postgres/0012_record_token.sql"),
    ),
    (
        13,
        "messages_token",
        include_str!("../../migrations/postgres/0013_messages_token.sql"),
    ),
    (
        14,
        "context_generation",
        include_str!("../../migrations/postgres/0014_context_generation.sql"),
    ),
    (
        15,
        "access_log_without_foreign_key",
        include_str!("../../migrations/postgres/0015_access_log_without_foreign_key.sql"),
    ),
    (
        16,
        "medication_token",
        include_str!("../../migrations/postgres/0016_medication_token.sql"),
    ),
    (
        17,
        "appointments_token",
        include_str!("../../migrations/postgres/0017_appointments_token.sql"),
    ),
    (
        18,
        "access_log_one_index",
        include_str!("../../migrations/postgres/0018_access_log_one_index.sql"),
    ),
];

/// Applies the migrations the database at `url` has not had, then disconnects: for operators
/// who migrate before starting (or upgrading) the servers. `ca_file` is trusted for TLS when the
/// URL names no CA (`sslrootcert`).
pub async fn migrate(url: &str, ca_file: Option<&Path>) -> StoreResult<()> {
    migrate_with(connect_options(url, ca_file)?, Duration::from_secs(30)).await
}

pub(super) async fn migrate_with(
    options: PgConnectOptions,
    acquire_timeout: Duration,
) -> StoreResult<()> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .map_err(migrate_err)?;
    let result = migrator().run(&pool).await.map_err(|e| match e {
        MigrateError::Execute(e) => migrate_err(e),
        MigrateError::VersionTooNew(v, _)
        | MigrateError::VersionMissing(v) => StoreError::Other(format!(
            "migrations: the database has migration {v}, which this build does not know (newer schema?)"
        )),
        MigrateError::VersionMismatch(v) => StoreError::Other(format!(
            "migrations: migration {v} was applied with different SQL"
        )),
        _ => StoreError::Other("migrations: cannot apply the PostgreSQL migrations".into()),
    });
    pool.close().await;
    result
}

/// Maps an sqlx error met while migrating. Like [`map_err`], the text never quotes PostgreSQL's
/// messages, which may contain values.
///
/// [`map_err`]: super::sql::map_err
fn migrate_err(e: sqlx_core::Error) -> StoreError {
    match e {
        sqlx_core::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if transient(&code) {
                StoreError::Unavailable(format!("migrations: database error (SQLSTATE {code})"))
            } else {
                StoreError::Other(format!("migrations: database error (SQLSTATE {code})"))
            }
        }
        sqlx_core::Error::Io(_) | sqlx_core::Error::Tls(_) | sqlx_core::Error::Protocol(_) => {
            StoreError::Unavailable("migrations: cannot reach the database".into())
        }
        sqlx_core::Error::PoolTimedOut => timed_out("migrations"),
        _ => StoreError::Other("migrations: unexpected database error".into()),
    }
}

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}
