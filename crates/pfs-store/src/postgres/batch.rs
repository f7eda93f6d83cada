//! Session-context reads, sent to the database together.
//!
//! Nearly every in-session request starts with a session-context read, so under load many are
//! waiting at once. One task sends them in batches: everything that arrived while the earlier
//! batches were in flight (at most [`IN_FLIGHT`] at a time, [`MAX_BATCH`] reads each), as one
//! statement over arrays per kind of read ([`Prefetch`]). The database then plans nothing,
//! starts one executor and sends one reply for the whole batch, and the server makes one round
//! trip instead of one per request. When requests come one at a time each is a batch of one,
//! so nothing waits longer than its own read. Patients' contexts come from the instance's
//! copies (`hot.rs`): a batch whose every context is held sends a smaller statement, without
//! the context's tables; one that names any patient the instance lacks reads those contexts
//! in the same statement. Patients' appointments and medication courses likewise, by their
//! tokens (migrations 0016 and 0017): a batch whose every named patient's rows the instance
//! holds sends the tokens only, and the rows whose token has moved are read again after it (a
//! write through this instance drops its patient's copy first, so that the next read asks for
//! the rows at once).
//!
//! The queue holds at most [`QUEUE_CAPACITY`] reads. When it is full a read is answered
//! [`StoreError::Unavailable`] (`9010`) at once instead of waiting: a full queue means the
//! database is many round trips behind (stalled or overloaded), the server has no request
//! deadline of its own to bound a wait, and the client retries anyway. Reads whose request has
//! gone away by the time their batch is sent are left out of it.
//!
//! On a 2-core machine, batching took `PatientSelected` on PostgreSQL from about 25,000 to
//! 30,000 requests a second; a second batch in flight took `ViewAppointments` from about
//! 20,000 to 22,000 (four did no better).

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::{BoxFuture, OptionFuture, join3};
use pfs_core::model::{Appointment, AppointmentSession, PatientContext, Prefetch, SessionContext};
use pfs_core::{StoreError, StoreResult};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_postgres::Row;

use super::appointment::{appointment_with_session_at, sort_appointments};
use super::hot::{Appointments, Copies, Copy, Courses};
use super::medication::{add_list_row, list_row_at, list_versions_at, sort_courses};
use super::session::{patient_context_row, session_context_row};
use super::sql::Cols;
use super::{Db, Params};

/// The session-context statement, for any number of reads at once: `$1` the suid hashes,
/// `$2` the named patient ids (NULL for none), element by element. One row per session found:
/// the read's position in the arrays (`ord`, from 1), then session (1..9), provider (9..15),
/// the proxy grant, the named patient's id as asked (`asked_id`), and the context generation
/// the statement saw: [`SESSION_CONTEXT_COLUMNS`] columns, read by `session_context_row` and
/// [`contexts`]. The named patient's context is not here: when the instance holds a copy of
/// every context a batch names, this statement is sent as it is, and otherwise wrapped by
/// [`with_patient_contexts_sql`]. Every plan node costs the database its set-up on every
/// execution, whether or not it runs: with the context's five tables always joined, a warm
/// batch cost about a quarter more.
///
/// The `OFFSET 0` keeps the lateral subquery a subquery, so that it runs once per read with
/// index lookups whatever the planner guesses about the arrays' length.
macro_rules! session_contexts_sql {
    () => {
        "SELECT q.ord, c.*, g.generation
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(suid_hash, patient_id, ord)
         CROSS JOIN context_generation g
         CROSS JOIN LATERAL (
             SELECT s.suid_hash, s.provider_id, s.account_id, s.online_user_id,
                    s.selected_patient_id, s.created_at, s.last_seen_at, s.ended_at,
                    p.id, p.name, p.fingerprint, p.trusted_identity, p.created_at,
                    p.revoked_at,
                    EXISTS (SELECT 1 FROM proxy_grants x
                            WHERE x.grantee_id = s.online_user_id
                              AND x.patient_id = q.patient_id),
                    q.patient_id AS asked_id
             FROM sessions s
             JOIN providers p ON p.id = s.provider_id
             WHERE s.suid_hash = q.suid_hash
             OFFSET 0
         ) c"
    };
}

/// How many columns the session-context statement returns.
const SESSION_CONTEXT_COLUMNS: usize = 18;
/// Where the session-context statement puts the named patient's id as asked.
const ASKED_ID: usize = 16;
/// Where the session-context statement puts the context generation it saw.
const GENERATION: usize = 17;
/// Where the statement with the medication list puts the patient's medication token: after the
/// two versions and a course's 13 columns.
const MEDICATION_TOKEN: usize = SESSION_CONTEXT_COLUMNS + 15;

/// A named patient's context, as `patient_context_row` reads it: the patient (9 columns), their
/// practice (4) and the two switch lists; [`PATIENT_CONTEXT_COLUMNS`] in all. `$cond` picks
/// the patient; a condition on the outer query alone is checked before anything is read.
macro_rules! patient_context_sql {
    ($cond:expr) => {
        concat!(
            "SELECT t.id, t.ods, t.nhs_number, t.title, t.first_name, t.last_name,
                    to_char(t.date_of_birth, 'YYYY-MM-DD'), t.gender, t.address,
                    r.ods, r.name, r.address, r.settings::text,
                    ARRAY(SELECT CASE WHEN enabled THEN '+' ELSE '-' END || service
                          FROM practice_services WHERE ods = r.ods),
                    ARRAY(SELECT CASE WHEN enabled THEN '+' ELSE '-' END || service
                          FROM patient_services WHERE patient_id = t.id)
             FROM patients t
             JOIN practices r ON r.ods = t.ods
             WHERE ",
            $cond,
            " OFFSET 0"
        )
    };
}

/// How many columns [`patient_context_sql`] returns.
const PATIENT_CONTEXT_COLUMNS: usize = 15;

/// The patient-context statement, for contexts whose copy turned out to be out of date: for
/// each patient id of `$1`, a row with its position in the array (from 1), the context
/// generation the statement saw, and the patient's context from column 2 (all NULL when there
/// is no such patient).
macro_rules! patient_contexts_sql {
    () => {
        concat!(
            "SELECT q.ord, g.generation, t.*
             FROM unnest($1::text[]) WITH ORDINALITY AS q(patient_id, ord)
             CROSS JOIN context_generation g
             LEFT JOIN LATERAL (",
            patient_context_sql!("t.id = q.patient_id"),
            ") t ON true"
        )
    };
}

/// A session-context statement (`$inner`, with or without a prefetch) with each named
/// patient's context added at the end of every row ([`PATIENT_CONTEXT_COLUMNS`] columns), for
/// the reads whose element of the array `$want` is true (all NULL for the others): for the
/// batches that name a patient the instance holds no copy of.
macro_rules! with_patient_contexts_sql {
    ($inner:expr, $want:literal) => {
        concat!(
            "SELECT z.*, t.* FROM (",
            $inner,
            ") z
             LEFT JOIN LATERAL (",
            patient_context_sql!(concat!(
                "(",
                $want,
                "::bool[])[z.ord] AND t.id = z.asked_id"
            )),
            ") t ON true"
        )
    };
}

/// A patient's live appointments, for a lateral join: `$patient` names the patient. One row per
/// appointment, its session's columns after its own. `OFFSET 0` makes the appointments a lookup
/// per patient, and each appointment's session a lookup per appointment: left to itself, a plan
/// made while the tables were small joined every live appointment of every patient and
/// filtered afterwards, and a generic plan (which guesses how many appointments a patient has)
/// hashed every appointment session for each read.
macro_rules! patient_appointments_sql {
    ($patient:literal) => {
        concat!(
            "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                    a.booked_by, a.booked_at, a.cancelled_at, x.*
             FROM appointments a
             CROSS JOIN LATERAL (
                 SELECT x.id, x.ods, x.session_type, x.staff_details, x.location,
                        x.slot_type, x.start_ms, x.slot_minutes, x.slot_count
                 FROM appointment_sessions x WHERE x.id = a.session_id
                 OFFSET 0
             ) x
             WHERE a.patient_id = ",
            $patient,
            " AND a.cancelled_at IS NULL
             OFFSET 0"
        )
    };
}

/// The session-context statement with each named patient's appointments token (migration
/// 0017) after the session's columns: for the batches whose every named patient's appointments
/// the instance holds a copy of. NULL for a read naming no patient, or one who does not exist.
macro_rules! session_contexts_with_appointments_token_sql {
    () => {
        concat!(
            "SELECT c.*, (SELECT appointments_token FROM patients WHERE id = c.asked_id)
             FROM (",
            session_contexts_sql!(),
            ") c"
        )
    };
}

/// As [`session_contexts_with_appointments_token_sql`], with each named patient's live
/// appointments joined on: one row per appointment (its columns from [`APPOINTMENTS_AT`]), or
/// one with those columns all NULL.
macro_rules! session_contexts_with_appointments_sql {
    () => {
        concat!(
            "SELECT c.*, (SELECT appointments_token FROM patients WHERE id = c.asked_id), b.*
             FROM (",
            session_contexts_sql!(),
            ") c
             LEFT JOIN LATERAL (",
            patient_appointments_sql!("c.asked_id"),
            ") b ON true"
        )
    };
}

/// The appointments of the patients of `$1`, for copies found out of date: for each patient
/// who exists, rows with the patient's position in the array (from 1), their appointments token
/// and their appointments from column 2, as in [`session_contexts_with_appointments_sql`].
macro_rules! appointments_sql {
    () => {
        concat!(
            "SELECT q.ord, t.appointments_token, b.*
             FROM unnest($1::text[]) WITH ORDINALITY AS q(patient_id, ord)
             JOIN patients t ON t.id = q.patient_id
             LEFT JOIN LATERAL (",
            patient_appointments_sql!("q.patient_id"),
            ") b ON true"
        )
    };
}

/// Where the statements with appointments put the patient's appointments token.
const APPOINTMENTS_TOKEN: usize = SESSION_CONTEXT_COLUMNS;
/// Where the statement with appointments puts an appointment's first column.
const APPOINTMENTS_AT: usize = SESSION_CONTEXT_COLUMNS + 1;

/// A read's medication list versions (the list's, and the one its session last saw) and the
/// patient's medication token, for a lateral join on the session-context statement `c`.
macro_rules! medication_versions_sql {
    () => {
        "SELECT coalesce((SELECT version FROM medication_versions
                          WHERE patient_id = c.asked_id), 0) AS version,
                (SELECT version FROM medication_list_views
                 WHERE suid_hash = c.suid_hash AND patient_id = c.asked_id) AS seen,
                (SELECT medication_token FROM patients WHERE id = c.asked_id) AS token"
    };
}

/// The session-context statement with each named patient's medication list joined on, as
/// [`MedicationStore::medication_list`] reads it: one row per course (the two versions and the
/// course's columns after [`SESSION_CONTEXT_COLUMNS`], then the patient's medication token),
/// or one with the versions and no course. `$3` holds, read by read, the token of the
/// instance's copy of the list's courses (NULL for none): the courses are sent only when the
/// patient's token is another. Each course's claim is a subquery, so a lookup per course: as a
/// join, the generic plan (which guesses how many courses a patient has) hashed every
/// outstanding claim of the practice for each read, which grew with the claims.
///
/// [`MedicationStore::medication_list`]: pfs_core::store::MedicationStore::medication_list
macro_rules! session_contexts_with_medication_sql {
    () => {
        concat!(
            "SELECT c.*, h.version, h.seen, m.*, h.token
             FROM (",
            session_contexts_sql!(),
            ") c
             LEFT JOIN LATERAL (",
            medication_versions_sql!(),
            ") h ON c.asked_id IS NOT NULL
             LEFT JOIN LATERAL (
                 SELECT mc.id, mc.patient_id, mc.drug, mc.details, mc.course_type,
                        mc.requestable, mc.online_visible, to_char(mc.started_on, 'YYYY-MM-DD'),
                        to_char(mc.stopped_on, 'YYYY-MM-DD'), mc.last_issued_at,
                        mc.issue_count, mc.max_issues,
                        (SELECT o.request_id FROM outstanding_courses o
                         WHERE o.course_id = mc.id)
                 FROM medication_courses mc
                 WHERE mc.patient_id = c.asked_id
                 OFFSET 0
             ) m ON h.token IS DISTINCT FROM ($3::bigint[])[c.ord]"
        )
    };
}

/// The session-context statement with each named patient's medication versions and token
/// (columns from [`SESSION_CONTEXT_COLUMNS`]: version, seen version, token) but no courses: for
/// the batches whose every named patient's courses the instance holds a copy of.
macro_rules! session_contexts_with_medication_token_sql {
    () => {
        concat!(
            "SELECT c.*, h.version, h.seen, h.token
             FROM (",
            session_contexts_sql!(),
            ") c
             LEFT JOIN LATERAL (",
            medication_versions_sql!(),
            ") h ON c.asked_id IS NOT NULL"
        )
    };
}

/// The most reads in one batch.
const MAX_BATCH: usize = 64;

/// The most batches in flight at once.
const IN_FLIGHT: usize = 2;

/// The most reads waiting for a batch: eight rounds of [`IN_FLIGHT`] full batches, which a
/// healthy database answers in milliseconds.
pub(super) const QUEUE_CAPACITY: usize = 8 * IN_FLIGHT * MAX_BATCH;

/// A read waiting for its batch.
struct Waiting {
    suid_hash: String,
    patient_id: Option<String>,
    prefetch: Prefetch,
    reply: oneshot::Sender<StoreResult<Option<SessionContext>>>,
}

/// The queue of session-context reads; the task serving it ends when the last handle is gone.
#[derive(Clone)]
pub(super) struct ContextReads {
    queue: mpsc::Sender<Waiting>,
    copies: Arc<Copies>,
}

impl ContextReads {
    /// Starts the task that sends the batches over `db`'s read connections.
    pub(super) fn start(db: Arc<Db>) -> ContextReads {
        let (queue, waiting) = mpsc::channel(QUEUE_CAPACITY);
        let copies = Arc::<Copies>::default();
        tokio::spawn(serve(db, copies.clone(), waiting));
        ContextReads { queue, copies }
    }

    /// Drops the instance's copy of a patient's appointments (see `TokenCopies::forget`).
    pub(super) fn forget_appointments(&self, patient_id: &str) {
        self.copies.appointments.forget(patient_id);
    }

    /// Drops the instance's copy of a patient's medication courses (see
    /// `TokenCopies::forget`).
    pub(super) fn forget_courses(&self, patient_id: &str) {
        self.copies.courses.forget(patient_id);
    }

    /// The session with this suid hash and its context (see `Store::session_context`),
    /// read in the next batch.
    pub(super) async fn read(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>> {
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            suid_hash: suid_hash.to_owned(),
            patient_id: patient_id.map(str::to_owned),
            prefetch,
            reply,
        };
        let closed = || StoreError::Unavailable("store closed".into());
        self.queue.try_send(waiting).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Unavailable(
                "sessions: too many reads are waiting for the database".into(),
            ),
            TrySendError::Closed(_) => closed(),
        })?;
        answer.await.map_err(|_| closed())?
    }
}

async fn serve(db: Arc<Db>, copies: Arc<Copies>, mut waiting: mpsc::Receiver<Waiting>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Wait for a free slot first: reads arriving meanwhile join the next batch.
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        if waiting.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let (mut plain, mut with_appointments, mut with_medication) = (vec![], vec![], vec![]);
        for w in batch.drain(..).filter(|w| !w.reply.is_closed()) {
            match w.prefetch {
                Prefetch::Nothing => plain.push(w),
                Prefetch::Appointments => with_appointments.push(w),
                Prefetch::Medication => with_medication.push(w),
            }
        }
        let (db, copies) = (db.clone(), copies.clone());
        tokio::spawn(async move {
            // One statement per kind of read, all in flight at once.
            join3(
                answering(&db, &copies, plain, Prefetch::Nothing),
                answering(&db, &copies, with_appointments, Prefetch::Appointments),
                answering(&db, &copies, with_medication, Prefetch::Medication),
            )
            .await;
            drop(slot);
        });
    }
}

/// [`answer`] for a group with reads in it, boxed: the batch's task then holds a pointer
/// for each kind of read, not three statements' state (8 KB), which the runtime would copy
/// when it starts and ends the task.
fn answering<'a>(
    db: &'a Db,
    copies: &'a Copies,
    group: Vec<Waiting>,
    prefetch: Prefetch,
) -> OptionFuture<BoxFuture<'a, ()>> {
    let reads: Option<BoxFuture<'a, ()>> = if group.is_empty() {
        None
    } else {
        Some(Box::pin(answer(db, copies, group, prefetch)))
    };
    reads.into()
}

/// Reads `group` (reads that all want `prefetch`) in one statement and hands each read its
/// answer.
async fn answer(db: &Db, copies: &Copies, group: Vec<Waiting>, prefetch: Prefetch) {
    if group.is_empty() {
        return;
    }
    // PostgreSQL text cannot hold NUL, so no patient has such an id; asking for it would fail
    // the whole statement, and with it every other read of the batch.
    let asked: Vec<Option<&str>> = group
        .iter()
        .map(|w| w.patient_id.as_deref().filter(|id| !id.contains('\0')))
        .collect();
    let suid_hashes: Vec<&str> = group.iter().map(|w| w.suid_hash.as_str()).collect();
    match read_contexts(db, copies, &suid_hashes, &asked, prefetch).await {
        Ok(found) => {
            for (w, context) in group.into_iter().zip(found) {
                let _ = w.reply.send(Ok(context));
            }
        }
        Err(e) => {
            for w in group {
                let _ = w.reply.send(Err(e.clone()));
            }
        }
    }
}

/// The contexts of the reads of `suid_hashes` naming `asked`, element by element. The named
/// patients' contexts come from the instance's copies when the statement saw the generation
/// they were read at (or an earlier one); when the instance lacks any, the statement reads
/// those too, and they are kept; those whose copy is out of date are read afterwards, and
/// kept. Their lists' courses come from the copies when the patient's medication token is the
/// copy's; otherwise the statement sent them, and they are kept. Their appointments likewise:
/// when the instance holds a copy of every named patient's, the statement sends only the
/// tokens, and the appointments of those whose copy is out of date are read afterwards.
async fn read_contexts(
    db: &Db,
    copies: &Copies,
    suid_hashes: &[&str],
    asked: &[Option<&str>],
    prefetch: Prefetch,
) -> StoreResult<Vec<Option<SessionContext>>> {
    let held: Vec<Option<Copy>> = asked
        .iter()
        .map(|id| id.and_then(|id| copies.contexts.get(id)))
        .collect();
    let held_courses: Vec<Option<(i64, Courses)>> = asked
        .iter()
        .map(|id| match prefetch {
            Prefetch::Medication => id.and_then(|id| copies.courses.get(id)),
            _ => None,
        })
        .collect();
    let held_appointments: Vec<Option<(i64, Appointments)>> = asked
        .iter()
        .map(|id| match prefetch {
            Prefetch::Appointments => id.and_then(|id| copies.appointments.get(id)),
            _ => None,
        })
        .collect();
    let wants = Wants {
        contexts: asked
            .iter()
            .zip(&held)
            .map(|(id, copy)| id.is_some() && copy.is_none())
            .collect(),
        tokens: held_courses
            .iter()
            .map(|c| c.as_ref().map(|(token, _)| *token))
            .collect(),
        // The prefetched rows unless the instance holds a copy of every named patient's.
        rows: asked
            .iter()
            .zip(held_courses.iter().zip(&held_appointments))
            .any(|(id, (courses, appointments))| {
                id.is_some()
                    && match prefetch {
                        Prefetch::Nothing => false,
                        Prefetch::Appointments => appointments.is_none(),
                        Prefetch::Medication => courses.is_none(),
                    }
            }),
    };
    let mut found = statement(db, suid_hashes, asked, &wants, prefetch).await?;
    let (mut stale, mut stale_appointments, mut stale_lists) = (vec![], vec![], vec![]);
    let held = held.into_iter().zip(held_courses).zip(held_appointments);
    for (i, (read, ((copy, courses), appointments))) in found.iter_mut().zip(held).enumerate() {
        let (Some(read), Some(id)) = (read.as_mut(), asked.get(i).copied().flatten()) else {
            continue;
        };
        // Copies are kept only for reads whose session exists.
        match (read.patient.take(), copy) {
            (Some(patient), _) => {
                copies.contexts.keep(id, read.generation, &patient);
                read.context.patient = patient;
            }
            (None, Some((kept, patient))) if kept >= read.generation => {
                read.context.patient = patient;
            }
            _ => stale.push(i),
        }
        // The courses came only if the copy's token was not the patient's, and only in a
        // statement with rows at all.
        if let (Some(token), Some(list)) = (read.token, read.context.medication.as_mut()) {
            match courses {
                Some((kept, courses)) if kept == token => list.courses = courses.as_ref().clone(),
                _ if wants.rows => copies
                    .courses
                    .keep(id, token, Arc::new(list.courses.clone())),
                _ => stale_lists.push(i),
            }
        }
        // The appointments came only if some read of the batch had no copy of its patient's.
        if prefetch == Prefetch::Appointments
            && let Some(token) = read.token
        {
            match (&read.context.appointments, appointments) {
                (Some(list), _) => copies.appointments.keep(id, token, Arc::new(list.clone())),
                (None, Some((kept, list))) if kept == token => {
                    read.context.appointments = Some(list.as_ref().clone());
                }
                (None, _) => stale_appointments.push(i),
            }
        }
    }
    if !stale.is_empty() {
        reread_contexts(db, copies, asked, &stale, &mut found).await?;
    }
    if !stale_lists.is_empty() {
        reread_lists(db, copies, suid_hashes, asked, &stale_lists, &mut found).await?;
    }
    if !stale_appointments.is_empty() {
        reread_appointments(db, copies, asked, &stale_appointments, &mut found).await?;
    }
    Ok(found
        .into_iter()
        .map(|read| {
            read.map(|Read { mut context, .. }| {
                // Nothing is prefetched for a patient who does not exist.
                if context.patient.is_none() {
                    context.appointments = None;
                    context.medication = None;
                }
                context
            })
        })
        .collect())
}

/// Reads again the patients' contexts of the reads at `stale`, whose copies were out of date,
/// keeps them and puts them in `found`.
async fn reread_contexts(
    db: &Db,
    copies: &Copies,
    asked: &[Option<&str>],
    stale: &[usize],
    found: &mut [Option<Read>],
) -> StoreResult<()> {
    let ids = distinct_ids(asked, stale);
    let again = patient_contexts(db, &ids).await?;
    for (id, (generation, patient)) in &again {
        copies.contexts.keep(id, *generation, patient);
    }
    put_read_again(asked, stale, found, &again, |read, patient| {
        read.context.patient = patient.clone();
    });
    Ok(())
}

/// Puts what was read again for each patient (`again`, by id, beside its generation or token)
/// into the reads at `stale` that name that patient.
fn put_read_again<V>(
    asked: &[Option<&str>],
    stale: &[usize],
    found: &mut [Option<Read>],
    again: &HashMap<String, (i64, V)>,
    put: impl Fn(&mut Read, &V),
) {
    for &i in stale {
        let id = asked.get(i).copied().flatten();
        if let (Some(Some(read)), Some((_, value))) =
            (found.get_mut(i), id.and_then(|id| again.get(id)))
        {
            put(read, value);
        }
    }
}

/// Reads again, with their courses, the medication lists of the reads at `stale`, whose copies
/// were out of date: the whole list, so that its versions and courses come from one snapshot.
/// Keeps the courses and puts the lists in `found`.
async fn reread_lists(
    db: &Db,
    copies: &Copies,
    suid_hashes: &[&str],
    asked: &[Option<&str>],
    stale: &[usize],
    found: &mut [Option<Read>],
) -> StoreResult<()> {
    let sub_hashes: Vec<&str> = stale
        .iter()
        .filter_map(|&i| suid_hashes.get(i).copied())
        .collect();
    let sub_asked: Vec<Option<&str>> = stale
        .iter()
        .map(|&i| asked.get(i).copied().flatten())
        .collect();
    let full = Wants {
        contexts: vec![false; stale.len()],
        tokens: vec![None; stale.len()],
        rows: true,
    };
    let again = statement(db, &sub_hashes, &sub_asked, &full, Prefetch::Medication).await?;
    for ((i, id), read_again) in stale.iter().zip(&sub_asked).zip(again) {
        let Some(slot) = found.get_mut(*i) else {
            continue;
        };
        // The later read is the answer: the session may have ended in between.
        let (Some(read), Some(again)) = (slot.as_mut(), read_again) else {
            *slot = None;
            continue;
        };
        match (id, again.token, again.context.medication) {
            (Some(id), Some(token), Some(list)) => {
                copies
                    .courses
                    .keep(id, token, Arc::new(list.courses.clone()));
                read.context.medication = Some(list);
            }
            // The patient is gone (their namespace deleted in between).
            _ => read.context.patient = None,
        }
    }
    Ok(())
}

/// Reads again the appointments of the reads at `stale`, whose copies were out of date, keeps
/// them and puts them in `found`.
async fn reread_appointments(
    db: &Db,
    copies: &Copies,
    asked: &[Option<&str>],
    stale: &[usize],
    found: &mut [Option<Read>],
) -> StoreResult<()> {
    let ids = distinct_ids(asked, stale);
    let again = appointments_of(db, &ids).await?;
    for (id, (token, list)) in &again {
        copies.appointments.keep(id, *token, list.clone());
    }
    put_read_again(asked, stale, found, &again, |read, list| {
        read.context.appointments = Some(list.as_ref().clone());
    });
    Ok(())
}

/// The contexts of the patients of `ids` (`None` for one who does not exist), each with the
/// context generation its statement saw.
async fn patient_contexts(
    db: &Db,
    ids: &[&str],
) -> StoreResult<HashMap<String, (i64, Option<PatientContext>)>> {
    let rows = db
        .read("patients", patient_contexts_sql!(), &[&ids])
        .await?;
    let shape = || StoreError::Other("patients: unexpected result shape".into());
    let mut contexts = HashMap::with_capacity(ids.len());
    for row in &rows {
        let c = Cols::new(row, "patients");
        let ord: i64 = c.get(0, "ord")?;
        let id = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| ids.get(i))
            .ok_or_else(shape)?;
        let generation: i64 = c.get(1, "generation")?;
        contexts.insert((*id).to_owned(), (generation, patient_context_row(row, 2)?));
    }
    Ok(contexts)
}

/// The patient ids the reads at `positions` name, each once.
fn distinct_ids<'a>(asked: &[Option<&'a str>], positions: &[usize]) -> Vec<&'a str> {
    let mut ids: Vec<&str> = positions
        .iter()
        .filter_map(|&i| asked.get(i).copied().flatten())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The appointments of the patients of `ids` who exist, each with the appointments token its
/// statement saw.
async fn appointments_of(
    db: &Db,
    ids: &[&str],
) -> StoreResult<HashMap<String, (i64, Appointments)>> {
    let rows = db
        .read("appointments", appointments_sql!(), &[&ids])
        .await?;
    let shape = || StoreError::Other("appointments: unexpected result shape".into());
    let mut found: HashMap<String, (i64, Vec<(Appointment, AppointmentSession)>)> =
        HashMap::with_capacity(ids.len());
    for row in &rows {
        let c = Cols::new(row, "appointments");
        let ord: i64 = c.get(0, "ord")?;
        let id = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| ids.get(i))
            .ok_or_else(shape)?;
        let token: i64 = c.get(1, "appointments_token")?;
        let (_, list) = found
            .entry((*id).to_owned())
            .or_insert_with(|| (token, Vec::new()));
        let booked: Option<String> = c.get(2, "id")?;
        if booked.is_some() {
            list.push(appointment_with_session_at(row, 2)?);
        }
    }
    Ok(found
        .into_iter()
        .map(|(id, (token, mut list))| {
            sort_appointments(&mut list);
            (id, (token, Arc::new(list)))
        })
        .collect())
}

/// What a statement asks for, read by read: whether to read the named patient's context (the
/// instance holds no copy), and with the medication list the token of the courses the instance
/// holds; and whether to send the prefetched rows, courses or appointments, at all (the
/// instance lacks some named patient's).
struct Wants {
    contexts: Vec<bool>,
    tokens: Vec<Option<i64>>,
    rows: bool,
}

/// One read's answer: its session's context (without the patient's), the context generation
/// the statement saw, the patient's context if the statement read it (`Some(None)`: no such
/// patient), and with the medication list or appointments the patient's token for them.
struct Read {
    context: SessionContext,
    generation: i64,
    patient: Option<Option<PatientContext>>,
    token: Option<i64>,
}

/// One session-context statement (see [`session_contexts_sql`]): each read's session with the
/// generation (and token) the statement saw, and what `prefetch` names; with the patients'
/// contexts wanted only if `wants` names any.
async fn statement(
    db: &Db,
    suid_hashes: &[&str],
    asked: &[Option<&str>],
    wants: &Wants,
    prefetch: Prefetch,
) -> StoreResult<Vec<Option<Read>>> {
    let with_contexts = wants.contexts.contains(&true);
    let (sql, params): (&str, Params) = match (prefetch, with_contexts) {
        (Prefetch::Nothing, false) => (session_contexts_sql!(), &[&suid_hashes, &asked]),
        (Prefetch::Appointments, false) if !wants.rows => (
            session_contexts_with_appointments_token_sql!(),
            &[&suid_hashes, &asked],
        ),
        (Prefetch::Appointments, true) if !wants.rows => (
            with_patient_contexts_sql!(session_contexts_with_appointments_token_sql!(), "$3"),
            &[&suid_hashes, &asked, &wants.contexts],
        ),
        (Prefetch::Nothing, true) => (
            with_patient_contexts_sql!(session_contexts_sql!(), "$3"),
            &[&suid_hashes, &asked, &wants.contexts],
        ),
        (Prefetch::Appointments, false) => (
            session_contexts_with_appointments_sql!(),
            &[&suid_hashes, &asked],
        ),
        (Prefetch::Appointments, true) => (
            with_patient_contexts_sql!(session_contexts_with_appointments_sql!(), "$3"),
            &[&suid_hashes, &asked, &wants.contexts],
        ),
        (Prefetch::Medication, false) if !wants.rows => (
            session_contexts_with_medication_token_sql!(),
            &[&suid_hashes, &asked],
        ),
        (Prefetch::Medication, true) if !wants.rows => (
            with_patient_contexts_sql!(session_contexts_with_medication_token_sql!(), "$3"),
            &[&suid_hashes, &asked, &wants.contexts],
        ),
        (Prefetch::Medication, false) => (
            session_contexts_with_medication_sql!(),
            &[&suid_hashes, &asked, &wants.tokens],
        ),
        (Prefetch::Medication, true) => (
            with_patient_contexts_sql!(session_contexts_with_medication_sql!(), "$4"),
            &[&suid_hashes, &asked, &wants.tokens, &wants.contexts],
        ),
    };
    let rows = db.read("sessions", sql, params).await?;
    contexts(&rows, wants, prefetch)
}

/// The answers of the statement's reads (one per element of `wants.contexts`, which says whose
/// patient's context the rows end with) from its rows, by position (`None` where there is no
/// such session).
fn contexts(rows: &[Row], wants: &Wants, prefetch: Prefetch) -> StoreResult<Vec<Option<Read>>> {
    let want_contexts = &wants.contexts;
    let shape = || StoreError::Other("sessions: unexpected result shape".into());
    let mut found: Vec<Option<Read>> = want_contexts.iter().map(|_| None).collect();
    for row in rows {
        let c = Cols::new(row, "sessions");
        let ord: i64 = c.get(0, "ord")?;
        let i = usize::try_from(ord - 1).map_err(|_| shape())?;
        let slot = found.get_mut(i).ok_or_else(shape)?;
        let read = match slot {
            Some(read) => read,
            None => {
                // The patient's context, when asked for, ends every row of the read.
                let patient = match want_contexts.get(i) {
                    Some(true) => {
                        let at = row.len().checked_sub(PATIENT_CONTEXT_COLUMNS);
                        Some(patient_context_row(row, at.ok_or_else(shape)?)?)
                    }
                    _ => None,
                };
                slot.insert(Read {
                    context: session_context_row(row)?,
                    generation: c.get(GENERATION, "generation")?,
                    patient,
                    token: None,
                })
            }
        };
        // Prefetched rows come only for reads naming a patient.
        let asked: Option<String> = c.get(ASKED_ID, "asked_id")?;
        if asked.is_none() {
            continue;
        }
        let context = &mut read.context;
        match prefetch {
            Prefetch::Nothing => {}
            Prefetch::Appointments => {
                // A patient who does not exist has no token.
                read.token =
                    Cols::new(row, "patients").get(APPOINTMENTS_TOKEN, "appointments_token")?;
                if wants.rows {
                    let appointments = context.appointments.get_or_insert_with(Vec::new);
                    let booked: Option<String> =
                        Cols::new(row, "appointments").get(APPOINTMENTS_AT, "id")?;
                    if booked.is_some() {
                        appointments.push(appointment_with_session_at(row, APPOINTMENTS_AT)?);
                    }
                }
            }
            Prefetch::Medication if !wants.rows => {
                let list = context.medication.get_or_insert_with(Default::default);
                let (version, seen) = list_versions_at(row, SESSION_CONTEXT_COLUMNS)?;
                add_list_row(list, (version, seen, None));
                read.token = Cols::new(row, "patients")
                    .get(SESSION_CONTEXT_COLUMNS + 2, "medication_token")?;
            }
            Prefetch::Medication => {
                let list = context.medication.get_or_insert_with(Default::default);
                add_list_row(list, list_row_at(row, SESSION_CONTEXT_COLUMNS)?);
                // A patient with no row has no token, and nothing to keep a copy of.
                read.token =
                    Cols::new(row, "patients").get(MEDICATION_TOKEN, "medication_token")?;
            }
        }
    }
    for read in found.iter_mut().flatten() {
        if let Some(appointments) = &mut read.context.appointments {
            sort_appointments(appointments);
        }
        if let Some(list) = &mut read.context.medication {
            sort_courses(list);
        }
    }
    Ok(found)
}
