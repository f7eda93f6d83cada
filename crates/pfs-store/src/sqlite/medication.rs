//! Medication courses, list versions and prescription requests: [`MedicationStore`].
//!
//! Every write runs as one IMMEDIATE transaction on the writer connection, so the version
//! check of an order and its insert see the same list; `outstanding_courses`' primary key is
//! what refuses a second outstanding request for a course.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    MedicationCourse, MedicationList, MedicationView, OrderOutcome, PrescriptionItem,
    PrescriptionRequest, PrescriptionStatus, RecordAccess,
};
use pfs_core::store::{MedicationStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::{insert_record_access, insert_record_access_behind};
use super::sql::{Cols, date_text, execute, map_err, ms, opt_ms, query_all, query_opt};

const COURSE_COLUMNS: &str = "c.id, c.patient_id, c.drug, c.details, c.course_type, \
     c.requestable, c.online_visible, c.started_on, c.stopped_on, c.last_issued_at, \
     c.issue_count, c.max_issues";

fn course_row(row: &Row<'_>) -> StoreResult<MedicationCourse> {
    let c = Cols::new(row, "medication_courses");
    let count = |idx, name| -> StoreResult<u32> {
        let n: i64 = c.get(idx, name)?;
        u32::try_from(n).map_err(|_| c.corrupt(name, "out of range"))
    };
    let max_issues: Option<i64> = c.get(11, "max_issues")?;
    Ok(MedicationCourse {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        drug: c.get(2, "drug")?,
        details: c.get(3, "details")?,
        course_type: c
            .text(4, "course_type")?
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
        issue_count: count(10, "issue_count")?,
        max_issues: max_issues
            .map(|n| u32::try_from(n).map_err(|_| c.corrupt("max_issues", "out of range")))
            .transpose()?,
    })
}

fn course_with_outstanding_row(row: &Row<'_>) -> StoreResult<(MedicationCourse, Option<String>)> {
    let outstanding = Cols::new(row, "outstanding_courses").get(12, "request_id")?;
    Ok((course_row(row)?, outstanding))
}

/// A request's columns (0..8) and one of its items (8..11), as [`REQUEST_ROWS`] selects them.
fn request_item_row(row: &Row<'_>) -> StoreResult<(PrescriptionRequest, PrescriptionItem)> {
    let c = Cols::new(row, "prescription_requests");
    let request = PrescriptionRequest {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        requested_by: c.get(2, "requested_by")?,
        requested_at: c.instant(3, "requested_at")?,
        notes: c.get(4, "notes")?,
        status: c
            .text(5, "status")?
            .parse()
            .map_err(|_| c.corrupt("status", "not a request status"))?,
        status_at: c.instant(6, "status_at")?,
        practice_comment: c.get(7, "practice_comment")?,
        items: Vec::new(),
    };
    let item = PrescriptionItem {
        course_id: c.get(8, "course_id")?,
        drug: c.get(9, "drug")?,
        course_type: c
            .text(10, "course_type")?
            .parse()
            .map_err(|_| c.corrupt("course_type", "not a course type"))?,
    };
    Ok((request, item))
}

/// Selects requests with their items, one row per item, in the order `$order` gives (which
/// must keep a request's rows together, by item position).
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

// Shared: session.rs prefetches it in session_context.
impl SqliteStore {
    /// A patient's courses with their claims, the list version and, for `suid_hash`, the
    /// version that session last fetched: the copies in [`super::hot`] when they are current,
    /// else read in `c`'s transaction and kept, tagged with `read_at` (the write generation
    /// taken before that transaction began).
    pub(super) fn medication_in(
        &self,
        c: &Connection,
        patient_id: &str,
        suid_hash: Option<&str>,
        read_at: u64,
    ) -> StoreResult<MedicationList> {
        let hot = &self.inner.hot;
        let (version, courses) = match hot.courses(patient_id, read_at) {
            Some(courses) => courses,
            None => {
                let read = (version_of(c, patient_id)?, read_courses(c, patient_id)?);
                hot.keep_courses(patient_id, read_at, &read);
                read
            }
        };
        let seen_version = match suid_hash {
            None => None,
            Some(hash) => match hot.seen_version(hash, patient_id, read_at) {
                Some(seen) => seen,
                None => {
                    let seen = read_seen_version(c, hash, patient_id)?;
                    hot.keep_seen_version(hash, patient_id, read_at, seen);
                    seen
                }
            },
        };
        Ok(MedicationList {
            version,
            courses,
            seen_version,
        })
    }
}

/// A patient's courses (stopped and hidden ones too) with their outstanding requests, by drug
/// then id.
fn read_courses(
    c: &Connection,
    patient_id: &str,
) -> StoreResult<Vec<(MedicationCourse, Option<String>)>> {
    query_all(
        c,
        "medication_courses",
        "SELECT c.id, c.patient_id, c.drug, c.details, c.course_type, c.requestable,
                c.online_visible, c.started_on, c.stopped_on, c.last_issued_at,
                c.issue_count, c.max_issues, o.request_id
         FROM medication_courses c
         LEFT JOIN outstanding_courses o ON o.course_id = c.id
         WHERE c.patient_id = ?1
         ORDER BY c.drug, c.id",
        [patient_id],
        course_with_outstanding_row,
    )
}

/// The list version `suid_hash` last fetched for `patient_id`, if it has.
fn read_seen_version(
    c: &Connection,
    suid_hash: &str,
    patient_id: &str,
) -> StoreResult<Option<i64>> {
    query_opt(
        c,
        "medication_list_views",
        "SELECT version FROM medication_list_views WHERE suid_hash = ?1 AND patient_id = ?2",
        [suid_hash, patient_id],
        |row| Cols::new(row, "medication_list_views").get::<i64>(0, "version"),
    )
}

fn version_of(c: &Connection, patient_id: &str) -> StoreResult<i64> {
    Ok(query_opt(
        c,
        "medication_versions",
        "SELECT version FROM medication_versions WHERE patient_id = ?1",
        [patient_id],
        |row| Cols::new(row, "medication_versions").get::<i64>(0, "version"),
    )?
    .unwrap_or(0))
}

fn bump_version(c: &Connection, patient_id: &str) -> StoreResult<()> {
    execute(
        c,
        "medication_versions",
        "INSERT INTO medication_versions (patient_id, version) VALUES (?1, 1)
         ON CONFLICT (patient_id) DO UPDATE SET version = version + 1",
        [patient_id],
    )?;
    Ok(())
}

fn immediate(c: &mut Connection) -> StoreResult<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err("prescription_requests"))
}

/// Writes a request's items and claims its courses; false (the caller rolls back) if one of
/// them already has an outstanding request.
fn claim_items(tx: &Connection, request: &PrescriptionRequest) -> StoreResult<bool> {
    for (position, item) in request.items.iter().enumerate() {
        execute(
            tx,
            "prescription_requests",
            "INSERT INTO prescription_request_items (request_id, position, course_id, drug,
                                                     course_type)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                request.id,
                i64::try_from(position).unwrap_or(i64::MAX),
                item.course_id,
                item.drug,
                item.course_type.as_str(),
            ],
        )?;
        let claimed = execute(
            tx,
            "outstanding_courses",
            "INSERT INTO outstanding_courses (course_id, request_id) VALUES (?1, ?2)
             ON CONFLICT (course_id) DO NOTHING",
            params![item.course_id, request.id],
        )?;
        if claimed == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The status and patient of a request, read inside a write transaction.
fn request_state(tx: &Connection, id: &str) -> StoreResult<Option<(PrescriptionStatus, String)>> {
    let err = map_err("prescription_requests");
    let state: Option<(String, String)> = tx
        .prepare_cached("SELECT status, patient_id FROM prescription_requests WHERE id = ?1")
        .map_err(&err)?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(&err)?;
    state
        .map(|(status, patient)| {
            status
                .parse()
                .map(|s| (s, patient))
                .map_err(|_| StoreError::Other("prescription_requests: corrupt status".into()))
        })
        .transpose()
}

#[async_trait]
impl MedicationStore for SqliteStore {
    async fn insert_course(
        &self,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.write(|c| {
            let tx = immediate(c)?;
            execute(
                &tx,
                "medication_courses",
                "INSERT INTO medication_courses (id, patient_id, drug, details, course_type,
                     requestable, online_visible, started_on, stopped_on, last_issued_at,
                     issue_count, max_issues)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    course.id,
                    course.patient_id,
                    course.drug,
                    course.details,
                    course.course_type.as_str(),
                    course.requestable,
                    course.online_visible,
                    date_text(course.started_on),
                    course.stopped_on.map(date_text),
                    opt_ms(course.last_issued_at),
                    i64::from(course.issue_count),
                    course.max_issues.map(i64::from),
                ],
            )?;
            bump_version(&tx, &course.patient_id)?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("medication_courses"))
        })
        .await
    }

    async fn update_course(
        &self,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let tx = immediate(c)?;
            let changed = execute(
                &tx,
                "medication_courses",
                "UPDATE medication_courses
                 SET drug = ?3, details = ?4, course_type = ?5, requestable = ?6,
                     online_visible = ?7, started_on = ?8, stopped_on = ?9,
                     last_issued_at = ?10, issue_count = ?11, max_issues = ?12
                 WHERE id = ?1 AND patient_id = ?2",
                params![
                    course.id,
                    course.patient_id,
                    course.drug,
                    course.details,
                    course.course_type.as_str(),
                    course.requestable,
                    course.online_visible,
                    date_text(course.started_on),
                    course.stopped_on.map(date_text),
                    opt_ms(course.last_issued_at),
                    i64::from(course.issue_count),
                    course.max_issues.map(i64::from),
                ],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            bump_version(&tx, &course.patient_id)?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("medication_courses"))?;
            Ok(true)
        })
        .await
    }

    async fn course(&self, id: &str) -> StoreResult<Option<MedicationCourse>> {
        self.read(|c| {
            query_opt(
                c,
                "medication_courses",
                &format!("SELECT {COURSE_COLUMNS} FROM medication_courses c WHERE c.id = ?1"),
                [id],
                course_row,
            )
        })
    }

    async fn medication_list(
        &self,
        patient_id: &str,
        suid_hash: Option<&str>,
    ) -> StoreResult<MedicationList> {
        let read_at = self.inner.hot.generation();
        // One snapshot for the courses, their claims and the versions.
        self.snapshot("medication_courses", |c| {
            self.medication_in(c, patient_id, suid_hash, read_at)
        })
    }

    async fn record_medication_views(&self, views: &[MedicationView]) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err("medication_list_views"))?;
            for view in views {
                // A session purged since its request was checked records nothing.
                if let Some(version) = view.version {
                    execute(
                        &tx,
                        "medication_list_views",
                        "INSERT INTO medication_list_views (suid_hash, patient_id, version)
                         SELECT ?1, ?2, ?3
                         WHERE EXISTS (SELECT 1 FROM sessions WHERE suid_hash = ?1)
                         ON CONFLICT (suid_hash, patient_id) DO UPDATE SET version = excluded.version",
                        params![view.suid_hash, view.patient_id, version],
                    )?;
                }
                insert_record_access_behind(&tx, &view.log)?;
            }
            tx.commit().map_err(map_err("medication_list_views"))
        })
        .await
    }

    async fn request_medication(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        let r = request;
        self.write(|c| {
            let tx = immediate(c)?;
            if version_of(&tx, &r.patient_id)? != version {
                return Ok(OrderOutcome::ListChanged);
            }
            execute(
                &tx,
                "prescription_requests",
                "INSERT INTO prescription_requests (id, patient_id, requested_by, requested_at,
                     notes, status, status_at, practice_comment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.id,
                    r.patient_id,
                    r.requested_by,
                    ms(r.requested_at),
                    r.notes,
                    r.status.as_str(),
                    ms(r.status_at),
                    r.practice_comment,
                ],
            )?;
            // Dropping the transaction without committing rolls it back.
            if !claim_items(&tx, r)? {
                return Ok(OrderOutcome::AlreadyRequested);
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("prescription_requests"))?;
            Ok(OrderOutcome::Stored)
        })
        .await
    }

    async fn amend_prescription_request(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        let r = request;
        self.write(|c| {
            let tx = immediate(c)?;
            match request_state(&tx, &r.id)? {
                None => return Ok(OrderOutcome::NotFound),
                Some((status, _)) if status != PrescriptionStatus::Requested => {
                    return Ok(OrderOutcome::Actioned(status));
                }
                Some(_) => {}
            }
            if version_of(&tx, &r.patient_id)? != version {
                return Ok(OrderOutcome::ListChanged);
            }
            for sql in [
                "DELETE FROM outstanding_courses WHERE request_id = ?1",
                "DELETE FROM prescription_request_items WHERE request_id = ?1",
            ] {
                execute(&tx, "prescription_requests", sql, [&r.id])?;
            }
            if !claim_items(&tx, r)? {
                return Ok(OrderOutcome::AlreadyRequested);
            }
            execute(
                &tx,
                "prescription_requests",
                "UPDATE prescription_requests SET notes = ?2, status_at = ?3 WHERE id = ?1",
                params![r.id, r.notes, ms(r.status_at)],
            )?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("prescription_requests"))?;
            Ok(OrderOutcome::Stored)
        })
        .await
    }

    async fn settle_prescription_request(
        &self,
        id: &str,
        status: PrescriptionStatus,
        comment: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        self.write(|c| {
            let tx = immediate(c)?;
            let patient_id = match request_state(&tx, id)? {
                None => return Ok(OrderOutcome::NotFound),
                Some((current, _)) if current != PrescriptionStatus::Requested => {
                    return Ok(OrderOutcome::Actioned(current));
                }
                Some((_, patient_id)) => patient_id,
            };
            execute(
                &tx,
                "prescription_requests",
                "UPDATE prescription_requests
                 SET status = ?2, status_at = ?3, practice_comment = ?4
                 WHERE id = ?1",
                params![id, status.as_str(), ms(at), comment],
            )?;
            execute(
                &tx,
                "outstanding_courses",
                "DELETE FROM outstanding_courses WHERE request_id = ?1",
                [id],
            )?;
            if status == PrescriptionStatus::Issued {
                execute(
                    &tx,
                    "medication_courses",
                    "UPDATE medication_courses
                     SET issue_count = issue_count + 1, last_issued_at = ?2
                     WHERE id IN (SELECT course_id FROM prescription_request_items
                                  WHERE request_id = ?1)",
                    params![id, ms(at)],
                )?;
                bump_version(&tx, &patient_id)?;
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("prescription_requests"))?;
            Ok(OrderOutcome::Stored)
        })
        .await
    }

    async fn prescription_request(&self, id: &str) -> StoreResult<Option<PrescriptionRequest>> {
        let rows = self.read(|c| {
            query_all(
                c,
                "prescription_requests",
                request_rows!("WHERE r.id = ?1", "i.position"),
                [id],
                request_item_row,
            )
        })?;
        Ok(group_requests(rows).into_iter().next())
    }

    async fn prescription_requests(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        let rows = self.read(|c| {
            query_all(
                c,
                "prescription_requests",
                request_rows!(
                    "WHERE r.patient_id = ?1 AND r.requested_at >= ?2 AND r.requested_at < ?3",
                    "r.requested_at DESC, r.id DESC, i.position"
                ),
                params![patient_id, ms(from), ms(to)],
                request_item_row,
            )
        })?;
        Ok(group_requests(rows))
    }

    async fn pending_prescription_requests(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        let rows = self.read(|c| {
            query_all(
                c,
                "prescription_requests",
                request_rows!(
                    "JOIN patients p ON p.id = r.patient_id
                     WHERE r.status = 'Requested' AND p.ods = ?1",
                    "r.requested_at, r.id, i.position"
                ),
                [ods],
                request_item_row,
            )
        })?;
        Ok(group_requests(rows))
    }
}
