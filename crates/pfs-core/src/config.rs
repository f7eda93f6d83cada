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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Duration::minutes(20),
            session_lifetime: Duration::hours(12),
            linkage_key_ttl: Duration::days(14),
            kdf: KdfParams::default(),
            kdf_concurrency: 1,
            link_failures_before_backoff: 5,
            link_backoff_base: Duration::seconds(30),
            link_backoff_max: Duration::minutes(15),
            provider_link_failures_per_minute: 60,
            provider_link_failure_burst: 120,
        }
    }
}
