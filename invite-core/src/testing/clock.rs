use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

use crate::ports::Clock;

/// A clock that stands still until moved (or, after [`ManualClock::tick`], moves by a
/// step at every read). Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Hands>>);

#[derive(Debug)]
struct Hands {
    at: DateTime<Utc>,
    tick: TimeDelta,
}

impl ManualClock {
    /// A clock showing `at`.
    #[must_use]
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(Hands {
            at,
            tick: TimeDelta::zero(),
        })))
    }

    fn hands(&self) -> std::sync::MutexGuard<'_, Hands> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        self.hands().at += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        self.hands().at = at;
    }

    /// From now on, every read answers the current time and then moves the clock by
    /// `step` (zero: stand still again). Two reads of one request then differ, which is
    /// how a test catches code that reads the clock twice where it should read it once.
    pub fn tick(&self, step: TimeDelta) {
        self.hands().tick = step;
    }
}

impl Default for ManualClock {
    /// 2030-01-01T00:00:00Z.
    fn default() -> Self {
        Self::at(DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let mut hands = self.hands();
        let (now, tick) = (hands.at, hands.tick);
        hands.at = now + tick;
        now
    }
}
