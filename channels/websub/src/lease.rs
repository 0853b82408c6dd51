//! Subscription leases: how long a verified subscription stays active.
//!
//! WebSub has no renewal message: a subscriber renews by subscribing again before
//! the lease ends. The hub verifies that request like any other and, on success,
//! replaces the old lease with a new one that starts at the time of the new
//! verification request ([`Lease::starting`]); it does not add to the old one.
//! Hubs must enforce expiry and must not grant perpetual leases.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The hub's lease policy: requested `hub.lease_seconds` are clamped to
/// `min..=max`; requests without one get `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseLimits {
    min: Duration,
    default: Duration,
    max: Duration,
}

/// Inconsistent [`LeaseLimits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseLimitsError {
    /// The limits must satisfy `0 < min <= default <= max`.
    #[error("lease limits must satisfy 0 < min <= default <= max (got min {min:?}, default {default:?}, max {max:?})")]
    Inconsistent {
        /// The rejected minimum.
        min: Duration,
        /// The rejected default.
        default: Duration,
        /// The rejected maximum.
        max: Duration,
    },
}

impl LeaseLimits {
    /// One hour.
    pub const DEFAULT_MIN: Duration = Duration::from_secs(60 * 60);
    /// Ten days.
    pub const DEFAULT_DEFAULT: Duration = Duration::from_secs(10 * 24 * 60 * 60);
    /// Thirty days.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(30 * 24 * 60 * 60);

    /// Limits with `0 < min <= default <= max`; sub-second parts are dropped.
    pub fn new(min: Duration, default: Duration, max: Duration) -> Result<Self, LeaseLimitsError> {
        let whole = |d: Duration| Duration::from_secs(d.as_secs());
        let (min, default, max) = (whole(min), whole(default), whole(max));
        if min.is_zero() || min > default || default > max {
            return Err(LeaseLimitsError::Inconsistent { min, default, max });
        }
        Ok(Self { min, default, max })
    }

    /// The shortest lease granted.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The lease granted when the subscriber asks for none.
    pub fn default_lease(&self) -> Duration {
        self.default
    }

    /// The longest lease granted.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The lease the hub grants for a requested number of seconds.
    pub fn grant(&self, requested_seconds: Option<u64>) -> Duration {
        match requested_seconds {
            None => self.default,
            Some(secs) => Duration::from_secs(secs).max(self.min).min(self.max),
        }
    }
}

impl Default for LeaseLimits {
    /// One hour to thirty days, ten days by default.
    fn default() -> Self {
        Self {
            min: Self::DEFAULT_MIN,
            default: Self::DEFAULT_DEFAULT,
            max: Self::DEFAULT_MAX,
        }
    }
}

/// An active subscription's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// When the subscription ends unless renewed (exclusive).
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// The lease of `length` that starts `at` the verification request.
    pub fn starting(at: DateTime<Utc>, length: Duration) -> Self {
        let delta = TimeDelta::from_std(length).unwrap_or(TimeDelta::MAX);
        Self {
            expires_at: at
                .checked_add_signed(delta)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Whether the lease has ended: no more deliveries, delete the subscription.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Time left until expiry (zero once expired).
    pub fn remaining(&self, now: DateTime<Utc>) -> Duration {
        (self.expires_at - now).to_std().unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn grant_clamps_to_limits() {
        let limits = LeaseLimits::default();
        assert_eq!(limits.grant(None), LeaseLimits::DEFAULT_DEFAULT);
        assert_eq!(limits.grant(Some(60)), LeaseLimits::DEFAULT_MIN);
        assert_eq!(limits.grant(Some(86_400)), Duration::from_secs(86_400));
        assert_eq!(limits.grant(Some(u64::MAX)), LeaseLimits::DEFAULT_MAX);
    }

    #[test]
    fn custom_limits() {
        let limits = LeaseLimits::new(HOUR, 2 * HOUR, 3 * HOUR).unwrap();
        assert_eq!(limits.grant(Some(1)), HOUR);
        assert_eq!(limits.grant(None), 2 * HOUR);
        assert_eq!(limits.grant(Some(100_000)), 3 * HOUR);
    }

    #[test]
    fn inconsistent_limits_are_rejected() {
        assert!(LeaseLimits::new(Duration::ZERO, HOUR, HOUR).is_err());
        assert!(LeaseLimits::new(2 * HOUR, HOUR, 3 * HOUR).is_err());
        assert!(LeaseLimits::new(HOUR, 3 * HOUR, 2 * HOUR).is_err());
        assert!(LeaseLimits::new(Duration::from_millis(500), HOUR, HOUR).is_err());
    }

    #[test]
    fn lease_expiry_and_renewal() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let lease = Lease::starting(t0, HOUR);
        assert_eq!(
            lease.expires_at,
            Utc.with_ymd_and_hms(2026, 3, 1, 13, 0, 0).unwrap()
        );
        let almost = t0 + TimeDelta::minutes(59);
        assert!(!lease.is_expired(almost));
        assert_eq!(lease.remaining(almost), Duration::from_secs(60));
        assert!(lease.is_expired(lease.expires_at));
        assert_eq!(lease.remaining(t0 + TimeDelta::hours(2)), Duration::ZERO);

        // Renewal replaces the lease from the new verification time.
        let renewed = Lease::starting(almost, HOUR);
        assert_eq!(renewed.expires_at, almost + TimeDelta::hours(1));
    }

    #[test]
    fn huge_lease_saturates() {
        let lease = Lease::starting(Utc::now(), Duration::MAX);
        assert_eq!(lease.expires_at, DateTime::<Utc>::MAX_UTC);
    }
}
