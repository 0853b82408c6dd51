//! Prometheus metrics (`GET /metrics`, OpenMetrics text format).
//!
//! The delivery engine records into a shared [`Metrics`]; queue depth is
//! read from the database at scrape time, so it is right even when other
//! worker processes do the sending.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

use crate::storage::QueueDepth;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    channel: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DepthLabels {
    channel: String,
    state: String,
}

/// The metrics of one process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    deliveries: Family<OutcomeLabels, Counter>,
    send_seconds: Family<ChannelLabel, Histogram>,
    rate_limit_wait: Family<ChannelLabel, Counter<f64, AtomicU64>>,
    throttled: Family<ChannelLabel, Counter>,
    queue_depth: Family<DepthLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under the `herold_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("herold");
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Deliveries handled, by channel and outcome (sent, retried, throttled, failed, skipped)",
            deliveries.clone(),
        );
        let send_seconds = Family::<ChannelLabel, Histogram>::new_with_constructor(|| {
            // 50 µs … ~26 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
        });
        registry.register(
            "send_seconds",
            "Time a provider took to accept or refuse one message",
            send_seconds.clone(),
        );
        let rate_limit_wait = Family::<ChannelLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "rate_limit_wait_seconds",
            "Time workers waited for send tokens of the channel's rate limit",
            rate_limit_wait.clone(),
        );
        let throttled = Family::<ChannelLabel, Counter>::default();
        registry.register(
            "provider_throttled",
            "Answers in which a provider throttled the channel (HTTP 429 or equivalent)",
            throttled.clone(),
        );
        let queue_depth = Family::<DepthLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Work waiting per channel: queued, sending (leased to a worker), unmaterialised (subscribers of running broadcasts not reached yet)",
            queue_depth.clone(),
        );
        Self {
            registry,
            deliveries,
            send_seconds,
            rate_limit_wait,
            throttled,
            queue_depth,
        }
    }

    /// Counts `n` deliveries of `channel` with `outcome`.
    pub fn deliveries(&self, channel: &str, outcome: &str, n: u64) {
        if n > 0 {
            self.deliveries
                .get_or_create(&OutcomeLabels {
                    channel: channel.into(),
                    outcome: outcome.into(),
                })
                .inc_by(n);
        }
    }

    /// Records how long one send took.
    pub fn send_latency(&self, channel: &str, seconds: f64) {
        self.send_histogram(channel).observe(seconds);
    }

    /// The send-latency histogram of a channel, to keep at hand on hot paths.
    pub fn send_histogram(&self, channel: &str) -> Histogram {
        self.send_seconds
            .get_or_create(&ChannelLabel {
                channel: channel.into(),
            })
            .clone()
    }

    /// Adds time spent waiting for rate-limit tokens.
    pub fn rate_limit_wait(&self, channel: &str, seconds: f64) {
        self.rate_limit_wait
            .get_or_create(&ChannelLabel {
                channel: channel.into(),
            })
            .inc_by(seconds);
    }

    /// Counts a provider's throttling answer.
    pub fn throttled(&self, channel: &str) {
        self.throttled
            .get_or_create(&ChannelLabel {
                channel: channel.into(),
            })
            .inc();
    }

    /// The text exposition, with queue depth as read just now.
    pub fn encode(&self, depth: &[QueueDepth]) -> Result<String, std::fmt::Error> {
        self.queue_depth.clear();
        for d in depth {
            for (state, n) in [
                ("queued", d.queued),
                ("sending", d.sending),
                ("unmaterialised", d.unmaterialised),
            ] {
                self.queue_depth
                    .get_or_create(&DepthLabels {
                        channel: d.channel.as_str().into(),
                        state: state.into(),
                    })
                    .set(n);
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::ChannelKind;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::new();
        m.deliveries("email", "sent", 3);
        m.send_latency("email", 0.002);
        m.rate_limit_wait("email", 1.5);
        m.throttled("email");
        let text = m
            .encode(&[QueueDepth {
                channel: ChannelKind::Email,
                queued: 4,
                sending: 5,
                unmaterialised: 6,
            }])
            .unwrap();
        for line in [
            r#"herold_deliveries_total{channel="email",outcome="sent"} 3"#,
            r#"herold_send_seconds_count{channel="email"} 1"#,
            r#"herold_rate_limit_wait_seconds_total{channel="email"} 1.5"#,
            r#"herold_provider_throttled_total{channel="email"} 1"#,
            r#"herold_queue_depth{channel="email",state="unmaterialised"} 6"#,
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
