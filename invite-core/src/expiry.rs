//! Expiry: the one function that decides it, and the bounds of time-to-live (rule S6).

use std::time::Duration;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};

/// Whether an invitation that expires at `expires_at` has expired at `now`. The only place
/// that decides expiry: an invitation is expired from the instant `expires_at` on
/// (`expires_at <= now`, rules §1). SQL adapters write the same comparison.
#[must_use]
pub fn is_expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at <= now
}

/// How long invitations live: a default and the bounds a per-invitation request must stay
/// within (rule S6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlPolicy {
    default: Duration,
    min: Duration,
    max: Duration,
}

/// A [`TtlPolicy`] whose numbers do not fit together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expiry bounds must satisfy 0 < min <= default <= max <= 10 years")]
pub struct TtlPolicyError;

/// Longest time-to-live any policy may allow.
const TTL_CEILING: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl TtlPolicy {
    /// A policy with its default and bounds.
    ///
    /// # Errors
    /// [`TtlPolicyError`] unless `0 < min <= default <= max <= 10 years`.
    pub fn new(default: Duration, min: Duration, max: Duration) -> Result<Self, TtlPolicyError> {
        if min.is_zero() || min > default || default > max || max > TTL_CEILING {
            return Err(TtlPolicyError);
        }
        Ok(Self { default, min, max })
    }

    /// The default time-to-live.
    #[must_use]
    pub fn default_ttl(&self) -> Duration {
        self.default
    }

    /// The shortest allowed time-to-live.
    #[must_use]
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The longest allowed time-to-live.
    #[must_use]
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The expiry instant of an invitation sent at `now`, with the requested
    /// time-to-live or the default.
    ///
    /// # Errors
    /// [`TtlError`] (`invalid_request`) when the requested time-to-live is outside the
    /// bounds.
    pub fn expires_at(
        &self,
        now: DateTime<Utc>,
        requested: Option<Duration>,
    ) -> Result<DateTime<Utc>, TtlError> {
        let ttl = requested.unwrap_or(self.default);
        let out_of_bounds = || TtlError {
            min_secs: self.min.as_secs(),
            max_secs: self.max.as_secs(),
        };
        if ttl < self.min || ttl > self.max {
            return Err(out_of_bounds());
        }
        let delta = TimeDelta::from_std(ttl).map_err(|_| out_of_bounds())?;
        Ok(now + delta)
    }
}

/// A requested time-to-live outside the policy's bounds (rule S6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expires_in_seconds must be between {min_secs} and {max_secs}")]
pub struct TtlError {
    /// The shortest time-to-live allowed, in seconds.
    pub min_secs: u64,
    /// The longest, in seconds.
    pub max_secs: u64,
}

impl Default for TtlPolicy {
    /// 7 days by default, from 1 minute to 30 days (rule S6).
    fn default() -> Self {
        Self {
            default: Duration::from_secs(7 * 24 * 3600),
            min: Duration::from_secs(60),
            max: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Truncates to whole microseconds, the precision both SQLite and PostgreSQL keep, so a
/// time read back from storage equals the time written.
#[must_use]
pub fn to_storage_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_from_the_instant_on() {
        // rules §1: expires_at <= now is expired
        let t = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(1);
        assert!(!is_expired(t, t - TimeDelta::microseconds(1)));
        assert!(is_expired(t, t));
        assert!(is_expired(t, t + TimeDelta::seconds(1)));
    }

    #[test]
    fn default_is_seven_days_within_bounds() {
        // rule S6
        let policy = TtlPolicy::default();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(policy.expires_at(now, None).unwrap(), now + TimeDelta::days(7));
        assert_eq!(
            policy.expires_at(now, Some(Duration::from_secs(60))).unwrap(),
            now + TimeDelta::minutes(1)
        );
        assert!(matches!(
            policy.expires_at(now, Some(Duration::from_secs(59))),
            Err(TtlError { .. })
        ));
        assert!(matches!(
            policy.expires_at(now, Some(Duration::from_secs(31 * 86400))),
            Err(TtlError { .. })
        ));
    }

    #[test]
    fn policy_bounds_must_be_ordered() {
        let s = Duration::from_secs;
        assert!(TtlPolicy::new(s(3), s(1), s(10)).is_ok());
        assert_eq!(TtlPolicy::new(s(3), s(0), s(10)), Err(TtlPolicyError));
        assert_eq!(TtlPolicy::new(s(30), s(1), s(10)), Err(TtlPolicyError));
        assert_eq!(TtlPolicy::new(s(3), s(5), s(10)), Err(TtlPolicyError));
    }

    #[test]
    fn the_default_policy_reads_back_its_numbers() {
        // rule S6: 7 days by default, from 1 minute to 30 days
        let policy = TtlPolicy::default();
        assert_eq!(policy.default_ttl(), Duration::from_secs(7 * 86_400));
        assert_eq!(policy.min(), Duration::from_secs(60));
        assert_eq!(policy.max(), Duration::from_secs(30 * 86_400));
        let custom = TtlPolicy::new(
            Duration::from_secs(5),
            Duration::from_secs(2),
            Duration::from_secs(9),
        )
        .unwrap();
        assert_eq!(
            (custom.default_ttl(), custom.min(), custom.max()),
            (
                Duration::from_secs(5),
                Duration::from_secs(2),
                Duration::from_secs(9)
            )
        );
    }

    #[test]
    fn a_request_exactly_at_either_bound_is_allowed_one_second_beyond_is_not() {
        // rule S6: the bounds are inclusive
        let policy = TtlPolicy::default();
        let now = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(100);
        assert_eq!(
            policy.expires_at(now, Some(Duration::from_secs(30 * 86_400))),
            Ok(now + TimeDelta::days(30))
        );
        assert_eq!(
            policy.expires_at(now, Some(Duration::from_secs(60))),
            Ok(now + TimeDelta::seconds(60))
        );
        let refused = TtlError {
            min_secs: 60,
            max_secs: 30 * 86_400,
        };
        assert_eq!(
            policy.expires_at(now, Some(Duration::from_secs(30 * 86_400 + 1))),
            Err(refused)
        );
        assert_eq!(
            policy.expires_at(now, Some(Duration::from_secs(59))),
            Err(refused)
        );
        assert_eq!(
            refused.to_string(),
            "expires_in_seconds must be between 60 and 2592000"
        );
    }

    #[test]
    fn no_policy_allows_more_than_ten_years() {
        // rule S6: the host chooses the bounds, up to a ceiling of 10 years (of 365 days)
        let s = Duration::from_secs;
        let ten_years = s(10 * 365 * 86_400);
        let policy = TtlPolicy::new(s(60), s(60), ten_years).unwrap();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            policy.expires_at(now, Some(ten_years)),
            Ok(now + TimeDelta::days(10 * 365))
        );
        assert_eq!(
            TtlPolicy::new(s(60), s(60), ten_years + s(1)),
            Err(TtlPolicyError)
        );
        assert_eq!(
            TtlPolicy::new(ten_years + s(1), ten_years + s(1), ten_years + s(1)),
            Err(TtlPolicyError)
        );
    }
}
