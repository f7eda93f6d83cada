//! Medication courses, list versions and prescription requests: [`MedicationStore`].
//!
//! A course change is one statement (the course written, then the patient's list version
//! moved, in a data-modifying CTE). An order, an amendment and the settling of a request are
//! each one call of a PL/pgSQL function of migration 0005, which says how the version check and
//! the writes stay one transaction and how `outstanding_courses`' primary key decides between
//! concurrent orders of a course. The functions answer their outcome as text, mapped here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    MedicationCourse, MedicationList, MedicationView, OrderOutcome, PrescriptionItem,
    PrescriptionRequest, PrescriptionStatus, RecordAccess,
};
use pfs_core::store::{MedicationStore, StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::access_log::insert_log_group_sql;
use super::sql::{
    AccessGroupParams, AccessParams, Cols, date_text, execute, ms, opt_ms, query_all, query_opt,
};
use super::{Params, PostgresStore};

/// Selects a course's columns (as read by `course_at`) from `medication_courses c`.
macro_rules! select_courses {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.patient_id, c.drug, c.details, c.course_type, c.requestable,
                    c.online_visible, to_char(c.started_on, 'YYYY-MM-DD'),
                    to_char(c.stopped_on, 'YYYY-MM-DD'), c.last_issued_at, c.issue_count,
                    c.max_issues
             FROM medication_courses c ",
            $rest
        )
    };
}

fn course_row(row: &Row) -> StoreResult<MedicationCourse> {
    course_at(row, 0)
}

/// A course whose 12 columns start at `offset`.
fn course_at(row: &Row, offset: usize) -> StoreResult<MedicationCourse> {
    let c = Cols {
        offset,
        ..Cols::new(row, "medication_courses")
    };
    let count = |n: i64, name| u32::try_from(n).map_err(|_| c.corrupt(name, "out of range"));
    let max_issues: Option<i64> = c.get(11, "max_issues")?;
    Ok(MedicationCourse {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        drug: c.get(2, "drug")?,
        details: c.get(3, "details")?,
        course_type: c
            .get::<String>(4, "course_type")?
            .parse()
            .map_err(|_| c.corrupt("course_type", "not a course type"))?,
        requestable: c.get(5, "requestable")?,
        online_visible: c.get(6, "online_visible")?,
        started_on: c.date(7, "started_on")?,
        stopped_on: match c.get::<Option<String>>(8, "stopped_on")? {
            None => None,
            Some(_) => Some(c.date(8, "stopped_on")?),
        },
        last_issued_at: c.opt_instant(9, "last_issued_at")?,
        issue_count: count(c.get(10, "issue_count")?, "issue_count")?,
        max_issues: max_issues.map(|n| count(n, "max_issues")).transpose()?,
    })
}

/// One row of [`MedicationStore::medication_list`]'s statement: the list's version, the
/// version the session saw, and one course (if the patient has any) with its outstanding
/// request.
type ListRow = (i64, Option<i64>, Option<(MedicationCourse, Option<String>)>);

fn list_row(row: &Row) -> StoreResult<ListRow> {
    list_row_at(row, 0)
}

/// A list's version and the version the session saw, in the two columns from `offset`.
pub(super) fn list_versions_at(row: &Row, offset: usize) -> StoreResult<(i64, Option<i64>)> {
    let at = |table| Cols {
        offset,
        ..Cols::new(row, table)
    };
    Ok((
        at("medication_versions").get(0, "version")?,
        at("medication_list_views").get(1, "version")?,
    ))
}

/// A [`ListRow`] whose 15 columns start at `offset`.
pub(super) fn list_row_at(row: &Row, offset: usize) -> StoreResult<ListRow> {
    let at = |table| Cols {
        offset,
        ..Cols::new(row, table)
    };
    let (version, seen) = list_versions_at(row, offset)?;
    let course = match at("medication_courses").get::<Option<String>>(2, "id")? {
        None => None,
        Some(_) => {
            let outstanding = at("outstanding_courses").get(14, "request_id")?;
            Some((course_at(row, offset + 2)?, outstanding))
        }
    };
    Ok((version, seen, course))
}

/// Adds a [`ListRow`] to `list`.
pub(super) fn add_list_row(list: &mut MedicationList, (version, seen, course): ListRow) {
    list.version = version;
    list.seen_version = seen;
    list.courses.extend(course);
}

/// Puts a list's courses in their order: by drug then id, bytewise as SQLite compares them,
/// whatever the database's collation (which would put "amlodipine" before "Atenolol").
pub(super) fn sort_courses(list: &mut MedicationList) {
    list.courses
        .sort_by(|(a, _), (b, _)| (&a.drug, &a.id).cmp(&(&b.drug, &b.id)));
}

/// Selects requests with their items, one row per item (as read by `request_item_row`), in
/// the order `$order` gives (which must keep a request's rows together, by item position).
/// Ids are compared bytewise (`COLLATE "C"`), as SQLite does, whatever the database's
/// collation.
macro_rules! request_rows {
    ($where:literal, $order:literal) => {
        concat!(
            "SELECT r.id, r.patient_id, r.requested_by, r.requested_at, r.notes, r.status,
                    r.status_at, r.practice_comment, i.course_id, i.drug, i.course_type
             FROM prescription_requests r
             JOIN prescription_request_items i ON i.request_id = r.id ",
            $where,
            " ORDER BY ",
            $order
        )
    };
}

fn request_item_row(row: &Row) -> StoreResult<(PrescriptionRequest, PrescriptionItem)> {
    let c = Cols::new(row, "prescription_requests");
    let request = PrescriptionRequest {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        requested_by: c.get(2, "requested_by")?,
        requested_at: c.instant(3, "requested_at")?,
        notes: c.get(4, "notes")?,
        status: c
            .get::<String>(5, "status")?
            .parse()
            .map_err(|_| c.corrupt("status", "not a request status"))?,
        status_at: c.instant(6, "status_at")?,
        practice_comment: c.get(7, "practice_comment")?,
        items: Vec::new(),
    };
    let i = Cols::new(row, "prescription_request_items");
    let item = PrescriptionItem {
        course_id: i.get(8, "course_id")?,
        drug: i.get(9, "drug")?,
        course_type: i
            .get::<String>(10, "course_type")?
            .parse()
            .map_err(|_| i.corrupt("course_type", "not a course type"))?,
    };
    Ok((request, item))
}

/// Folds item rows (a request's rows together) into requests.
fn group_requests(rows: Vec<(PrescriptionRequest, PrescriptionItem)>) -> Vec<PrescriptionRequest> {
    let mut out: Vec<PrescriptionRequest> = Vec::new();
    for (request, item) in rows {
        match out.last_mut() {
            Some(last) if last.id == request.id => last.items.push(item),
            _ => out.push(PrescriptionRequest {
                items: vec![item],
                ..request
            }),
        }
    }
    out
}

/// A request's items as the three arrays the functions take.
struct ItemArrays<'a> {
    course_ids: Vec<&'a str>,
    drugs: Vec<&'a str>,
    course_types: Vec<&'static str>,
}

impl<'a> ItemArrays<'a> {
    fn new(items: &'a [PrescriptionItem]) -> Self {
        ItemArrays {
            course_ids: items.iter().map(|i| i.course_id.as_str()).collect(),
            drugs: items.iter().map(|i| i.drug.as_str()).collect(),
            course_types: items.iter().map(|i| i.course_type.as_str()).collect(),
        }
    }
}

/// Maps a function's outcome text to an [`OrderOutcome`].
fn order_outcome(text: &str) -> StoreResult<OrderOutcome> {
    let unexpected = || StoreError::Other("prescription_requests: unexpected outcome".into());
    Ok(match text {
        "stored" => OrderOutcome::Stored,
        "list_changed" => OrderOutcome::ListChanged,
        "already_requested" => OrderOutcome::AlreadyRequested,
        "not_found" => OrderOutcome::NotFound,
        _ => {
            let status = text.strip_prefix("actioned:").ok_or_else(unexpected)?;
            OrderOutcome::Actioned(status.parse().map_err(|_| unexpected())?)
        }
    })
}

/// Adds a course, then moves its patient's list to a new version (in that order: see the lock
/// order in migration 0005).
const INSERT_COURSE: &str = "WITH added AS (
         INSERT INTO medication_courses (id, patient_id, drug, details, course_type,
             requestable, online_visible, started_on, stopped_on, last_issued_at, issue_count,
             max_issues)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::date, $9::text::date, $10, $11, $12)
         RETURNING patient_id
     ),
     versioned AS (
         INSERT INTO medication_versions (patient_id, version)
         SELECT patient_id, 1 FROM added
         ON CONFLICT (patient_id) DO UPDATE SET version = medication_versions.version + 1
     )
     INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type, method)
     SELECT $13, $14, $15, $16, $17, $18 FROM added";

/// Replaces a course, then moves its patient's list to a new version; no row changed if there
/// is no such course (of that patient).
const UPDATE_COURSE: &str = "WITH changed AS (
         UPDATE medication_courses
         SET drug = $3, details = $4, course_type = $5, requestable = $6,
             online_visible = $7, started_on = $8::text::date, stopped_on = $9::text::date,
             last_issued_at = $10, issue_count = $11, max_issues = $12
         WHERE id = $1 AND patient_id = $2
         RETURNING patient_id
     ),
     versioned AS (
         INSERT INTO medication_versions (patient_id, version)
         SELECT patient_id, 1 FROM changed
         ON CONFLICT (patient_id) DO UPDATE SET version = medication_versions.version + 1
     )
     INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type, method)
     SELECT $13, $14, $15, $16, $17, $18 FROM changed";

impl PostgresStore {
    /// Runs one of the ordering functions of migration 0005 and maps its outcome.
    async fn order_call(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<OrderOutcome> {
        let outcome: String = self
            .db
            .write("prescription_requests", async |c| {
                let st = c.statement(sql).await?;
                c.client.query_one(&st, params).await?.try_get(0)
            })
            .await?;
        order_outcome(&outcome)
    }

    /// Runs [`INSERT_COURSE`] or [`UPDATE_COURSE`] (`$1..$12` the course's columns, `$13..$18`
    /// the log entry's); the courses it changed.
    async fn write_course(
        &self,
        sql: &'static str,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<u64> {
        let started = date_text(course.started_on);
        let stopped = course.stopped_on.map(date_text);
        let last = opt_ms(course.last_issued_at);
        let count = i64::from(course.issue_count);
        let max = course.max_issues.map(i64::from);
        let course_type = course.course_type.as_str();
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &course.id,
            &course.patient_id,
            &course.drug,
            &course.details,
            &course_type,
            &course.requestable,
            &course.online_visible,
            &started,
            &stopped,
            &last,
            &count,
            &max,
        ];
        params.extend(log.params());
        execute(&self.db, "medication_courses", sql, &params).await
    }
}

#[async_trait]
impl MedicationStore for PostgresStore {
    async fn insert_course(
        &self,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.write_course(INSERT_COURSE, course, log).await?;
        Ok(())
    }

    async fn update_course(
        &self,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        Ok(self.write_course(UPDATE_COURSE, course, log).await? > 0)
    }

    async fn course(&self, id: &str) -> StoreResult<Option<MedicationCourse>> {
        query_opt(
            &self.db,
            "medication_courses",
            select_courses!("WHERE c.id = $1"),
            &[&id],
            course_row,
        )
        .await
    }

    async fn medication_list(
        &self,
        patient_id: &str,
        suid_hash: Option<&str>,
    ) -> StoreResult<MedicationList> {
        // One statement, so one snapshot for the courses, their claims and the versions; a
        // patient without courses still gives the one row with the versions. Each claim is a
        // lookup per course (see `batch.rs`).
        let sql = "SELECT h.version, h.seen,
                    c.id, c.patient_id, c.drug, c.details, c.course_type, c.requestable,
                    c.online_visible, to_char(c.started_on, 'YYYY-MM-DD'),
                    to_char(c.stopped_on, 'YYYY-MM-DD'), c.last_issued_at, c.issue_count,
                    c.max_issues,
                    (SELECT o.request_id FROM outstanding_courses o WHERE o.course_id = c.id)
             FROM (SELECT coalesce((SELECT version FROM medication_versions
                                    WHERE patient_id = $1), 0) AS version,
                          (SELECT version FROM medication_list_views
                           WHERE suid_hash = $2 AND patient_id = $1) AS seen) h
             LEFT JOIN medication_courses c ON c.patient_id = $1";
        let rows = query_all(
            &self.db,
            "medication_courses",
            sql,
            &[&patient_id, &suid_hash],
            list_row,
        )
        .await?;
        let mut list = MedicationList::default();
        for row in rows {
            add_list_row(&mut list, row);
        }
        sort_courses(&mut list);
        Ok(list)
    }

    async fn record_medication_views(&self, views: &[MedicationView]) -> StoreResult<()> {
        // One statement for the whole group. A session may appear twice in a group (two reads
        // at once): only its later view is recorded, since one statement cannot update a row
        // twice. A view of a session purged meanwhile records nothing but its log entry.
        let sql = concat!(
            "WITH viewed AS (
                 INSERT INTO medication_list_views (suid_hash, patient_id, version)
                 SELECT v.suid_hash, v.patient_id, v.version
                 FROM unnest($7::text[], $8::text[], $9::bigint[]) AS v(suid_hash, patient_id, version)
                 WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.suid_hash = v.suid_hash)
                 ON CONFLICT (suid_hash, patient_id) DO UPDATE SET version = EXCLUDED.version
             ) ",
            insert_log_group_sql!()
        );
        let mut latest: Vec<(&MedicationView, i64)> = Vec::with_capacity(views.len());
        for v in views.iter().rev() {
            let Some(version) = v.version else { continue };
            if !latest
                .iter()
                .any(|(l, _)| l.suid_hash == v.suid_hash && l.patient_id == v.patient_id)
            {
                latest.push((v, version));
            }
        }
        let suids: Vec<&str> = latest.iter().map(|(v, _)| v.suid_hash.as_str()).collect();
        let patients: Vec<&str> = latest.iter().map(|(v, _)| v.patient_id.as_str()).collect();
        let versions: Vec<i64> = latest.iter().map(|&(_, version)| version).collect();
        let entries: Vec<&RecordAccess> = views.iter().map(|v| &v.log).collect();
        let log = AccessGroupParams::new(&entries);
        let [p1, p2, p3, p4, p5, p6] = log.params();
        let params: Params = &[p1, p2, p3, p4, p5, p6, &suids, &patients, &versions];
        execute(&self.db, "medication_list_views", sql, params).await?;
        Ok(())
    }

    async fn request_medication(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        let sql = "SELECT pfs_request_medication($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                                                 $12, $13, $14, $15, $16, $17, $18)";
        let r = request;
        let (requested_at, status_at) = (ms(r.requested_at), ms(r.status_at));
        let status = r.status.as_str();
        let items = ItemArrays::new(&r.items);
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &r.id,
            &r.patient_id,
            &r.requested_by,
            &requested_at,
            &r.notes,
            &status,
            &status_at,
            &r.practice_comment,
            &items.course_ids,
            &items.drugs,
            &items.course_types,
            &version,
        ];
        params.extend(log.params());
        let outcome = self.order_call(sql, &params).await;
        self.contexts.forget_courses(&r.patient_id);
        outcome
    }

    async fn amend_prescription_request(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        let sql = "SELECT pfs_amend_prescription_request($1, $2, $3, $4, $5, $6, $7, $8, $9,
                                                         $10, $11, $12, $13, $14)";
        let r = request;
        let status_at = ms(r.status_at);
        let items = ItemArrays::new(&r.items);
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &r.id,
            &r.patient_id,
            &r.notes,
            &status_at,
            &items.course_ids,
            &items.drugs,
            &items.course_types,
            &version,
        ];
        params.extend(log.params());
        self.order_call(sql, &params).await
    }

    async fn settle_prescription_request(
        &self,
        id: &str,
        status: PrescriptionStatus,
        comment: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        let sql = "SELECT pfs_settle_prescription_request($1, $2, $3, $4, $5, $6, $7, $8, $9,
                                                          $10)";
        let (status, at) = (status.as_str(), ms(at));
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &status, &comment, &at];
        params.extend(log.params());
        self.order_call(sql, &params).await
    }

    async fn prescription_request(&self, id: &str) -> StoreResult<Option<PrescriptionRequest>> {
        let rows = query_all(
            &self.db,
            "prescription_requests",
            request_rows!("WHERE r.id = $1", "i.position"),
            &[&id],
            request_item_row,
        )
        .await?;
        Ok(group_requests(rows).into_iter().next())
    }

    async fn prescription_requests(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        let rows = query_all(
            &self.db,
            "prescription_requests",
            request_rows!(
                "WHERE r.patient_id = $1 AND r.requested_at >= $2 AND r.requested_at < $3",
                "r.requested_at DESC, r.id COLLATE \"C\" DESC, i.position"
            ),
            &[&patient_id, &ms(from), &ms(to)],
            request_item_row,
        )
        .await?;
        Ok(group_requests(rows))
    }

    async fn pending_prescription_requests(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        let rows = query_all(
            &self.db,
            "prescription_requests",
            request_rows!(
                "JOIN patients p ON p.id = r.patient_id
                 WHERE r.status = 'Requested' AND p.ods = $1",
                "r.requested_at, r.id COLLATE \"C\", i.position"
            ),
            &[&ods],
            request_item_row,
        )
        .await?;
        Ok(group_requests(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_and_unknown_text_is_an_error() {
        assert_eq!(order_outcome("stored").unwrap(), OrderOutcome::Stored);
        assert_eq!(
            order_outcome("list_changed").unwrap(),
            OrderOutcome::ListChanged
        );
        assert_eq!(
            order_outcome("already_requested").unwrap(),
            OrderOutcome::AlreadyRequested
        );
        assert_eq!(order_outcome("not_found").unwrap(), OrderOutcome::NotFound);
        assert_eq!(
            order_outcome("actioned:Issued").unwrap(),
            OrderOutcome::Actioned(PrescriptionStatus::Issued)
        );
        for bad in ["", "booked", "actioned:", "actioned:Lost", "Issued"] {
            assert!(
                matches!(order_outcome(bad), Err(StoreError::Other(_))),
                "{bad:?}"
            );
        }
    }
}
