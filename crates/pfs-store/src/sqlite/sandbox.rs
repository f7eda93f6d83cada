//! Sandbox snapshots: [`SandboxStore`] as database files beside the live one.
//!
//! A snapshot is `snapshots/<name>.db` in the database's directory, written with
//! `VACUUM INTO` on the writer connection (so no write lands half in it) to a temporary name
//! and renamed into place, then stamped with when it was taken in a table of its own. A restore
//! attaches the file to the writer connection and, in one transaction, empties every table of
//! the live database, copies the snapshot's rows in and checks every foreign key.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::store::{SandboxStore, SnapshotInfo, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use super::sql::map_err;

/// The table a snapshot file records when it was taken in; not a table of the live schema.
const STAMP_TABLE: &str = "pfs_snapshot";

impl SqliteStore {
    fn snapshot_dir(&self) -> PathBuf {
        let db = &self.inner.readers.path;
        db.parent()
            .unwrap_or_else(|| Path::new("."))
            .join("snapshots")
    }

    fn snapshot_path(&self, name: &str) -> StoreResult<PathBuf> {
        // A name that could leave the directory is refused here too.
        if !crate::snapshot_name_ok(name) {
            return Err(StoreError::Other("snapshot: invalid name".into()));
        }
        Ok(self.snapshot_dir().join(format!("{name}.db")))
    }
}

#[async_trait]
impl SandboxStore for SqliteStore {
    async fn save_snapshot(&self, name: &str, taken_at: DateTime<Utc>) -> StoreResult<()> {
        let path = self.snapshot_path(name)?;
        let dir = self.snapshot_dir();
        let io = |e: std::io::Error| StoreError::Other(format!("snapshot: {}", e.kind()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let partial = dir.join(format!(".{name}.partial"));
        // A partial file left by a crash would make VACUUM INTO fail.
        match std::fs::remove_file(&partial) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let target = partial.to_string_lossy().into_owned();
        self.write(|c| {
            c.execute("VACUUM INTO ?1", [&target])
                .map_err(map_err("snapshot"))?;
            Ok(())
        })
        .await?;
        let stamped = Connection::open(&partial).and_then(|c| {
            c.execute_batch(&format!(
                "CREATE TABLE {STAMP_TABLE} (taken_at INTEGER NOT NULL)"
            ))?;
            c.execute(
                &format!("INSERT INTO {STAMP_TABLE} (taken_at) VALUES (?1)"),
                [taken_at.timestamp_millis()],
            )?;
            c.close().map_err(|(_, e)| e)
        });
        if let Err(e) = stamped {
            let _ = std::fs::remove_file(&partial);
            return Err(map_err("snapshot")(e));
        }
        std::fs::rename(&partial, &path).map_err(io)
    }

    async fn restore_snapshot(&self, name: &str) -> StoreResult<()> {
        let path = self.snapshot_path(name)?;
        if !path.is_file() {
            return Err(StoreError::NotFound("snapshot".into()));
        }
        let path = path.to_string_lossy().into_owned();
        self.write(|c| {
            let err = map_err("snapshot");
            c.execute("ATTACH DATABASE ?1 AS snapshot", [&path])
                .map_err(&err)?;
            // Foreign keys are off while the tables are swapped (SQLite's deferred check
            // miscounts a whole-database swap) and checked in full before the commit instead;
            // both settings are put back whatever happened.
            let copied = c
                .execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(&err)
                .and_then(|()| copy_from_attached(c));
            let keys_on = c.execute_batch("PRAGMA foreign_keys = ON").map_err(&err);
            let detached = c.execute_batch("DETACH DATABASE snapshot").map_err(&err);
            copied?;
            keys_on?;
            detached
        })
        .await
    }

    async fn list_snapshots(&self) -> StoreResult<Vec<SnapshotInfo>> {
        let entries = match std::fs::read_dir(self.snapshot_dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::Other(format!("snapshot: {}", e.kind()))),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".db")) else {
                continue;
            };
            if self.snapshot_path(name).is_err() {
                continue;
            }
            out.push(SnapshotInfo {
                name: name.to_owned(),
                taken_at: taken_at(&entry.path())?,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn delete_snapshot(&self, name: &str) -> StoreResult<()> {
        match std::fs::remove_file(self.snapshot_path(name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound("snapshot".into()))
            }
            Err(e) => Err(StoreError::Other(format!("snapshot: {}", e.kind()))),
        }
    }
}

/// When the snapshot file at `path` was taken.
fn taken_at(path: &Path) -> StoreResult<DateTime<Utc>> {
    let err = map_err("snapshot");
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(&err)?;
    let ms: Option<i64> = conn
        .query_row(&format!("SELECT taken_at FROM {STAMP_TABLE}"), [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(&err)?;
    ms.and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| StoreError::Other("snapshot: not stamped".into()))
}

/// In one transaction: every table of the live database emptied, then filled from the attached
/// `snapshot`, and every foreign key checked before the commit. Refused (`Conflict`) if the
/// snapshot was taken by another version of the schema. The caller turns foreign keys off, so
/// the tables may be emptied and filled in any order (and `DELETE` is SQLite's truncate).
fn copy_from_attached(c: &mut Connection) -> StoreResult<()> {
    let err = map_err("snapshot");
    let version = |schema: &str| -> rusqlite::Result<i64> {
        c.query_row(&format!("PRAGMA {schema}.user_version"), [], |r| r.get(0))
    };
    if version("main").map_err(&err)? != version("snapshot").map_err(&err)? {
        return Err(StoreError::Conflict(
            "snapshot taken by another version of the schema".into(),
        ));
    }
    let tables: Vec<String> = {
        let mut st = c
            .prepare(
                "SELECT name FROM main.sqlite_master
                 WHERE type = 'table' AND (name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                                           OR name = 'sqlite_sequence')
                 ORDER BY name",
            )
            .map_err(&err)?;
        let names = st.query_map([], |r| r.get::<_, String>(0)).map_err(&err)?;
        names
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(&err)?
            .into_iter()
            .filter(|t| !crate::NOT_IN_SNAPSHOTS.contains(&t.as_str()))
            .collect()
    };
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    // Names come from the live schema, not from the request; quoted all the same.
    let quoted: Vec<String> = tables
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    // Every table is emptied before any is filled, so that nothing of the live data is left
    // whatever the order.
    for t in &quoted {
        tx.execute_batch(&format!("DELETE FROM main.{t};"))
            .map_err(&err)?;
    }
    for t in &quoted {
        tx.execute_batch(&format!("INSERT INTO main.{t} SELECT * FROM snapshot.{t};"))
            .map_err(&err)?;
    }
    let broken = tx
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(&err)?;
    if broken > 0 {
        // Dropping the transaction rolls it back.
        return Err(StoreError::Other(
            "snapshot: its rows break the schema's foreign keys".into(),
        ));
    }
    tx.commit().map_err(&err)
}
