//! Tunables of the domain rules, with documented defaults (docs/operations.md).

use chrono::Duration;

use crate::secrets::KdfParams;

/// Session, linkage and hashing settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// A session unused for this long is ended (default 20 minutes).
    pub idle_timeout: Duration,
    /// No session lives longer than this (default 12 hours).
    pub session_lifetime: Duration,
    /// A linkage key stops working this long after it is issued (default 14 days).
    pub linkage_key_ttl: Duration,
    /// argon2id cost for linkage keys.
    pub kdf: KdfParams,
    /// Most linkage-key hashes computed at once (default 1, so that hashing never takes more
    /// than one core from request handling).
    pub kdf_concurrency: usize,
    /// Most linkage-key hashes admitted at once, waiting or running, for all providers together
    /// (default 64, about 1.2 s of work at the default cost on one thread). A `LinkAccount` that
    /// finds no place is answered `9008` ("busy, try again shortly") at once.
    pub kdf_queue: usize,
    /// Most linkage-key hashes admitted at once for one provider (default 8), so that one
    /// provider cannot take the whole queue; the threads serve the providers in turn.
    pub kdf_queue_per_provider: usize,
    /// Consecutive failures for one (account, provider) before back-off starts (default 5).
    pub link_failures_before_backoff: u32,
    /// First back-off; doubles with each further failure (default 30 seconds).
    pub link_backoff_base: Duration,
    /// Longest back-off (default 15 minutes).
    pub link_backoff_max: Duration,
    /// Failed linkage attempts one provider may make per minute, on average (default 60).
    pub provider_link_failures_per_minute: u32,
    /// Failed linkage attempts one provider may make in a burst (default 120).
    pub provider_link_failure_burst: u32,
    /// The failure state of an (account id, provider) pair is forgotten by housekeeping once
    /// no back-off is in force and its last failure is this old (default 24 hours; keep it
    /// longer than `link_backoff_max`, so that the back-off keeps doubling while someone keeps
    /// guessing).
    pub link_throttle_retention: Duration,
    /// How long the access-log entries of list re-reads, which are written behind their
    /// replies, may wait for company before they are committed (default 5 ms; see
    /// `group_commit.rs`). Longer makes fewer, larger commits and a wider window of entries a
    /// crash can lose.
    pub write_behind_linger: Duration,
    /// Whether reads of a patient's data are written to their access log (default yes). Off
    /// only to measure what the logging costs: with it off, `ListRecordAccesses` no longer
    /// shows reads, which the service promises patients it does.
    pub log_reads: bool,
    /// Bytes the reply cache may hold: `RequestPatientRecord`'s events (per patient and view)
    /// and `MessagesView`'s messages (per patient) as last encoded, in one budget (default
    /// 32 MiB; 0 turns it off). Filled only by reads; see `reply_cache.rs` for why it never
    /// serves a stale reply.
    pub reply_cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Duration::minutes(20),
            session_lifetime: Duration::hours(12),
            linkage_key_ttl: Duration::days(14),
            kdf: KdfParams::default(),
            kdf_concurrency: 1,
            kdf_queue: 64,
            kdf_queue_per_provider: 8,
            link_failures_before_backoff: 5,
            link_backoff_base: Duration::seconds(30),
            link_backoff_max: Duration::minutes(15),
            provider_link_failures_per_minute: 60,
            provider_link_failure_burst: 120,
            link_throttle_retention: Duration::hours(24),
            write_behind_linger: Duration::milliseconds(5),
            log_reads: true,
            reply_cache_bytes: 32 * 1024 * 1024,
        }
    }
}
