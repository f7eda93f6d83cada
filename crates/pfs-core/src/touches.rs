//! Which sessions this instance has lately written activity for.
//!
//! A session's activity is written back at most once per [`TOUCH_GRANULARITY`](crate::session)
//! by the stored record's own time; but every request of a session read before that write
//! commits sees the old time, and a session with many requests at once (an app fetching
//! several things in parallel, a load test) sent one write each, all for the same row: each
//! waited for the row lock and the commit before it, and on PostgreSQL each held a pooled
//! connection meanwhile, so a burst of them opened new connections to the database. Here each
//! instance notes the session whose write it has begun, so that the requests racing it leave
//! the write to the first.
//!
//! A fixed table, indexed by the suid hash: a slot holds a tag from the hash and when its
//! write began. It is lossy on purpose and errs towards writing: a session whose slot another
//! has taken since only writes again. A session is wrongly skipped only when another shares
//! its 64-bit tag, and then its activity is late by at most the granularity.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// Slots in the table: 16 bytes each.
const SLOTS: usize = 4096;

pub(crate) struct RecentTouches {
    slots: Box<[Slot]>,
}

#[derive(Default)]
struct Slot {
    tag: AtomicU64,
    at_ms: AtomicI64,
}

impl RecentTouches {
    pub(crate) fn new() -> Self {
        RecentTouches {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }

    /// Whether the caller should write `suid_hash`'s activity as of `now`: false when this
    /// instance began a write for it less than `granularity` ago. True claims the session.
    pub(crate) fn claim(&self, suid_hash: &str, now: DateTime<Utc>, granularity: Duration) -> bool {
        let tag = tag_of(suid_hash);
        let Some(slot) = self.slots.get(index_of(tag)) else {
            return true;
        };
        let now_ms = now.timestamp_millis();
        // Relaxed is enough: a stale read only costs a write, or skips one that a racing
        // request of the same session is making.
        if slot.tag.load(Ordering::Relaxed) == tag
            && now_ms.saturating_sub(slot.at_ms.load(Ordering::Relaxed))
                < granularity.num_milliseconds()
        {
            return false;
        }
        slot.tag.store(tag, Ordering::Relaxed);
        slot.at_ms.store(now_ms, Ordering::Relaxed);
        true
    }

    /// Forgets `suid_hash`'s claim (its write failed), so that the next request writes.
    pub(crate) fn release(&self, suid_hash: &str) {
        let tag = tag_of(suid_hash);
        if let Some(slot) = self.slots.get(index_of(tag))
            && slot.tag.load(Ordering::Relaxed) == tag
        {
            slot.at_ms.store(i64::MIN, Ordering::Relaxed);
        }
    }
}

/// A 64-bit tag of the hash. Computed only when a session's write is due (once per
/// granularity), so the standard hasher's cost does not matter.
fn tag_of(suid_hash: &str) -> u64 {
    let mut h = DefaultHasher::new();
    suid_hash.hash(&mut h);
    h.finish()
}

fn index_of(tag: u64) -> usize {
    // SLOTS is a power of two; the low bits of a hash are as good as any.
    usize::try_from(tag % SLOTS as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_740_823_200_000 + ms).unwrap()
    }

    const FIVE_S: Duration = Duration::seconds(5);

    fn hash(n: u32) -> String {
        crate::secrets::suid_hash(&format!("suid-{n}"))
    }

    #[test]
    fn a_session_is_claimed_once_per_granularity() {
        let t = RecentTouches::new();
        let s = hash(1);
        assert!(t.claim(&s, at(0), FIVE_S));
        assert!(!t.claim(&s, at(1), FIVE_S));
        assert!(!t.claim(&s, at(4_999), FIVE_S));
        assert!(t.claim(&s, at(5_000), FIVE_S));
        assert!(!t.claim(&s, at(5_001), FIVE_S));
    }

    #[test]
    fn a_released_claim_lets_the_next_request_write() {
        let t = RecentTouches::new();
        let s = hash(2);
        assert!(t.claim(&s, at(0), FIVE_S));
        t.release(&s);
        assert!(t.claim(&s, at(1), FIVE_S));
        // Releasing another session's claim leaves this one as it is.
        t.release(&hash(3));
        assert!(!t.claim(&s, at(2), FIVE_S));
    }

    #[test]
    fn sessions_sharing_a_slot_each_write() {
        let t = RecentTouches::new();
        let first = hash(4);
        let slot = index_of(tag_of(&first));
        let other = (5..)
            .map(hash)
            .find(|h| index_of(tag_of(h)) == slot)
            .unwrap();
        assert!(t.claim(&first, at(0), FIVE_S));
        assert!(t.claim(&other, at(1), FIVE_S));
        // The slot now holds the other session: the first writes again rather than skip.
        assert!(t.claim(&first, at(2), FIVE_S));
    }

    #[test]
    fn text_that_is_not_hex_still_gets_a_slot() {
        let t = RecentTouches::new();
        assert!(t.claim("not a hash", at(0), FIVE_S));
        assert!(!t.claim("not a hash", at(1), FIVE_S));
        assert!(t.claim("not a hash either", at(1), FIVE_S));
    }
}
