//! What every area shares: statement helpers, conversions, column access, helpers used by
//! several areas and the mapping of SQLite errors to [`StoreError`].

use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::store::{StoreError, StoreResult};
use rusqlite::types::FromSql;
use rusqlite::{Connection, Params, Row, TransactionBehavior, ffi, params};

// --- statements --------------------------------------------------------------------------------

/// Runs a query expected to return at most one row.
pub(super) fn query_opt<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let err = map_err(table);
    let mut stmt = conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params).map_err(&err)?;
    match rows.next().map_err(&err)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a query and maps every row.
pub(super) fn query_all<T>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let err = map_err(table);
    let mut stmt = conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs a statement; returns how many rows it changed.
pub(super) fn execute(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    params: impl Params,
) -> StoreResult<usize> {
    let err = map_err(table);
    conn.prepare_cached(sql)
        .map_err(&err)?
        .execute(params)
        .map_err(&err)
}

/// A read transaction on one connection, begun and ended with cached statements: rusqlite's
/// `Transaction` parses `BEGIN` and `COMMIT` afresh every time, which showed in profiles of
/// the session read. Ends itself on drop (an error or a panic in between), so that the
/// connection goes back to its pool outside any transaction.
pub(super) struct ReadTx<'c>(&'c Connection);

impl<'c> ReadTx<'c> {
    pub(super) fn begin(c: &'c Connection) -> rusqlite::Result<ReadTx<'c>> {
        c.prepare_cached("BEGIN")?.execute([])?;
        Ok(ReadTx(c))
    }

    /// Ends the transaction (it wrote nothing: `COMMIT` only lets go of the snapshot).
    pub(super) fn end(self) -> rusqlite::Result<()> {
        let c = self.0;
        std::mem::forget(self);
        c.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            // Nothing to report to: the statement that failed has already said why.
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

// --- conversions -------------------------------------------------------------------------------

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

pub(super) use crate::dates::date_text;

/// Typed, error-mapped column access for one row of one table. Columns are read by position
/// (the order of the SELECT list); the name is for error texts.
pub(super) struct Cols<'a, 'r> {
    pub(super) row: &'a Row<'r>,
    pub(super) table: &'static str,
    /// Where this table's columns start in the row (non-zero in joins).
    pub(super) offset: usize,
}

impl<'a, 'r> Cols<'a, 'r> {
    pub(super) fn new(row: &'a Row<'r>, table: &'static str) -> Self {
        Cols {
            row,
            table,
            offset: 0,
        }
    }

    pub(super) fn corrupt(&self, column: &str, what: &str) -> StoreError {
        StoreError::Other(format!("{}.{column}: {what}", self.table))
    }

    pub(super) fn get<T: FromSql>(&self, idx: usize, column: &'static str) -> StoreResult<T> {
        self.row
            .get(idx + self.offset)
            .map_err(|_| self.corrupt(column, "cannot decode"))
    }

    pub(super) fn text(&self, idx: usize, column: &'static str) -> StoreResult<&'a str> {
        self.row
            .get_ref(idx + self.offset)
            .ok()
            .and_then(|v| v.as_str().ok())
            .ok_or_else(|| self.corrupt(column, "cannot decode"))
    }

    pub(super) fn instant(&self, idx: usize, column: &'static str) -> StoreResult<DateTime<Utc>> {
        let v: i64 = self.get(idx, column)?;
        DateTime::from_timestamp_millis(v)
            .ok_or_else(|| self.corrupt(column, "instant out of range"))
    }

    pub(super) fn opt_instant(
        &self,
        idx: usize,
        column: &'static str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = self.get(idx, column)?;
        v.map(|v| {
            DateTime::from_timestamp_millis(v)
                .ok_or_else(|| self.corrupt(column, "instant out of range"))
        })
        .transpose()
    }

    pub(super) fn date(&self, idx: usize, column: &'static str) -> StoreResult<NaiveDate> {
        crate::dates::parse_date(self.text(idx, column)?)
            .ok_or_else(|| self.corrupt(column, "not a date"))
    }
}

/// Marks row `id` of `table` ended (an earlier time is kept, `mark` uses `COALESCE`) and ends
/// its open sessions, in one transaction; false if there is no such row.
pub(super) fn end_with_sessions(
    c: &mut Connection,
    table: &'static str,
    mark: &str,
    end_sessions: &str,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let err = map_err(table);
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    if execute(&tx, table, mark, params![id, ms(at)])? == 0 {
        return Ok(false);
    }
    execute(&tx, "sessions", end_sessions, params![id, ms(at)])?;
    tx.commit().map_err(&err)?;
    Ok(true)
}

pub(super) fn present(_: &Row<'_>) -> StoreResult<()> {
    Ok(())
}

// --- errors ------------------------------------------------------------------------------------

/// What rows of `table` refer to, for `NotFound` on a foreign key violation.
fn referenced(table: &str) -> &'static str {
    match table {
        "patients" => "practice",
        "online_accounts" => "patient",
        "linkage_keys" => "account",
        "provider_links" => "account or provider",
        "proxy_grants" => "patient",
        "practice_services" => "practice",
        "patient_services" => "patient",
        "sessions" => "provider, account or patient",
        "appointment_sessions" => "practice",
        "appointments" => "appointment session or patient",
        "record_accesses" => "patient",
        "medication_courses" | "medication_versions" => "patient",
        "medication_list_views" => "session or patient",
        "prescription_requests" => "patient or course",
        "contact_details" | "demographics_changes" => "patient",
        "nominated_pharmacies" => "patient or pharmacy",
        "message_recipients" => "practice",
        "messages" => "patient or message recipient",
        "message_attachments" => "message",
        _ => "referenced row",
    }
}

/// SQLite primary result codes after which retrying later may work.
pub(super) fn transient(code: i64) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    const PROTOCOL: i64 = 15;
    matches!(
        code & 0xff,
        BUSY | LOCKED | IOERR | FULL | CANTOPEN | PROTOCOL
    )
}

/// The key named by SQLite's `UNIQUE constraint failed: t.a, t.b`, if it names only columns.
pub(super) fn unique_key(message: &str) -> Option<&str> {
    let key = message.split_once("failed: ")?.1.trim();
    let identifier_only = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | ' '));
    identifier_only.then_some(key)
}

/// Maps a rusqlite error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys and error kinds only. SQLite's own messages qualify (every value
/// is a bound parameter, and its messages quote SQL, not parameters); other rusqlite errors are
/// reduced to a fixed label because their texts may carry data.
pub(super) fn map_err(table: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e {
        rusqlite::Error::SqliteFailure(err, message) => match err.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreError::Conflict(
                    message
                        .as_deref()
                        .and_then(unique_key)
                        .unwrap_or(table)
                        .to_owned(),
                )
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound(referenced(table).to_owned()),
            code => {
                let text = match message {
                    Some(message) => format!("{table}: {message} (code {code})"),
                    None => format!("{table}: {err} (code {code})"),
                };
                if transient(i64::from(code)) {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Other(text)
                }
            }
        },
        rusqlite::Error::QueryReturnedNoRows => {
            StoreError::Other(format!("{table}: row not found"))
        }
        rusqlite::Error::InvalidColumnIndex(_)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::QueryReturnedMoreThanOneRow
        | rusqlite::Error::ExecuteReturnedResults => {
            StoreError::Other(format!("{table}: unexpected result shape"))
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => {
            StoreError::Other(format!("{table}: cannot decode a column"))
        }
        rusqlite::Error::ToSqlConversionFailure(_) | rusqlite::Error::NulError(_) => {
            StoreError::Other(format!("{table}: cannot encode a value"))
        }
        rusqlite::Error::InvalidPath(_) => {
            StoreError::Unavailable(format!("{table}: invalid path"))
        }
        _ => StoreError::Other(format!("{table}: unexpected database error")),
    }
}
