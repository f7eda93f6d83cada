//! The record cache: each patient's `RequestPatientRecord` events as last encoded, so that a
//! long record that has not changed is neither read nor encoded again.
//!
//! **It cannot serve a stale record.** An entry is kept under the patient's record token
//! ([`RecordStore::record_token`](crate::store::RecordStore::record_token)), which every
//! write to their events or items replaces with a new random value in the same transaction
//! (database triggers, so no write path can forget it). A read takes the token from the store
//! first and uses an entry only if it was made under that very token; an entry is made only
//! from events read in the same read transaction as its token. Equal tokens mean equal
//! records, on every instance sharing the database and across sandbox restores (a random
//! token, unlike a counter, never comes back to stand for other rows).
//!
//! **What a user sees of it is part of the key**: the level (coded or full) and whether
//! documents are shown ([`View`]), decided per request from the grants and switches, which are
//! read afresh each time. Everything the events show comes from the record's own rows.
//!
//! **It is bounded by bytes** ([`Config::record_cache_bytes`](crate::config::Config), default
//! 32 MiB, 0 to turn it off), filled only by reads, and the least recently used entries go
//! first. Each entry is counted as its encoded text plus its key.

use std::sync::Mutex;

use hashlink::LinkedHashMap;
use pfs_wire::Markup;

/// What decides which of a record's items a user is shown (see `record.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct View {
    /// Items without a SNOMED code are shown (the full record, with free text).
    pub full: bool,
    /// Documents (letters, attachments) are shown.
    pub documents: bool,
}

/// A bookkeeping allowance per entry besides its text and key.
const ENTRY_OVERHEAD: usize = 96;

/// See the module documentation.
pub(crate) struct RecordCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    /// Least recently used first.
    entries: LinkedHashMap<(String, View), Entry>,
    bytes: usize,
}

struct Entry {
    token: i64,
    events: Markup,
    bytes: usize,
}

impl RecordCache {
    /// A cache holding at most `capacity` bytes (0: nothing is ever kept).
    pub fn new(capacity: usize) -> Self {
        RecordCache {
            capacity,
            inner: Mutex::new(Lru::default()),
        }
    }

    /// Whether anything is ever kept (a capacity above 0).
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events kept for `patient_id` seen through `view`, if they were made under `token`.
    pub fn get(&self, patient_id: &str, view: View, token: i64) -> Option<Markup> {
        if self.capacity == 0 {
            return None;
        }
        let key = (patient_id.to_owned(), view);
        let mut lru = self.lru();
        let entry = lru.entries.to_back(&key)?;
        (entry.token == token).then(|| entry.events.clone())
    }

    /// Keeps `events`, made from the record as it was under `token`, replacing what was kept
    /// for the same patient and view, and dropping the least recently used entries beyond the
    /// capacity. A single entry larger than the whole capacity is not kept.
    pub fn put(&self, patient_id: &str, view: View, token: i64, events: Markup) {
        let bytes = events.len() + patient_id.len() + ENTRY_OVERHEAD;
        if bytes > self.capacity {
            return;
        }
        let mut lru = self.lru();
        let entry = Entry {
            token,
            events,
            bytes,
        };
        if let Some(old) = lru.entries.insert((patient_id.to_owned(), view), entry) {
            lru.bytes -= old.bytes;
        }
        lru.bytes += bytes;
        while lru.bytes > self.capacity {
            let Some((_, dropped)) = lru.entries.pop_front() else {
                break;
            };
            lru.bytes -= dropped.bytes;
        }
    }

    /// Bytes held now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lru().bytes
    }
}

#[cfg(test)]
mod tests {
    use pfs_wire::{Element, Markup};

    use super::*;

    const FULL: View = View {
        full: true,
        documents: true,
    };
    const CODED: View = View {
        full: false,
        documents: false,
    };

    fn text(bytes: usize) -> Markup {
        Markup::of([Element::new("E").attr("d", "x".repeat(bytes.saturating_sub(9)))])
    }

    #[test]
    fn an_entry_is_used_only_under_its_token_and_view() {
        let cache = RecordCache::new(1 << 20);
        let events = text(100);
        cache.put("p1", FULL, 7, events.clone());
        assert_eq!(cache.get("p1", FULL, 7), Some(events));
        assert_eq!(cache.get("p1", FULL, 8), None);
        assert_eq!(cache.get("p1", CODED, 7), None);
        assert_eq!(cache.get("p2", FULL, 7), None);
        // A newer token replaces the entry; the old one is gone.
        cache.put("p1", FULL, 8, text(50));
        assert_eq!(cache.get("p1", FULL, 7), None);
        assert!(cache.get("p1", FULL, 8).is_some());
    }

    #[test]
    fn bytes_stay_within_the_capacity_least_recently_used_first() {
        let entry = 1000 + 2 + ENTRY_OVERHEAD;
        let cache = RecordCache::new(3 * entry);
        for p in ["p1", "p2", "p3"] {
            cache.put(p, FULL, 1, text(1000));
        }
        assert_eq!(cache.bytes(), 3 * entry);
        // p1 is used, so p2 is the least recently used when p4 comes.
        assert!(cache.get("p1", FULL, 1).is_some());
        cache.put("p4", FULL, 1, text(1000));
        assert_eq!(cache.bytes(), 3 * entry);
        assert!(cache.get("p2", FULL, 1).is_none());
        for p in ["p1", "p3", "p4"] {
            assert!(cache.get(p, FULL, 1).is_some(), "{p}");
        }
        // Replacing an entry counts only the new one.
        cache.put("p4", FULL, 2, text(1000));
        assert_eq!(cache.bytes(), 3 * entry);
        // Larger than the whole cache: not kept, nothing else dropped.
        cache.put("p5", FULL, 1, text(4 * entry));
        assert!(cache.get("p5", FULL, 1).is_none());
        assert_eq!(cache.bytes(), 3 * entry);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = RecordCache::new(0);
        cache.put("p1", FULL, 1, text(10));
        assert_eq!(cache.get("p1", FULL, 1), None);
        assert_eq!(cache.bytes(), 0);
    }
}
