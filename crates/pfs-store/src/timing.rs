//! Where a backend reports how long its calls took: one histogram for reads and one for
//! writes, measured at the backend's choke point (every store call goes through one of them).
//!
//! The histograms come from whoever runs the store (the server's metrics recorder); by default
//! they measure nothing.

use std::time::Instant;

/// The latency histograms of one store (see the module docs).
#[derive(Clone)]
pub struct StoreTimers {
    /// Seconds each read took, connection wait included.
    pub read: metrics::Histogram,
    /// Seconds each write took, connection (or writer lock) wait included.
    pub write: metrics::Histogram,
}

impl StoreTimers {
    /// Histograms that measure nothing.
    pub fn noop() -> Self {
        StoreTimers {
            read: metrics::Histogram::noop(),
            write: metrics::Histogram::noop(),
        }
    }
}

impl Default for StoreTimers {
    fn default() -> Self {
        StoreTimers::noop()
    }
}

impl std::fmt::Debug for StoreTimers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreTimers")
    }
}

/// Timers are where measurements go, not tuning: they take no part in comparing options.
impl PartialEq for StoreTimers {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for StoreTimers {}

/// Records the time since `started` in `histogram` when dropped, so that every way out of a
/// call (`?` included) is measured.
pub(crate) struct Timed<'a> {
    pub(crate) histogram: &'a metrics::Histogram,
    pub(crate) started: Instant,
}

impl<'a> Timed<'a> {
    pub(crate) fn start(histogram: &'a metrics::Histogram) -> Self {
        Timed {
            histogram,
            started: Instant::now(),
        }
    }
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed().as_secs_f64());
    }
}
