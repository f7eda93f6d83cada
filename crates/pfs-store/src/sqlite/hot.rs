//! Rows that nearly every request reads and that rarely change, kept in memory: providers by
//! certificate fingerprint, and patients' contexts (the patient, their practice with its
//! settings, and both sets of service switches).
//!
//! The copies are exact, with no polling and no expiry, because this process is the
//! database's only writer: the file is opened with SQLite's `unix-excl` VFS, which keeps every
//! other process out while the server runs, and every write goes through
//! [`SqliteStore::write`](super::SqliteStore). Each copy is tagged with the store's write
//! generation as it stood *before* the read that produced it; every write moves the generation
//! on *after* it returns, committed or not. A copy read before a write's commit therefore
//! carries an older generation than any lookup made after the commit, and is never used again.
//! Writes that cannot touch these rows (the access log, session bookkeeping) say so and leave
//! the generation alone, so that they do not empty the cache many times a second.
//!
//! The lock keeps other processes out, not other stores in this one: two [`SqliteStore`]s
//! writing one file from one process would each keep copies the other's writes do not reach.
//! The server opens one (a restart closes the old one first).
//!
//! [`SqliteStore`]: super::SqliteStore

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pfs_core::model::{PatientContext, Provider};

/// Most patients' contexts kept; the table is emptied when it is full (a simple bound: a
/// practice's busiest patients come back within the next few thousand reads).
const MOST_PATIENTS: usize = 4096;
/// Most providers kept (there are a handful in practice).
const MOST_PROVIDERS: usize = 1024;

/// The store's write generation and the copies tagged with it.
#[derive(Default)]
pub(super) struct HotRows {
    generation: AtomicU64,
    providers: Tagged<Option<Provider>>,
    patients: Tagged<Option<PatientContext>>,
}

impl HotRows {
    /// The generation to tag a read with; take it before the read begins.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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

    /// A patient's context (the inner `None`: no such patient), when cached under the
    /// current generation.
    pub(super) fn patient(&self, patient_id: &str) -> Option<Option<PatientContext>> {
        self.patients.get(patient_id, self.generation())
    }

    pub(super) fn keep_patient(&self, patient_id: &str, read_at: u64, p: &Option<PatientContext>) {
        self.patients
            .put(patient_id, read_at, p, self.generation(), MOST_PATIENTS);
    }
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
        assert_eq!(hot.patient("42"), Some(None));
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
}
