//! Rows that nearly every request reads, kept in memory: providers by certificate
//! fingerprint; patients' contexts (the patient, their practice with its settings, and both sets
//! of service switches); proxy grants; patients' live appointments; and sessions with their
//! provider.
//!
//! The copies are exact, with no polling and no expiry, because this process is the
//! database's only writer: the file is opened with SQLite's `unix-excl` VFS, which keeps every
//! other process out while the server runs, and every write goes through
//! [`SqliteStore::write`](super::SqliteStore). Each copy is tagged with the store's write
//! generation as it stood *before* the read that produced it; every write moves the generation
//! on *after* it returns, committed or not. A copy read before a write's commit therefore
//! carries an older generation than any lookup made after the commit, and is never used again.
//!
//! Writes that cannot touch these rows (the access log, session bookkeeping) say so and leave
//! the generation alone, so that they do not empty the cache many times a second. Session
//! bookkeeping (a new session, activity, logoff) does change a session's row, so it drops that
//! one session's copy instead, once it has returned ([`HotRows::session_written`]); and a
//! session read that a session write overtook is not kept (see [`ReadMark`]).
//!
//! The lock keeps other processes out, not other stores in this one: two [`SqliteStore`]s
//! writing one file from one process would each keep copies the other's writes do not reach.
//! The server opens one (a restart closes the old one first).
//!
//! [`SqliteStore`]: super::SqliteStore

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pfs_core::model::{
    Appointment, AppointmentSession, MedicationCourse, PatientContext, Provider, SessionRecord,
};

/// Most patients' contexts kept; the table is emptied when it is full (a simple bound: a
/// practice's busiest patients come back within the next few thousand reads).
const MOST_PATIENTS: usize = 4096;
/// Most providers kept (there are a handful in practice).
const MOST_PROVIDERS: usize = 1024;
/// Most sessions kept: well above the sessions active within a few seconds of each other.
const MOST_SESSIONS: usize = 16384;
/// Most proxy grants (or their absence) kept.
const MOST_PROXIES: usize = 4096;

/// A patient's live appointments with their sessions, in order.
pub(super) type Appointments = Vec<(Appointment, AppointmentSession)>;

/// A patient's medication list as every session sees it: its version and the courses, each
/// with its outstanding request.
pub(super) type Courses = (i64, Vec<(MedicationCourse, Option<String>)>);

/// The store's write generation and the copies tagged with it.
#[derive(Default)]
pub(super) struct HotRows {
    generation: AtomicU64,
    /// How many session bookkeeping writes have returned; moved on under the lock of
    /// `sessions`.
    session_writes: AtomicU64,
    providers: Tagged<Option<Provider>>,
    patients: Tagged<Option<PatientContext>>,
    /// By grantee and patient (`grantee\npatient`).
    proxies: Tagged<bool>,
    appointments: Tagged<Appointments>,
    courses: Tagged<Courses>,
    /// The list version a session last fetched, by session and patient (`suid_hash\npatient`).
    seen_versions: Tagged<Option<i64>>,
    /// By suid hash. Only sessions that exist: unknown suids (a flood of them, say) are not
    /// remembered.
    sessions: Tagged<(SessionRecord, Provider)>,
}

/// Where a read began: the generation and the count of session writes, taken before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReadMark {
    pub generation: u64,
    session_writes: u64,
}

impl HotRows {
    /// The generation to tag a read with; take it before the read begins.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The mark to tag a read that may keep a session with; take it before the read begins.
    pub(super) fn mark(&self) -> ReadMark {
        ReadMark {
            session_writes: self.session_writes.load(Ordering::Acquire),
            generation: self.generation(),
        }
    }

    /// A write has returned: every copy taken before it is out of date.
    pub(super) fn moved_on(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The provider holding the certificate with this fingerprint, or `None` when it is not
    /// known (the outer `None`: not cached under the current generation).
    pub(super) fn provider(&self, fingerprint: &str) -> Option<Option<Provider>> {
        self.providers.get(fingerprint, self.generation())
    }

    pub(super) fn keep_provider(&self, fingerprint: &str, read_at: u64, p: &Option<Provider>) {
        self.providers
            .put(fingerprint, read_at, p, self.generation(), MOST_PROVIDERS);
    }

    /// A patient's context (the inner `None`: no such patient), at generation `at`.
    pub(super) fn patient(&self, patient_id: &str, at: u64) -> Option<Option<PatientContext>> {
        self.patients.get(patient_id, at)
    }

    pub(super) fn keep_patient(&self, patient_id: &str, read_at: u64, p: &Option<PatientContext>) {
        self.patients
            .put(patient_id, read_at, p, self.generation(), MOST_PATIENTS);
    }

    /// Whether `grantee_id` holds a proxy grant for `patient_id`, at generation `at`.
    pub(super) fn proxy(&self, grantee_id: &str, patient_id: &str, at: u64) -> Option<bool> {
        self.proxies.get(&pair(grantee_id, patient_id), at)
    }

    pub(super) fn keep_proxy(&self, grantee_id: &str, patient_id: &str, read_at: u64, held: bool) {
        let key = pair(grantee_id, patient_id);
        self.proxies
            .put(&key, read_at, &held, self.generation(), MOST_PROXIES);
    }

    /// A patient's live appointments, at generation `at`.
    pub(super) fn appointments(&self, patient_id: &str, at: u64) -> Option<Appointments> {
        self.appointments.get(patient_id, at)
    }

    pub(super) fn keep_appointments(&self, patient_id: &str, read_at: u64, a: &Appointments) {
        self.appointments
            .put(patient_id, read_at, a, self.generation(), MOST_PATIENTS);
    }

    /// A patient's medication list, at generation `at`.
    pub(super) fn courses(&self, patient_id: &str, at: u64) -> Option<Courses> {
        self.courses.get(patient_id, at)
    }

    pub(super) fn keep_courses(&self, patient_id: &str, read_at: u64, c: &Courses) {
        self.courses
            .put(patient_id, read_at, c, self.generation(), MOST_PATIENTS);
    }

    /// The list version a session last fetched for a patient, at generation `at`.
    pub(super) fn seen_version(
        &self,
        suid_hash: &str,
        patient_id: &str,
        at: u64,
    ) -> Option<Option<i64>> {
        self.seen_versions.get(&pair(suid_hash, patient_id), at)
    }

    pub(super) fn keep_seen_version(
        &self,
        suid_hash: &str,
        patient_id: &str,
        read_at: u64,
        seen: Option<i64>,
    ) {
        let key = pair(suid_hash, patient_id);
        self.seen_versions
            .put(&key, read_at, &seen, self.generation(), MOST_SESSIONS);
    }

    /// A session with its provider, at generation `at`.
    pub(super) fn session(&self, suid_hash: &str, at: u64) -> Option<(SessionRecord, Provider)> {
        self.sessions.get(suid_hash, at)
    }

    /// Keeps a session read since `mark`, unless a session write has returned meanwhile (it
    /// may have changed this row after the read saw it). The check and the keeping are one
    /// step under the lock that [`HotRows::session_written`] takes.
    pub(super) fn keep_session(&self, mark: ReadMark, session: &(SessionRecord, Provider)) {
        let mut map = self.sessions.map();
        if self.session_writes.load(Ordering::Acquire) != mark.session_writes
            || self.generation() != mark.generation
        {
            return;
        }
        if map.len() >= MOST_SESSIONS && !map.contains_key(&session.0.suid_hash) {
            map.clear();
        }
        map.insert(
            session.0.suid_hash.clone(),
            (mark.generation, session.clone()),
        );
    }

    /// A session bookkeeping write to the session with this suid hash has returned (committed
    /// or not): its copy goes, and reads begun before now keep none.
    pub(super) fn session_written(&self, suid_hash: &str) {
        let mut map = self.sessions.map();
        self.session_writes.fetch_add(1, Ordering::AcqRel);
        map.remove(suid_hash);
    }
}

/// The key of a copy kept per pair of ids (no id holds a line break).
fn pair(first: &str, second: &str) -> String {
    format!("{first}\n{second}")
}

/// A map of copies by key, each with the generation it was read at.
struct Tagged<V>(Mutex<HashMap<String, (u64, V)>>);

impl<V> Default for Tagged<V> {
    fn default() -> Self {
        Tagged(Mutex::new(HashMap::new()))
    }
}

impl<V: Clone> Tagged<V> {
    fn map(&self) -> MutexGuard<'_, HashMap<String, (u64, V)>> {
        // Nothing panics while the lock is held; a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &str, current: u64) -> Option<V> {
        match self.map().get(key) {
            Some((read_at, v)) if *read_at == current => Some(v.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, read at generation `read_at`, unless a write has moved the generation on
    /// since (`current`): such a copy could never be used.
    fn put(&self, key: &str, read_at: u64, value: &V, current: u64, most: usize) {
        if read_at != current {
            return;
        }
        let mut map = self.map();
        if map.len() >= most && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), (read_at, value.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str) -> Provider {
        Provider {
            id: "0123456789abcdef".into(),
            name: name.into(),
            fingerprint: "f".into(),
            trusted_identity: false,
            created_at: chrono::DateTime::UNIX_EPOCH,
            revoked_at: None,
        }
    }

    #[test]
    fn a_copy_serves_until_the_next_write() {
        let hot = HotRows::default();
        let at = hot.generation();
        hot.keep_provider("f", at, &Some(provider("a")));
        assert_eq!(hot.provider("f"), Some(Some(provider("a"))));
        assert_eq!(hot.provider("g"), None);
        hot.moved_on();
        assert_eq!(hot.provider("f"), None, "a write makes every copy stale");
    }

    #[test]
    fn a_read_overtaken_by_a_write_is_not_kept() {
        let hot = HotRows::default();
        let at = hot.generation();
        // A write commits and returns while the read is under way.
        hot.moved_on();
        hot.keep_provider("f", at, &Some(provider("old")));
        assert_eq!(hot.provider("f"), None);
    }

    #[test]
    fn absence_is_kept_too() {
        let hot = HotRows::default();
        hot.keep_patient("42", hot.generation(), &None);
        assert_eq!(hot.patient("42", hot.generation()), Some(None));
    }

    #[test]
    fn a_full_table_starts_again() {
        let hot = HotRows::default();
        let at = hot.generation();
        for i in 0..MOST_PROVIDERS {
            hot.keep_provider(&i.to_string(), at, &None);
        }
        hot.keep_provider("f", at, &Some(provider("a")));
        assert_eq!(hot.providers.map().len(), 1);
        assert_eq!(hot.provider("f"), Some(Some(provider("a"))));
    }

    fn session(suid_hash: &str) -> (SessionRecord, Provider) {
        let at = chrono::DateTime::UNIX_EPOCH;
        let record = SessionRecord {
            suid_hash: suid_hash.into(),
            provider_id: "0123456789abcdef".into(),
            account_id: "a".into(),
            online_user_id: "u".into(),
            selected_patient_id: "u".into(),
            created_at: at,
            last_seen_at: at,
            ended_at: None,
        };
        (record, provider("p"))
    }

    #[test]
    fn a_session_write_drops_that_session_only() {
        let hot = HotRows::default();
        hot.keep_session(hot.mark(), &session("s1"));
        hot.keep_session(hot.mark(), &session("s2"));
        let at = hot.generation();
        assert_eq!(hot.session("s1", at), Some(session("s1")));
        hot.session_written("s1");
        assert_eq!(hot.session("s1", at), None);
        assert_eq!(hot.session("s2", at), Some(session("s2")));
        hot.moved_on();
        assert_eq!(hot.session("s2", hot.generation()), None);
    }

    #[test]
    fn a_session_read_overtaken_by_a_session_write_is_not_kept() {
        let hot = HotRows::default();
        let mark = hot.mark();
        // Logoff (of any session) returns while the read is under way.
        hot.session_written("s1");
        hot.keep_session(mark, &session("s1"));
        assert_eq!(hot.session("s1", hot.generation()), None);
        // A later read keeps its copy.
        hot.keep_session(hot.mark(), &session("s1"));
        assert_eq!(hot.session("s1", hot.generation()), Some(session("s1")));
    }

    #[test]
    fn pairs_lists_and_versions_follow_the_generation() {
        let hot = HotRows::default();
        let at = hot.generation();
        hot.keep_proxy("u", "d", at, true);
        hot.keep_appointments("d", at, &Vec::new());
        hot.keep_courses("d", at, &(3, Vec::new()));
        hot.keep_seen_version("s", "d", at, Some(2));
        assert_eq!(hot.proxy("u", "d", at), Some(true));
        assert_eq!(hot.proxy("d", "u", at), None);
        assert_eq!(hot.appointments("d", at), Some(Vec::new()));
        assert_eq!(hot.courses("d", at), Some((3, Vec::new())));
        assert_eq!(hot.seen_version("s", "d", at), Some(Some(2)));
        assert_eq!(hot.seen_version("d", "s", at), None);
        hot.moved_on();
        let now = hot.generation();
        assert_eq!(hot.proxy("u", "d", now), None);
        assert_eq!(hot.appointments("d", now), None);
        assert_eq!(hot.courses("d", now), None);
        assert_eq!(hot.seen_version("s", "d", now), None);
    }
}
