//! The `inbound` configuration section: the processor of stored inbound
//! events (webhooks, polling).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ConfigError;

/// How stored inbound events are processed (`[inbound]`, `HEROLD_INBOUND__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Process inbound events inside `herold serve` (set false when
    /// `herold worker` processes do it; webhooks are stored either way).
    pub process_in_serve: bool,
    /// Pause between polls of an empty queue (milliseconds): how soon
    /// events stored by another process are found; this process's own
    /// webhooks and polls wake its processor at once.
    pub poll_interval_ms: u64,
    /// Events claimed at once.
    pub batch_size: u32,
    /// How long a claimed event stays with its processor before another
    /// may take it over (seconds).
    pub lease_seconds: u32,
    /// Attempts before an event is given up as failed.
    pub max_attempts: u32,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            process_in_serve: true,
            poll_interval_ms: 200,
            batch_size: 100,
            lease_seconds: 60,
            max_attempts: 10,
        }
    }
}

impl InboundConfig {
    /// Pause between polls of an empty queue.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v, max) in [
            ("inbound.poll_interval_ms", self.poll_interval_ms, 60_000),
            ("inbound.batch_size", u64::from(self.batch_size), 10_000),
            ("inbound.lease_seconds", u64::from(self.lease_seconds), 3600),
            ("inbound.max_attempts", u64::from(self.max_attempts), 100),
        ] {
            if v == 0 || v > max {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: format!("a number from 1 to {max}"),
                });
            }
        }
        Ok(())
    }
}
