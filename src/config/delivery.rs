use herold_channel_api::ChannelKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the delivery engine works.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Push channels every announcement is broadcast on, e.g. `["email", "telegram"]`.
    pub channels: Vec<ChannelKind>,
    /// Run workers inside `herold serve` (set false when `herold worker`
    /// processes do the sending).
    pub workers_in_serve: bool,
    /// Deliveries claimed per batch.
    pub batch_size: u32,
    /// Batches each worker has in flight per channel: while one waits for
    /// the database, another is sent.
    pub batches_in_flight: u32,
    /// How long a claimed batch stays with its worker before others may
    /// take it over (seconds).
    pub lease_seconds: u32,
    /// Attempts before a delivery fails (throttling does not count).
    pub max_attempts: u32,
    /// First retry delay (milliseconds); doubles per attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay (seconds).
    pub backoff_max_seconds: u64,
    /// Pause between polls of an empty queue (milliseconds).
    pub poll_interval_ms: u64,
    /// Sends in flight per channel and worker.
    pub concurrency: u32,
    /// Per-channel rate limits overriding the adapter's default, e.g.
    /// `[delivery.rates.email] per_second = 10.0, burst = 20`.
    pub rates: BTreeMap<ChannelKind, RateConfig>,
}

/// A rate limit: sustained rate and burst.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            workers_in_serve: true,
            batch_size: 500,
            batches_in_flight: 2,
            lease_seconds: 60,
            max_attempts: 8,
            backoff_base_ms: 2000,
            backoff_max_seconds: 600,
            poll_interval_ms: 200,
            concurrency: 64,
            rates: BTreeMap::new(),
        }
    }
}
