//! [`RetryPolicy`] and the rule that decides whether a failed attempt may be sent again.
//!
//! The rule reads the request's [`Effect`] from `pfs_wire`'s one table of effects:
//!
//! * A request that **may have reached the server** (it timed out, the connection broke after
//!   the request was written, or the server answered `9010` or HTTP 502/503/504) is sent again
//!   only when a second copy is harmless: [`Effect::Read`] and [`Effect::Idempotent`].
//! * A request the server **certainly did not process** is sent again whatever its effect:
//!   the connection or the TLS handshake failed before a byte of the request was written, or
//!   the server refused it with `9008` (rate limited, busy or at the provider's in-flight cap:
//!   answered before the message is looked at).
//! * Nothing else is retried: every other PFS error is an answer, and sending the same request
//!   again gets the same answer.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use pfs_wire::Effect;

use crate::error::Error;

/// How often and how patiently a call is retried; set it for every call with
/// [`ClientBuilder::retry`](crate::ClientBuilder::retry) or for some calls with
/// [`Client::with_retry`](crate::Client::with_retry) and
/// [`Session::with_retry`](crate::Session::with_retry).
///
/// A client built without one does not retry ([`RetryPolicy::none`]).
/// [`RetryPolicy::default`] is the recommended policy: 3 attempts, waiting about 0.2 s and
/// then about 0.4 s. Which failures are retried is decided by the request's
/// [`Effect`](pfs_wire::Effect); see the crate documentation.
///
/// The wait before retry *n* (1 for the first retry) is drawn at random between half and all
/// of `min(max_delay, base_delay × 2ⁿ⁻¹)` ("equal jitter"), so that clients that failed
/// together do not retry together. A `9008` whose `technicalMessage` says "retry after N
/// seconds" waits at least N seconds, and is not retried when N seconds exceed `max_delay`.
///
/// ```
/// use std::time::Duration;
/// use pfs_client::RetryPolicy;
///
/// let patient = RetryPolicy {
///     max_attempts: 5,
///     base_delay: Duration::from_millis(100),
///     max_delay: Duration::from_secs(2),
/// };
/// assert!(patient.delay(1) >= Duration::from_millis(50));
/// assert!(patient.delay(10) <= Duration::from_secs(2));
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// assert_eq!(RetryPolicy::default().max_attempts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a call is sent at most, the first time included; `0` counts as `1`.
    pub max_attempts: u32,
    /// The wait before the first retry (before jitter); it doubles with every retry.
    pub base_delay: Duration,
    /// The longest wait between two attempts, and the longest "retry after" the server may ask
    /// for: a `9008` asking for a longer wait is returned to the caller.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// The recommended policy: 3 attempts, 200 ms base delay, waits of at most 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries: every call is sent once. What a client does unless configured otherwise.
    pub const fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The wait before retry `retry` (1 for the first retry): between half and all of
    /// `min(max_delay, base_delay × 2^(retry - 1))`, at random.
    pub fn delay(&self, retry: u32) -> Duration {
        let doubling = 1u32
            .checked_shl(retry.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        let cap = self.base_delay.saturating_mul(doubling).min(self.max_delay);
        let half = cap / 2;
        let spread = u64::try_from((cap - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            RandomState::new().hash_one(retry) % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// The number of attempts, at least 1.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Whether attempt `attempt` (1 for the first), which failed with `error`, is sent again,
    /// and after how long. `sent`: whether any byte of the request may have been written.
    pub(crate) fn next(
        &self,
        effect: Effect,
        error: &Error,
        sent: bool,
        attempt: u32,
    ) -> Option<Duration> {
        if attempt >= self.attempts() {
            return None;
        }
        let backoff = self.delay(attempt);
        match retry_kind(effect, error, sent)? {
            Wait::Backoff => Some(backoff),
            Wait::AtLeast(wait) if wait <= self.max_delay => Some(backoff.max(wait)),
            Wait::AtLeast(_) => None,
        }
    }
}

/// How long a retryable failure asks to wait.
#[derive(Debug, PartialEq, Eq)]
enum Wait {
    /// The policy's back-off.
    Backoff,
    /// At least this long (a `9008` "retry after N seconds").
    AtLeast(Duration),
}

/// Whether a failure may be retried for a request of `effect`, ignoring the attempt budget.
fn retry_kind(effect: Effect, error: &Error, sent: bool) -> Option<Wait> {
    let repeatable = effect.is_repeatable();
    match error {
        // Refused before the server looked at the message.
        Error::Pfs {
            code,
            technical_message,
            ..
        } if code == pfs_wire::codes::RATE_LIMITED.code => Some(
            retry_after(technical_message)
                .map(Wait::AtLeast)
                .unwrap_or(Wait::Backoff),
        ),
        // The database or an internal fault: the request may or may not have taken effect.
        Error::Pfs { code, .. } if code == pfs_wire::codes::SERVICE_UNAVAILABLE.code => {
            repeatable.then_some(Wait::Backoff)
        }
        Error::Transport(_) if !sent => Some(Wait::Backoff),
        Error::Transport(_) | Error::Timeout => repeatable.then_some(Wait::Backoff),
        Error::Http { status: 502..=504 } => repeatable.then_some(Wait::Backoff),
        _ => None,
    }
}

/// The N of a `technicalMessage` that says "retry after N seconds".
fn retry_after(technical_message: &str) -> Option<Duration> {
    let (_, rest) = technical_message.rsplit_once("retry after ")?;
    let seconds = rest.split_whitespace().next()?;
    seconds.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pfs(code: &str, technical_message: &str) -> Error {
        Error::Pfs {
            code: code.into(),
            user_friendly_message: String::new(),
            technical_message: technical_message.into(),
            uuid: None,
        }
    }

    const ALL: [Effect; 3] = [Effect::Read, Effect::Idempotent, Effect::Write];

    #[test]
    fn a_request_that_was_not_sent_is_retried_whatever_it_does() {
        for effect in ALL {
            let e = Error::Transport("connection refused".into());
            assert_eq!(retry_kind(effect, &e, false), Some(Wait::Backoff));
            let e = pfs("9008", "too many requests in flight");
            assert_eq!(retry_kind(effect, &e, true), Some(Wait::Backoff));
            let e = pfs(
                "9008",
                "too many linkage-key checks are waiting; retry after 1 seconds",
            );
            assert_eq!(
                retry_kind(effect, &e, true),
                Some(Wait::AtLeast(Duration::from_secs(1)))
            );
        }
    }

    #[test]
    fn a_request_that_may_have_been_processed_is_retried_only_if_repeatable() {
        for error in [
            Error::Transport("connection reset".into()),
            Error::Timeout,
            Error::Http { status: 502 },
            Error::Http { status: 503 },
            Error::Http { status: 504 },
            pfs("9010", "the database is unavailable"),
        ] {
            assert_eq!(retry_kind(Effect::Read, &error, true), Some(Wait::Backoff));
            assert_eq!(
                retry_kind(Effect::Idempotent, &error, true),
                Some(Wait::Backoff)
            );
            assert_eq!(retry_kind(Effect::Write, &error, true), None, "{error:?}");
        }
    }

    #[test]
    fn answers_are_not_retried() {
        for effect in ALL {
            for error in [
                pfs("3", ""),
                pfs("6", ""),
                pfs("1103", ""),
                pfs("9001", ""),
                Error::Http { status: 500 },
                Error::Http { status: 404 },
                Error::UnexpectedReply("x".into()),
                Error::Config("x".into()),
            ] {
                assert_eq!(retry_kind(effect, &error, true), None, "{error:?}");
                assert_eq!(retry_kind(effect, &error, false), None, "{error:?}");
            }
        }
    }

    #[test]
    fn the_policy_counts_attempts_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        };
        let busy = pfs("9008", "retry after 1 seconds");
        assert!(policy.next(Effect::Write, &busy, true, 1) >= Some(Duration::from_secs(1)));
        assert!(policy.next(Effect::Write, &busy, true, 2).is_some());
        assert_eq!(policy.next(Effect::Write, &busy, true, 3), None);
        let locked = pfs("9008", "too many failed attempts; retry after 900 seconds");
        assert_eq!(policy.next(Effect::Write, &locked, true, 1), None);
        assert_eq!(
            RetryPolicy::none().next(Effect::Read, &Error::Timeout, true, 1),
            None
        );
        let zero = RetryPolicy {
            max_attempts: 0,
            ..policy
        };
        assert_eq!(zero.attempts(), 1);
        assert_eq!(zero.next(Effect::Read, &Error::Timeout, true, 1), None);
    }

    #[test]
    fn delays_double_with_jitter_within_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d1 = policy.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = policy.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d9 = policy.delay(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_secs(1));
        }
        assert!(policy.delay(u32::MAX) <= Duration::from_secs(1));
        assert_eq!(RetryPolicy::none().delay(1), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_read_from_the_technical_message() {
        assert_eq!(
            retry_after("locked; retry after 30 seconds"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("too many requests in flight"), None);
        assert_eq!(retry_after("retry after soon"), None);
    }
}
