//! The `websub` configuration section.

use herold_websub::{HubPolicy, LeaseLimits};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ConfigError;
use crate::storage::WebsubCaps;

/// Herold's WebSub hub (`[websub]`, `HEROLD_WEBSUB__*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebsubConfig {
    /// Serve the hub at `/websub`, advertise it in feeds and push changes.
    pub enabled: bool,
    /// Accept callbacks on loopback and private addresses. Only for
    /// development and tests: anyone may make the hub fetch a callback.
    pub allow_private_callbacks: bool,
    /// Shortest lease granted, in seconds.
    pub lease_min_seconds: u64,
    /// Lease granted when the subscriber asks for none, in seconds.
    pub lease_default_seconds: u64,
    /// Longest lease granted, in seconds.
    pub lease_max_seconds: u64,
    /// How often to look for changed feeds and due distributions.
    pub poll_interval_ms: u64,
    /// Time limit of one verification or distribution request, in seconds.
    pub timeout_seconds: u64,
    /// Distributions sent at once.
    pub concurrency: u32,
    /// Verifications of intent in flight at once; more requests get 503.
    pub max_pending_verifications: u32,
    /// Subscriptions whose callbacks share one host; a new one beyond gets
    /// 403 (renewals still work).
    pub max_subscriptions_per_host: u32,
    /// Subscriptions in all; a new one beyond gets 403.
    pub max_subscriptions: u32,
    /// `POST /websub` requests one client (IP address, IPv6 by /64; behind
    /// a proxy as `signup.client_ip_header` names it) may make per minute;
    /// more get 429. 0: no limit.
    pub max_requests_per_client_per_minute: u32,
}

impl Default for WebsubConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_callbacks: false,
            lease_min_seconds: LeaseLimits::DEFAULT_MIN.as_secs(),
            lease_default_seconds: LeaseLimits::DEFAULT_DEFAULT.as_secs(),
            lease_max_seconds: LeaseLimits::DEFAULT_MAX.as_secs(),
            poll_interval_ms: 1000,
            timeout_seconds: 10,
            concurrency: 32,
            max_pending_verifications: 64,
            max_subscriptions_per_host: 100,
            max_subscriptions: 10_000,
            max_requests_per_client_per_minute: 30,
        }
    }
}

impl WebsubConfig {
    /// The lease bounds; consistent once [`WebsubConfig::validate`] passed.
    pub fn lease_limits(&self) -> LeaseLimits {
        LeaseLimits::new(
            Duration::from_secs(self.lease_min_seconds),
            Duration::from_secs(self.lease_default_seconds),
            Duration::from_secs(self.lease_max_seconds),
        )
        .unwrap_or_default()
    }

    /// What `parse_hub_request` enforces.
    pub fn policy(&self) -> HubPolicy {
        HubPolicy {
            lease: self.lease_limits(),
            allow_private_callbacks: self.allow_private_callbacks,
        }
    }

    /// The limits on stored subscriptions.
    pub fn caps(&self) -> WebsubCaps {
        WebsubCaps {
            per_host: self.max_subscriptions_per_host,
            total: self.max_subscriptions,
        }
    }

    /// Time limit of one outgoing request.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    /// Pause between polls.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// Checks ranges and the lease bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Err(e) = LeaseLimits::new(
            Duration::from_secs(self.lease_min_seconds),
            Duration::from_secs(self.lease_default_seconds),
            Duration::from_secs(self.lease_max_seconds),
        ) {
            return Err(ConfigError::Invalid {
                key: "websub.lease_default_seconds",
                value: format!(
                    "min {} default {} max {}",
                    self.lease_min_seconds, self.lease_default_seconds, self.lease_max_seconds
                ),
                expected: e.to_string(),
            });
        }
        for (key, v, max) in [
            ("websub.poll_interval_ms", self.poll_interval_ms, 60_000),
            ("websub.timeout_seconds", self.timeout_seconds, 300),
            ("websub.concurrency", u64::from(self.concurrency), 1_000),
            (
                "websub.max_pending_verifications",
                u64::from(self.max_pending_verifications),
                10_000,
            ),
            (
                "websub.max_subscriptions_per_host",
                u64::from(self.max_subscriptions_per_host),
                1_000_000,
            ),
            (
                "websub.max_subscriptions",
                u64::from(self.max_subscriptions),
                10_000_000,
            ),
        ] {
            if v == 0 || v > max {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: format!("a number from 1 to {max}"),
                });
            }
        }
        if self.max_requests_per_client_per_minute > 100_000 {
            return Err(ConfigError::Invalid {
                key: "websub.max_requests_per_client_per_minute",
                value: self.max_requests_per_client_per_minute.to_string(),
                expected: "a number from 0 to 100000".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = WebsubConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.lease_limits(), LeaseLimits::default());
        assert!(!c.policy().allow_private_callbacks);
    }

    #[test]
    fn rejects_inconsistent_leases() {
        let c = WebsubConfig {
            lease_min_seconds: 100,
            lease_default_seconds: 50,
            ..WebsubConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("websub.lease_default_seconds"), "{e}");
    }

    #[test]
    fn limits_have_defaults_and_ranges() {
        let c = WebsubConfig::default();
        assert_eq!(
            c.caps(),
            WebsubCaps {
                per_host: 100,
                total: 10_000
            }
        );
        assert_eq!(c.max_requests_per_client_per_minute, 30);
        for bad in [
            WebsubConfig {
                max_subscriptions: 0,
                ..WebsubConfig::default()
            },
            WebsubConfig {
                max_subscriptions_per_host: 0,
                ..WebsubConfig::default()
            },
            WebsubConfig {
                max_requests_per_client_per_minute: 100_001,
                ..WebsubConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
