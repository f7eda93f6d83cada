//! Store implementations for openpfs.
//!
//! * [`SqliteStore`]: the embedded backend, one SQLite database file (WAL) with one writer
//!   connection and a small pool of read connections, used inline on the calling task, with
//!   its schema in `migrations/sqlite` applied on open.
//! * [`suite`]: the conformance suite every backend must pass; each backend's integration
//!   tests run every case of it against a fresh database.
//!
//! Every backend persists instants as unix milliseconds, so a stored instant reads back
//! truncated to the millisecond.

pub mod sqlite;
pub mod suite;

pub use sqlite::{SqliteOptions, SqliteStore};
