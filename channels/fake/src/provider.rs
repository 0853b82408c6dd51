//! Fake providers for benchmarks and tests: an in-process one with zero
//! latency, and an HTTP client for a fake provider on loopback.
//!
//! They stand in for a push channel (any [`ChannelKind`]) where no real
//! provider can run locally. The HTTP protocol is deliberately small:
//! `POST {base}/messages` with `{"idempotency_key", "to", "text"}`; 2xx with
//! `{"id"}` is accepted, 429 (with `Retry-After`) throttles, 5xx is
//! transient, 404/410 mean the recipient is gone, other 4xx are permanent.

use async_trait::async_trait;
use herold_channel_api::{
    retry_after_from_header, Capabilities, Channel, ChannelKind, Destination, Formatting,
    OutboundMessage, RateLimit, Reach, Receipt, SendError,
};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

fn capabilities(rate: RateLimit) -> Capabilities {
    Capabilities {
        reach: Reach::Push,
        max_text_chars: None,
        max_subject_chars: None,
        formatting: Formatting::Plain,
        outbound_media: vec![],
        inbound_media: vec![],
        default_rate: rate,
        per_recipient_rate: None,
        inbound: false,
        delivery_receipts: false,
        read_receipts: false,
        idempotent_sends: true,
        unsubscribe_links: false,
    }
}

/// The fake `provider` standing in for channel `kind`, accepting `rate`.
pub fn adapter(
    provider: &crate::Provider,
    kind: ChannelKind,
    rate: RateLimit,
) -> std::sync::Arc<dyn Channel> {
    match provider {
        crate::Provider::Memory => std::sync::Arc::new(MemoryProvider::new(kind, rate)),
        crate::Provider::Http(url) => std::sync::Arc::new(HttpProvider::new(kind, url, rate)),
    }
}

/// Accepts every message at once and counts it.
pub struct MemoryProvider {
    kind: ChannelKind,
    caps: Capabilities,
    sent: AtomicU64,
}

impl MemoryProvider {
    /// A fake for `kind` that accepts up to `rate` (the engine's default).
    pub fn new(kind: ChannelKind, rate: RateLimit) -> Self {
        Self {
            kind,
            caps: capabilities(rate),
            sent: AtomicU64::new(0),
        }
    }

    /// Messages accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Channel for MemoryProvider {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        if !matches!(msg.destination, Destination::Recipient(_)) {
            return Err(SendError::permanent(
                "the fake provider takes recipients only",
            ));
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(Receipt::now(None))
    }
}

/// Sends to a fake provider over HTTP.
pub struct HttpProvider {
    kind: ChannelKind,
    caps: Capabilities,
    url: String,
    client: reqwest::Client,
}

impl HttpProvider {
    /// A client for the fake provider at `base` (e.g. `http://127.0.0.1:9000`).
    pub fn new(kind: ChannelKind, base: &str, rate: RateLimit) -> Self {
        Self {
            kind,
            caps: capabilities(rate),
            url: format!("{}/messages", base.trim_end_matches('/')),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                // At least every send in flight (concurrency × batches in flight):
                // a smaller idle pool closes connections after each request.
                .pool_max_idle_per_host(4096)
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl Channel for HttpProvider {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let Destination::Recipient(to) = &msg.destination else {
            return Err(SendError::permanent(
                "the fake provider takes recipients only",
            ));
        };
        #[derive(serde::Serialize)]
        struct Body<'a> {
            idempotency_key: &'a str,
            to: &'a str,
            text: &'a str,
        }
        let body = Body {
            idempotency_key: &msg.idempotency_key,
            to: to.as_str(),
            text: &msg.message.text,
        };
        let resp = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                SendError::transient(if e.is_timeout() {
                    "timeout"
                } else {
                    "connection failed"
                })
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after_from_header(v, chrono::Utc::now()));
        match status.as_u16() {
            200..=299 => {
                let id = resp
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned));
                Ok(Receipt::now(id))
            }
            429 => Err(SendError::RateLimited { retry_after }),
            404 | 410 => Err(SendError::Permanent {
                reason: format!("provider answered {status}"),
                recipient_gone: true,
            }),
            401 | 403 => Err(SendError::Misconfigured {
                reason: format!("provider answered {status}"),
            }),
            500..=599 => Err(SendError::Transient {
                reason: format!("provider answered {status}"),
                retry_after,
            }),
            _ => Err(SendError::permanent(format!("provider answered {status}"))),
        }
    }
}
