//! Time as a port (STYLE: "time is an argument"): nothing in core reads the system clock
//! except [`SystemClock`], which hosts pass in.

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};

/// Tells the current time. Implementations must be cheap and thread-safe.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Truncates to whole microseconds, the precision both SQLite and PostgreSQL keep, so a
/// time read back from storage equals the time written.
#[must_use]
pub fn to_storage_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}
