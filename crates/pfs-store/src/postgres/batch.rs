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
//! in the same statement.
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

use futures_util::future::join3;
use pfs_core::model::{PatientContext, Prefetch, SessionContext};
use pfs_core::{StoreError, StoreResult};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_postgres::Row;

use super::appointment::{appointment_with_session_at, sort_appointments};
use super::hot::{Copies, Copy, Courses};
use super::medication::{add_list_row, list_row_at, sort_courses};
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

/// The session-context statement with each named patient's live appointments joined on: one
/// row per appointment (its columns from [`SESSION_CONTEXT_COLUMNS`], then its session's), or
/// one with those columns all NULL. As above, `OFFSET 0` makes the appointments a lookup per
/// patient, and each appointment's session a lookup per appointment: left to itself, a plan
/// made while the tables were small joined every live appointment of every patient and
/// filtered afterwards, and a generic plan (which guesses how many appointments a patient has)
/// hashed every appointment session for each read.
macro_rules! session_contexts_with_appointments_sql {
    () => {
        concat!(
            "SELECT c.*, b.*
             FROM (",
            session_contexts_sql!(),
            ") c
             LEFT JOIN LATERAL (
                 SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                        a.booked_by, a.booked_at, a.cancelled_at, x.*
                 FROM appointments a
                 CROSS JOIN LATERAL (
                     SELECT x.id, x.ods, x.session_type, x.staff_details, x.location,
                            x.slot_type, x.start_ms, x.slot_minutes, x.slot_count
                     FROM appointment_sessions x WHERE x.id = a.session_id
                     OFFSET 0
                 ) x
                 WHERE a.patient_id = c.asked_id AND a.cancelled_at IS NULL
                 OFFSET 0
             ) b ON true"
        )
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
             LEFT JOIN LATERAL (
                 SELECT coalesce((SELECT version FROM medication_versions
                                  WHERE patient_id = c.asked_id), 0) AS version,
                        (SELECT version FROM medication_list_views
                         WHERE suid_hash = c.suid_hash AND patient_id = c.asked_id) AS seen,
                        (SELECT medication_token FROM patients
                         WHERE id = c.asked_id) AS token
             ) h ON c.asked_id IS NOT NULL
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
}

impl ContextReads {
    /// Starts the task that sends the batches over `db`'s read connections.
    pub(super) fn start(db: Arc<Db>) -> ContextReads {
        let (queue, waiting) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(serve(db, Arc::default(), waiting));
        ContextReads { queue }
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
                answer(&db, &copies, plain, Prefetch::Nothing),
                answer(&db, &copies, with_appointments, Prefetch::Appointments),
                answer(&db, &copies, with_medication, Prefetch::Medication),
            )
            .await;
            drop(slot);
        });
    }
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
/// copy's; otherwise the statement sent them, and they are kept.
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
    };
    let mut found = statement(db, suid_hashes, asked, &wants, prefetch).await?;
    let mut stale = Vec::new();
    for (i, ((read, copy), courses)) in found.iter_mut().zip(held).zip(held_courses).enumerate() {
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
        // The courses came only if the copy's token was not the patient's.
        if let (Some(token), Some(list)) = (read.token, read.context.medication.as_mut()) {
            match courses {
                Some((kept, courses)) if kept == token => list.courses = courses.as_ref().clone(),
                _ => copies
                    .courses
                    .keep(id, token, Arc::new(list.courses.clone())),
            }
        }
    }
    if !stale.is_empty() {
        let mut ids: Vec<&str> = stale
            .iter()
            .filter_map(|&i| asked.get(i).copied().flatten())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let again = patient_contexts(db, &ids).await?;
        for (id, (generation, patient)) in &again {
            copies.contexts.keep(id, *generation, patient);
        }
        for i in stale {
            let id = asked.get(i).copied().flatten();
            if let (Some(Some(read)), Some((_, patient))) =
                (found.get_mut(i), id.and_then(|id| again.get(id)))
            {
                read.context.patient = patient.clone();
            }
        }
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

/// What a statement asks for, read by read: whether to read the named patient's context (the
/// instance holds no copy), and with the medication list the token of the courses the instance
/// holds.
struct Wants {
    contexts: Vec<bool>,
    tokens: Vec<Option<i64>>,
}

/// One read's answer: its session's context (without the patient's), the context generation
/// the statement saw, the patient's context if the statement read it (`Some(None)`: no such
/// patient), and with the medication list the patient's medication token.
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
    contexts(&rows, &wants.contexts, prefetch)
}

/// The answers of the statement's reads (one per element of `want_contexts`, which says whose
/// patient's context the rows end with) from its rows, by position (`None` where there is no
/// such session).
fn contexts(
    rows: &[Row],
    want_contexts: &[bool],
    prefetch: Prefetch,
) -> StoreResult<Vec<Option<Read>>> {
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
                let appointments = context.appointments.get_or_insert_with(Vec::new);
                let booked: Option<String> =
                    Cols::new(row, "appointments").get(SESSION_CONTEXT_COLUMNS, "id")?;
                if booked.is_some() {
                    appointments.push(appointment_with_session_at(row, SESSION_CONTEXT_COLUMNS)?);
                }
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
