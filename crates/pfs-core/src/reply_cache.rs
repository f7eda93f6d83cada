//! The reply cache: per patient, the parts of replies that are slow to make from a long list
//! and change rarely, as last encoded: `RequestPatientRecord`'s events (per [`View`]) and
//! `MessagesView`'s messages. A list that has not changed is neither read nor encoded again.
//!
//! **It cannot serve a stale reply.** Each kind of list has a token per patient
//! ([`RecordStore::record_token`](crate::store::RecordStore::record_token),
//! [`MessagingStore::messages_token`](crate::store::MessagingStore::messages_token)), which
//! every write to the rows the list is made from replaces with a new random value in the same
//! transaction (database triggers, so no write path can forget it). A read takes the token from
//! the store first and uses an entry only if it was made under that very token; an entry is made
//! only from rows read in the same read transaction as its token. Equal tokens mean equal rows,
//! on every instance sharing the database and across sandbox restores (a random token, unlike a
//! counter, never comes back to stand for other rows).
//!
//! **What a user sees of it is part of the key** ([`Part`]): for the record, the level (coded
//! or full) and whether documents are shown ([`View`]), decided per request from the grants and
//! switches, which are read afresh each time. Everything an entry shows comes from the rows its
//! token covers. Every access-log entry is still written on every read, by the caller.
//!
//! **One budget for both, bounded by bytes** ([`Config::reply_cache_bytes`](crate::config::Config),
//! default 32 MiB, 0 to turn it off), filled only by reads; the least recently used entries go
//! first, whatever their part. Each entry is counted as its encoded text plus its key.

use std::sync::Mutex;

use hashlink::LinkedHashMap;
use pfs_wire::Markup;

use crate::{Pfs, StoreResult};

/// Which reply's list an entry holds, and what decides what the user is shown of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Part {
    /// `RequestPatientRecord`'s events, seen through a [`View`] (under the record token).
    Record(View),
    /// `MessagesView`'s messages (under the messages token): every user allowed to see them
    /// sees them all.
    Messages,
}

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
pub(crate) struct ReplyCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    /// Least recently used first.
    entries: LinkedHashMap<(String, Part), Entry>,
    bytes: usize,
}

struct Entry {
    token: i64,
    text: Markup,
    bytes: usize,
}

impl Pfs {
    /// The patient's `part`, encoded: as kept, when it was made under the token that `token`
    /// reads now; otherwise `fresh` (the rows and their token, from one read) encoded by
    /// `encode`, and kept under that token. The futures run only if needed.
    pub(crate) async fn cached_part<T>(
        &self,
        patient_id: &str,
        part: Part,
        token: impl Future<Output = StoreResult<i64>>,
        fresh: impl Future<Output = StoreResult<(Option<i64>, T)>>,
        encode: impl FnOnce(T) -> Markup,
    ) -> StoreResult<Markup> {
        if self.reply_cache.enabled()
            && let Some(kept) = self.reply_cache.get(patient_id, part, token.await?)
        {
            return Ok(kept);
        }
        let (token, rows) = fresh.await?;
        let encoded = encode(rows);
        if let Some(token) = token {
            self.reply_cache
                .put(patient_id, part, token, encoded.clone());
        }
        Ok(encoded)
    }
}

impl ReplyCache {
    /// A cache holding at most `capacity` bytes (0: nothing is ever kept).
    pub fn new(capacity: usize) -> Self {
        ReplyCache {
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

    /// What is kept of `part` for `patient_id`, if it was made under `token`.
    pub fn get(&self, patient_id: &str, part: Part, token: i64) -> Option<Markup> {
        if self.capacity == 0 {
            return None;
        }
        let key = (patient_id.to_owned(), part);
        let mut lru = self.lru();
        let entry = lru.entries.to_back(&key)?;
        (entry.token == token).then(|| entry.text.clone())
    }

    /// Keeps `text`, made from the rows of `part` as they were under `token`, replacing what
    /// was kept for the same patient and part, and dropping the least recently used entries
    /// beyond the capacity. A single entry larger than the whole capacity is not kept.
    pub fn put(&self, patient_id: &str, part: Part, token: i64, text: Markup) {
        let bytes = text.len() + patient_id.len() + ENTRY_OVERHEAD;
        if bytes > self.capacity {
            return;
        }
        let mut lru = self.lru();
        let entry = Entry { token, text, bytes };
        if let Some(old) = lru.entries.insert((patient_id.to_owned(), part), entry) {
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

    const FULL: Part = Part::Record(View {
        full: true,
        documents: true,
    });
    const CODED: Part = Part::Record(View {
        full: false,
        documents: false,
    });
    const MESSAGES: Part = Part::Messages;

    fn text(bytes: usize) -> Markup {
        Markup::of([Element::new("E").attr("d", "x".repeat(bytes.saturating_sub(9)))])
    }

    #[test]
    fn an_entry_is_used_only_under_its_token_and_part() {
        let cache = ReplyCache::new(1 << 20);
        let events = text(100);
        cache.put("p1", FULL, 7, events.clone());
        assert_eq!(cache.get("p1", FULL, 7), Some(events));
        assert_eq!(cache.get("p1", FULL, 8), None);
        assert_eq!(cache.get("p1", CODED, 7), None);
        // The messages are another part, even under an equal token (the tokens are
        // independent), and keeping them leaves the record's entry alone.
        assert_eq!(cache.get("p1", MESSAGES, 7), None);
        let messages = text(80);
        cache.put("p1", MESSAGES, 7, messages.clone());
        assert_eq!(cache.get("p1", MESSAGES, 7), Some(messages));
        assert!(cache.get("p1", FULL, 7).is_some());
        assert_eq!(cache.get("p2", FULL, 7), None);
        // A newer token replaces the entry; the old one is gone.
        cache.put("p1", FULL, 8, text(50));
        assert_eq!(cache.get("p1", FULL, 7), None);
        assert!(cache.get("p1", FULL, 8).is_some());
    }

    #[test]
    fn bytes_stay_within_the_capacity_least_recently_used_first() {
        let entry = 1000 + 2 + ENTRY_OVERHEAD;
        let cache = ReplyCache::new(3 * entry);
        // One budget for every part.
        cache.put("p1", FULL, 1, text(1000));
        cache.put("p2", MESSAGES, 1, text(1000));
        cache.put("p3", FULL, 1, text(1000));
        assert_eq!(cache.bytes(), 3 * entry);
        // p1 is used, so p2 is the least recently used when p4 comes.
        assert!(cache.get("p1", FULL, 1).is_some());
        cache.put("p4", FULL, 1, text(1000));
        assert_eq!(cache.bytes(), 3 * entry);
        assert!(cache.get("p2", MESSAGES, 1).is_none());
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
        let cache = ReplyCache::new(0);
        cache.put("p1", FULL, 1, text(10));
        assert_eq!(cache.get("p1", FULL, 1), None);
        assert_eq!(cache.bytes(), 0);
    }
}
