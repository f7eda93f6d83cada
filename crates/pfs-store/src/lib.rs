//! Store implementations for openpfs.
//!
//! * [`SqliteStore`]: the embedded backend, one SQLite database file (WAL) with one writer
//!   connection and a small pool of read connections, used inline on the calling task, with
//!   its schema in `migrations/sqlite` applied on open.
//! * [`PostgresStore`]: a PostgreSQL database shared by any number of server instances, on
//!   tokio-postgres: reads pipelined over a shared connection, writes on pooled ones, every
//!   connection with a statement timeout, and its schema in `migrations/postgres` applied on
//!   connect.
//! * [`suite`]: the conformance suite every backend must pass; each backend's integration
//!   tests run every case of it against a fresh database.
//!
//! Every backend persists instants as unix milliseconds, so a stored instant reads back
//! truncated to the millisecond.

mod cascade;
mod dates;
pub mod pg_testing;
pub mod postgres;
pub mod sqlite;
pub mod suite;
pub mod timing;

pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use timing::StoreTimers;

/// Tables that sandbox snapshots leave alone: the schema's own bookkeeping (a database
/// migrated by an early release may have sqlx's table), the fault-injection rules, which are
/// the test's controls rather than practice or patient data (a suite that restores its data
/// before each test keeps the faults it set, and every instance's copy of the rules stays
/// true), and PostgreSQL's context generation, which must never go back (instances' copies
/// are tagged with it).
pub(crate) const NOT_IN_SNAPSHOTS: &[&str] = &[
    "_sqlx_migrations",
    "fault_rules",
    "fault_rules_version",
    "context_generation",
];

/// Whether `name` may name a snapshot: 1 to 40 lower-case letters, digits, `-` and `_`. The
/// caller (pfs-core) checks names first; each backend checks again, since a name is part of a
/// file path (SQLite) or a schema name (PostgreSQL).
pub(crate) fn snapshot_name_ok(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
