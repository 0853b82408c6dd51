//! Inbound by polling: providers Herold asks for news instead of being
//! called by them (Telegram's `getUpdates` when there is no public https
//! address for a webhook).
//!
//! The core runs one loop per polling channel (only one process at a time
//! polls a channel, under a lease on its stored cursor): it hands the stored
//! cursor to [`InboundPoller::poll`], stores the returned events and the new
//! cursor in one transaction — the same table, deduplication and processor
//! as webhooks — and only then polls again with the new cursor, which is
//! when the provider forgets what came before. A crash in between makes the
//! next poll see the same events again, and deduplication drops them.

use std::time::Duration;

use async_trait::async_trait;

use crate::inbound::InboundEvent;

/// What one poll brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// The events, in the provider's order (updates Herold does not read are
    /// left out).
    pub events: Vec<InboundEvent>,
    /// The cursor to store with them and to poll with next; `None` when
    /// nothing came (keep the stored one).
    pub cursor: Option<String>,
    /// Updates left out because they could not be read (log-safe count).
    pub malformed: usize,
}

/// Why a poll failed; each variant tells the core how to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The credentials or address are wrong (e.g. a revoked bot token):
    /// polling again soon would fail the same way; retry slowly and alert.
    #[error("{reason}")]
    Misconfigured {
        /// What to fix, for the operator (no secrets).
        reason: String,
    },
    /// The provider throttles: wait `retry_after` (or a default) first.
    #[error("the provider throttles polling")]
    RateLimited {
        /// The provider's delay, if it gave one.
        retry_after: Option<Duration>,
    },
    /// Someone else receives these updates (a webhook is set, or another
    /// process polls the same bot): prepare again ([`InboundPoller::start`])
    /// after a pause.
    #[error("{reason}")]
    Conflict {
        /// The provider's description.
        reason: String,
    },
    /// Network or server trouble: retry with backoff.
    #[error("{reason}")]
    Transient {
        /// What happened (log-safe).
        reason: String,
    },
}

/// A channel whose inbound events Herold fetches itself.
#[async_trait]
pub trait InboundPoller: Send + Sync {
    /// Prepares polling, each time this process starts or takes over
    /// polling (Telegram: `deleteWebhook`, since a webhook and polling
    /// exclude each other).
    async fn start(&self) -> Result<(), PollError>;

    /// Waits up to [`InboundPoller::wait`] for events after `cursor`
    /// (`None`: from the oldest the provider still holds). Passing the
    /// returned cursor to the next call confirms them to the provider.
    async fn poll(&self, cursor: Option<&str>) -> Result<Polled, PollError>;

    /// The longest a poll waits for news before it returns empty; the core
    /// sizes its lease from it.
    fn wait(&self) -> Duration;
}
