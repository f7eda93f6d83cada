//! Copies of patients' contexts (the patient, their practice with its settings, and both sets
//! of service switches), kept by each instance and checked on every use against the database's
//! context generation (migration 0014), which the session read returns in the same statement.
//!
//! Every write to those rows moves the generation on in its own transaction, whichever instance
//! makes it. A copy is tagged with the generation its read saw; a later session read that sees
//! the same generation sees the same rows, so the copy stands in for them. When the generation
//! has moved, the copy is not used and the context is read again (see `batch.rs`). So a switch
//! turned off through one instance is seen by the next request on every instance, with no
//! round trip added.

//!
//! Likewise the courses of patients' medication lists, checked against each patient's
//! medication token (migration 0016), which the session read also returns: a re-read of a list
//! whose token has not moved sends no course rows. And patients' appointments, checked against
//! their appointments token (migration 0017): a batch whose every copy is current is read by a
//! statement without the appointments' tables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pfs_core::model::{Appointment, AppointmentSession, MedicationCourse, PatientContext};

/// Most patients' contexts kept; the table is emptied when it is full (the busiest patients
/// come back within the next few thousand reads).
const MOST_PATIENTS: usize = 4096;

/// A patient's context (`None`: no such patient) as read at a generation.
pub(super) type Copy = (i64, Option<PatientContext>);

/// The copies, by patient id.
#[derive(Default)]
pub(super) struct PatientCopies(Mutex<HashMap<String, Copy>>);

impl PatientCopies {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Copy>> {
        // Nothing panics while the lock is held; a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The copy of a patient's context, whatever its generation.
    pub(super) fn get(&self, patient_id: &str) -> Option<Copy> {
        self.map().get(patient_id).cloned()
    }

    /// Keeps a context read at `generation`, unless a copy from a later one is already kept.
    pub(super) fn keep(&self, patient_id: &str, generation: i64, context: &Option<PatientContext>) {
        let mut map = self.map();
        if let Some((kept, _)) = map.get(patient_id)
            && *kept > generation
        {
            return;
        }
        if map.len() >= MOST_PATIENTS && !map.contains_key(patient_id) {
            map.clear();
        }
        map.insert(patient_id.to_owned(), (generation, context.clone()));
    }
}

/// A list's courses, each with the id of its outstanding request if it has one, in the list's
/// order.
pub(super) type Courses = Arc<Vec<(MedicationCourse, Option<String>)>>;

/// A patient's live appointments, each with its appointment session, in the store's order.
pub(super) type Appointments = Arc<Vec<(Appointment, AppointmentSession)>>;

/// Copies of something of each patient's, by patient id, each with the token (medication or
/// appointments) it was read at.
pub(super) struct TokenCopies<T>(Mutex<HashMap<String, (i64, T)>>);

impl<T> Default for TokenCopies<T> {
    fn default() -> Self {
        TokenCopies(Mutex::default())
    }
}

impl<T: Clone> TokenCopies<T> {
    fn map(&self) -> MutexGuard<'_, HashMap<String, (i64, T)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The copy of a patient's rows, whatever its token.
    pub(super) fn get(&self, patient_id: &str) -> Option<(i64, T)> {
        self.map().get(patient_id).cloned()
    }

    /// Keeps rows read at `token`. Tokens are random, so there is no telling which of two is
    /// later: the last kept stands, and a copy whose token has moved is simply not used.
    pub(super) fn keep(&self, patient_id: &str, token: i64, rows: T) {
        let mut map = self.map();
        if map.len() >= MOST_PATIENTS && !map.contains_key(patient_id) {
            map.clear();
        }
        map.insert(patient_id.to_owned(), (token, rows));
    }

    /// Drops a patient's copy: after a write through this instance that changed their rows,
    /// so that their next read asks for the rows at once instead of finding the copy's token
    /// out of date and asking again.
    pub(super) fn forget(&self, patient_id: &str) {
        self.map().remove(patient_id);
    }
}

/// Everything an instance copies for its session reads.
#[derive(Default)]
pub(super) struct Copies {
    pub contexts: PatientCopies,
    pub courses: TokenCopies<Courses>,
    pub appointments: TokenCopies<Appointments>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_copy_is_not_replaced_by_an_earlier_one() {
        let copies = PatientCopies::default();
        copies.keep("1", 5, &None);
        copies.keep("1", 4, &None);
        assert_eq!(copies.get("1"), Some((5, None)));
        copies.keep("1", 6, &None);
        assert_eq!(copies.get("1"), Some((6, None)));
        assert_eq!(copies.get("2"), None);
    }

    #[test]
    fn the_last_courses_kept_stand() {
        let copies = TokenCopies::<Courses>::default();
        copies.keep("1", 7, Arc::default());
        copies.keep("1", 3, Arc::default());
        assert_eq!(copies.get("1").map(|(token, _)| token), Some(3));
        assert!(copies.get("2").is_none());
    }

    #[test]
    fn a_forgotten_copy_is_gone() {
        let copies = TokenCopies::<Appointments>::default();
        copies.keep("1", 7, Arc::default());
        copies.keep("2", 8, Arc::default());
        copies.forget("1");
        assert!(copies.get("1").is_none());
        assert_eq!(copies.get("2").map(|(token, _)| token), Some(8));
    }

    #[test]
    fn a_full_table_starts_again() {
        let copies = PatientCopies::default();
        for i in 0..MOST_PATIENTS {
            copies.keep(&i.to_string(), 1, &None);
        }
        copies.keep("new", 1, &None);
        assert_eq!(copies.map().len(), 1);
    }
}
