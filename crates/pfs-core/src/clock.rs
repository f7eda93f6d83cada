//! The injected clock: the system clock in production, a hand-driven one in tests so that
//! session expiry can be tested without sleeping, and the sandbox's offset over either.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// A source of "now".
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sandbox's time travel: an offset added to another clock, set at run time through the
/// admin API. Cloning shares the offset, so the server's clock, its admin API and its log
/// lines all see one value.
#[derive(Debug, Clone, Default)]
pub struct ClockOffset(Arc<AtomicI64>);

impl ClockOffset {
    /// The largest offset accepted either way: ten years, far beyond any expiry or booking
    /// window, and far from the limits of the date types.
    pub const MAX: Duration = Duration::days(3650);

    /// A new offset of zero.
    pub fn new() -> Self {
        ClockOffset::default()
    }

    /// The current offset.
    pub fn get(&self) -> Duration {
        Duration::milliseconds(self.0.load(Ordering::Relaxed))
    }

    /// Sets the offset; refused (and nothing changed) beyond [`ClockOffset::MAX`] either way.
    pub fn set(&self, offset: Duration) -> Result<(), OffsetTooLarge> {
        if offset.abs() > Self::MAX {
            return Err(OffsetTooLarge);
        }
        self.0.store(offset.num_milliseconds(), Ordering::Relaxed);
        Ok(())
    }

    /// Whether the clock is moved at all.
    pub fn is_active(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }
}

/// A clock offset beyond [`ClockOffset::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the clock offset must be within ten years (3650 days) either way")]
pub struct OffsetTooLarge;

/// Another clock moved by a [`ClockOffset`]: what the server tells time by, so that every rule
/// that reads the clock (sessions, slots, the cancellation cut-off, linkage-key expiry,
/// prescription dates) travels together.
#[derive(Clone)]
pub struct ShiftedClock {
    base: Arc<dyn Clock>,
    offset: ClockOffset,
}

impl ShiftedClock {
    /// `base` moved by `offset`.
    pub fn new(base: Arc<dyn Clock>, offset: ClockOffset) -> Self {
        ShiftedClock { base, offset }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        self.base.now() + self.offset.get()
    }
}

/// An offset for people and log lines: `+3d02h00m00s`, `-45m00s`, `+0s`.
pub fn describe_offset(offset: Duration) -> String {
    let sign = if offset < Duration::zero() { '-' } else { '+' };
    let total = offset.num_seconds().unsigned_abs();
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{sign}{seconds}s"),
        (0, 0, _) => format!("{sign}{minutes}m{seconds:02}s"),
        (0, _, _) => format!("{sign}{hours}h{minutes:02}m{seconds:02}s"),
        _ => format!("{sign}{days}d{hours:02}h{minutes:02}m{seconds:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_moves_with_its_offset() {
        let start = DateTime::parse_from_rfc3339("2026-03-29T00:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap();
        let base = Arc::new(ManualClock::new(start));
        let offset = ClockOffset::new();
        let clock = ShiftedClock::new(base.clone(), offset.clone());
        assert_eq!(clock.now(), start);
        assert!(!offset.is_active());
        offset.set(Duration::hours(2)).unwrap();
        assert!(offset.is_active());
        assert_eq!(clock.now(), start + Duration::hours(2));
        base.advance(Duration::minutes(1));
        assert_eq!(clock.now(), start + Duration::minutes(121));
        offset.set(Duration::zero()).unwrap();
        assert_eq!(clock.now(), start + Duration::minutes(1));
    }

    #[test]
    fn offsets_beyond_ten_years_are_refused_and_change_nothing() {
        let offset = ClockOffset::new();
        offset.set(Duration::days(-3650)).unwrap();
        assert_eq!(offset.set(Duration::days(3651)), Err(OffsetTooLarge));
        assert_eq!(offset.set(Duration::days(-3651)), Err(OffsetTooLarge));
        assert_eq!(offset.get(), Duration::days(-3650));
    }

    #[test]
    fn offsets_read_as_people_write_them() {
        assert_eq!(describe_offset(Duration::zero()), "+0s");
        assert_eq!(describe_offset(Duration::seconds(-59)), "-59s");
        assert_eq!(describe_offset(Duration::minutes(45)), "+45m00s");
        assert_eq!(
            describe_offset(Duration::seconds(-(2 * 3600 + 61))),
            "-2h01m01s"
        );
        assert_eq!(
            describe_offset(Duration::days(3) + Duration::hours(2)),
            "+3d02h00m00s"
        );
    }
}
