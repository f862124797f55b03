//! Time as a port (STYLE: "time is an argument"): nothing in core reads the system clock
//! except [`SystemClock`], which hosts pass in.

use chrono::{DateTime, Utc};

pub use crate::expiry::to_storage_precision;

/// Tells the current time. Implementations must be cheap and thread-safe.
///
/// The service hands its clock to the store's decisions (accept, reject, revoke), which
/// read it only once they hold their lock (rules §1, "one instant"): the instant a decision is judged at is
/// the instant it records.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// [`Clock::now`] truncated to the precision storage keeps
    /// ([`to_storage_precision`]): the instant the service and the stores judge and record.
    fn now_stored(&self) -> DateTime<Utc> {
        to_storage_precision(self.now())
    }
}

/// A fixed instant is a clock that never moves: pass `&instant` where a decision wants a
/// clock and the time is already known (tests, replays).
impl Clock for DateTime<Utc> {
    fn now(&self) -> DateTime<Utc> {
        *self
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
