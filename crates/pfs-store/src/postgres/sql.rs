//! Shared statement helpers: running reads and writes, conversions between model values and
//! columns ([`Cols`]), and mapping driver errors to [`StoreError`]s.

use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::RecordAccess;
use pfs_core::{StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use super::{Db, Params};

// --- statements --------------------------------------------------------------------------------

/// The six fields of an access-log entry, in column order (patient_id, at_ms, accessed_by,
/// organisation, access_type, method), as owned parameter values.
pub(super) struct AccessParams<'a> {
    access: &'a RecordAccess,
    at_ms: i64,
}

impl<'a> AccessParams<'a> {
    pub(super) fn new(access: &'a RecordAccess) -> Self {
        AccessParams {
            access,
            at_ms: ms(access.at),
        }
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        let a = self.access;
        [
            &a.patient_id,
            &self.at_ms,
            &a.accessed_by,
            &a.organisation,
            &a.access_type,
            &a.method,
        ]
    }
}

/// A group of access-log entries as the six arrays of `insert_log_group_sql!`, column by
/// column in the group's order.
pub(super) struct AccessGroupParams<'a> {
    patients: Vec<&'a str>,
    at_ms: Vec<i64>,
    by: Vec<&'a str>,
    organisations: Vec<&'a str>,
    types: Vec<&'a str>,
    methods: Vec<&'a str>,
}

impl<'a> AccessGroupParams<'a> {
    pub(super) fn new(entries: &[&'a RecordAccess]) -> Self {
        let column = |f: fn(&'a RecordAccess) -> &'a str| entries.iter().map(|&a| f(a)).collect();
        AccessGroupParams {
            patients: column(|a| &a.patient_id),
            at_ms: entries.iter().map(|a| ms(a.at)).collect(),
            by: column(|a| &a.accessed_by),
            organisations: column(|a| &a.organisation),
            types: column(|a| &a.access_type),
            methods: column(|a| &a.method),
        }
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.patients,
            &self.at_ms,
            &self.by,
            &self.organisations,
            &self.types,
            &self.methods,
        ]
    }
}

pub(super) async fn query_opt<T>(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
    map: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    db.read(table, sql, params)
        .await?
        .first()
        .map(map)
        .transpose()
}

pub(super) async fn query_all<T>(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
    map: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    db.read(table, sql, params).await?.iter().map(map).collect()
}

/// Runs a write statement; the number of rows it changed.
pub(super) async fn execute(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    params: Params<'_>,
) -> StoreResult<u64> {
    db.write(table, async |c| {
        let st = c.statement(sql).await?;
        c.client.execute(&st, params).await
    })
    .await
}

/// Runs an "end this row and its open sessions" statement (its `$1` the row's id, `$2` the
/// time, a row back if the row exists); false if there is no such row.
pub(super) async fn ended(
    db: &Db,
    table: &'static str,
    sql: &'static str,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let at = ms(at);
    db.write(table, async |c| {
        let st = c.statement(sql).await?;
        c.client.query_opt(&st, &[&id, &at]).await
    })
    .await
    .map(|row| row.is_some())
}

// --- conversions -------------------------------------------------------------------------------

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

pub(super) use crate::dates::date_text;

pub(super) struct Cols<'r> {
    pub(super) row: &'r Row,
    pub(super) table: &'static str,
    /// Where this table's columns start in the row (non-zero in joins).
    pub(super) offset: usize,
}

impl<'r> Cols<'r> {
    pub(super) fn new(row: &'r Row, table: &'static str) -> Self {
        Cols {
            row,
            table,
            offset: 0,
        }
    }

    pub(super) fn corrupt(&self, column: &str, what: &str) -> StoreError {
        StoreError::Other(format!("{}.{column}: {what}", self.table))
    }

    pub(super) fn get<T>(&self, idx: usize, column: &'static str) -> StoreResult<T>
    where
        T: for<'a> FromSql<'a>,
    {
        self.row
            .try_get(idx + self.offset)
            .map_err(|_| self.corrupt(column, "cannot decode"))
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
        let text: String = self.get(idx, column)?;
        crate::dates::parse_date(&text).ok_or_else(|| self.corrupt(column, "not a date"))
    }
}

pub(super) fn present(_: &Row) -> StoreResult<()> {
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

/// The `table.column` text of a unique constraint, as SQLite words it.
pub(super) fn unique_key(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "providers_pkey" => "providers.id",
        "providers_fingerprint_key" => "providers.fingerprint",
        "practices_pkey" => "practices.ods",
        "patients_pkey" => "patients.id",
        "patients_nhs_number_key" => "patients.nhs_number",
        "online_accounts_pkey" => "online_accounts.id",
        "online_accounts_patient_id_key" => "online_accounts.patient_id",
        "linkage_keys_pkey" => "linkage_keys.account_id",
        "provider_links_pkey" => "provider_links.account_id, provider_links.provider_id",
        "link_throttles_pkey" => "link_throttles.account_id, link_throttles.provider_id",
        "proxy_grants_pkey" => "proxy_grants.grantee_id, proxy_grants.patient_id",
        "practice_services_pkey" => "practice_services.ods, practice_services.service",
        "patient_services_pkey" => "patient_services.patient_id, patient_services.service",
        "sessions_pkey" => "sessions.suid_hash",
        "appointment_sessions_pkey" => "appointment_sessions.id",
        "appointments_pkey" => "appointments.id",
        "appointments_slot_key" => "appointments.session_id, appointments.start_ms",
        "medication_courses_pkey" => "medication_courses.id",
        "medication_versions_pkey" => "medication_versions.patient_id",
        "medication_list_views_pkey" => {
            "medication_list_views.suid_hash, medication_list_views.patient_id"
        }
        "prescription_requests_pkey" => "prescription_requests.id",
        "prescription_request_items_pkey" => {
            "prescription_request_items.request_id, prescription_request_items.position"
        }
        "outstanding_courses_pkey" => "outstanding_courses.course_id",
        "contact_details_pkey" => "contact_details.patient_id",
        "demographics_changes_pkey" => "demographics_changes.id",
        "pharmacies_pkey" => "pharmacies.ods",
        "nominated_pharmacies_pkey" => "nominated_pharmacies.patient_id",
        "message_recipients_pkey" => "message_recipients.id",
        "messages_pkey" => "messages.id",
        "message_attachments_pkey" => {
            "message_attachments.message_id, message_attachments.position"
        }
        "message_attachments_binary_data_id_key" => "message_attachments.binary_data_id",
        "sandbox_namespaces_pkey" => "sandbox_namespaces.name",
        "sandbox_namespaces_number_key" => "sandbox_namespaces.number",
        "sandbox_namespaces_ods_key" => "sandbox_namespaces.ods",
        _ => return None,
    })
}

/// SQLSTATEs after which retrying later may work: the connection or the server failed, the
/// server is shutting down or out of resources, the statement timed out or lost a lock or
/// serialization race, or the database refuses connections or does not exist (yet).
pub(super) fn transient(code: &str) -> bool {
    matches!(
        code.get(..2),
        Some("08" | "40" | "53" | "57" | "58" | "28" | "3D")
    ) || matches!(code, "55000" | "55006" | "55P03")
}

/// Maps a driver error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys, error kinds and SQLSTATEs only: PostgreSQL's messages may
/// quote values, so none is passed on.
pub(super) fn map_err(table: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        if let Some(db) = e.as_db_error() {
            return match db.code().code() {
                // unique_violation
                "23505" => StoreError::Conflict(
                    db.constraint()
                        .and_then(unique_key)
                        .unwrap_or(table)
                        .to_owned(),
                ),
                // foreign_key_violation
                "23503" => StoreError::NotFound(referenced(table).to_owned()),
                "57014" => StoreError::Unavailable(format!(
                    "{table}: statement timed out or was cancelled (SQLSTATE 57014)"
                )),
                code if transient(code) => {
                    StoreError::Unavailable(format!("{table}: database error (SQLSTATE {code})"))
                }
                code => StoreError::Other(format!("{table}: database error (SQLSTATE {code})")),
            };
        }
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io {
            StoreError::Unavailable(format!("{table}: cannot reach the database"))
        } else {
            // Encoding a parameter, decoding a column, or a protocol surprise.
            StoreError::Other(format!("{table}: unexpected database error"))
        }
    }
}
