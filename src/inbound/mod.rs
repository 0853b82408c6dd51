//! The inbound processor: the second half of the inbound path.
//!
//! `POST /webhooks/{channel}` verifies a request, stores its events
//! encrypted in `inbound_events` (once per channel and dedupe key) and
//! answers the provider at once. This loop — in `herold serve` and in
//! `herold worker` processes — claims pending events under a lease, hands
//! each to its core service ([`Herold::process_inbound`]) and records how
//! that ended. A process that dies mid-way leaves its lease to expire, and
//! the events are claimed again: nothing accepted is lost, and services
//! make a repeat harmless (receipts only move forward).
//!
//! A photo is fetched from its channel's adapter first, on the async
//! runtime, and handed to the service with the event; a transient provider
//! failure retries the event like any other failure, until its last
//! attempt, when the resident is told the photo did not arrive.

pub mod poll;

use chrono::{TimeDelta, Utc};
use herold_channel_api::{retry_delay, FetchError, InboundContent, InboundEvent, SendError};
use std::{sync::Arc, time::Duration};
use thiserror::Error;
use tokio::sync::watch;

use crate::{
    config::InboundConfig,
    registry::Registry,
    service::{Herold, InboundOutcome, PhotoFetch},
    storage::{ClaimedInbound, InboundFinish, StorageError},
};

/// First retry delay of a failed event; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Attempts at a status for a message id Herold has not recorded: with the
/// backoff from [`RETRY_BASE`] about half a minute, longer than a batch
/// takes at the slowest channel's rate.
const UNKNOWN_RECEIPT_ATTEMPTS: i32 = 6;
/// The recorded reason while such a status waits.
const UNRECORDED: &str = "a status for a message id not recorded (yet)";

/// Why a round of processing stopped.
#[derive(Debug, Error)]
pub enum InboundError {
    /// The database failed (the round's leases expire; nothing is lost).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A blocking task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Events claimed.
    pub claimed: usize,
    /// Events processed (whatever their outcome).
    pub done: usize,
    /// Events that failed and will be tried again.
    pub retried: usize,
    /// Events given up.
    pub failed: usize,
}

/// Claims, dispatches and finishes stored inbound events.
#[derive(Debug, Clone)]
pub struct Processor {
    app: Herold,
    /// The adapters that fetch residents' photos.
    registry: Arc<Registry>,
    owner: String,
}

impl Processor {
    /// A processor named `owner` in leases. Built by the composition root
    /// ([`crate::app::App::inbound`]).
    pub(crate) fn new(app: Herold, registry: Arc<Registry>, owner: String) -> Self {
        Self {
            app,
            registry,
            owner,
        }
    }

    fn config(&self) -> &InboundConfig {
        &self.app.config().inbound
    }

    /// Processes until `stop` turns true (or its sender is dropped); a
    /// full batch is followed at once by the next.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(owner = %self.owner, "inbound processor started");
        loop {
            if *stop.borrow() {
                break;
            }
            let full = match self.round().await {
                Ok(r) => {
                    if r.claimed > 0 {
                        tracing::debug!(?r, "inbound round");
                    }
                    r.claimed >= self.config().batch_size as usize
                }
                Err(e) => {
                    tracing::warn!(error = %e, "inbound processing failed; retrying");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                _ = self.app.inbound_stored() => {}
                _ = tokio::time::sleep(self.config().poll_interval()) => {}
            }
        }
        tracing::info!(owner = %self.owner, "inbound processor stopped");
    }

    /// One round: claim a batch, process its events in the order they
    /// arrived, finish each. Database work runs on the blocking pool, one
    /// call per run of events; a photo is fetched before the run it starts.
    pub async fn round(&self) -> Result<Round, InboundError> {
        let me = self.clone();
        let claimed = blocking(move || me.claim()).await?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        let mut items = claimed.into_iter().peekable();
        while let Some(first) = items.next() {
            let photo = self.fetch_photo(&first).await;
            let mut run = vec![(first, photo)];
            while let Some(next) = items.next_if(|i| photo_id(i).is_none()) {
                run.push((next, None));
            }
            let me = self.clone();
            let ended = blocking(move || {
                run.into_iter()
                    .map(|(item, photo)| me.process(&item, photo))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
            for e in ended {
                match e {
                    Ended::Done => round.done += 1,
                    Ended::Retried => round.retried += 1,
                    Ended::Failed => round.failed += 1,
                }
            }
        }
        Ok(round)
    }

    /// Claims a batch of pending events under this processor's lease.
    fn claim(&self) -> Result<Vec<ClaimedInbound>, InboundError> {
        let cfg = self.config();
        let now = Utc::now();
        let lease = TimeDelta::seconds(i64::from(cfg.lease_seconds));
        let until = now.checked_add_signed(lease).unwrap_or(now);
        Ok(self
            .app
            .db()
            .claim_inbound(&self.owner, i64::from(cfg.batch_size), until, now)?)
    }

    /// The photo of a photo event, from its channel's adapter, at most
    /// `conversations.max_photo_bytes`; `None` for any other event, or when
    /// no adapter of the channel is configured here.
    async fn fetch_photo(&self, item: &ClaimedInbound) -> Option<PhotoFetch> {
        let media_id = photo_id(item)?;
        let adapter = self.registry.get(item.channel)?;
        let max = self.app.config().conversations.max_photo_bytes;
        // Within half the lease, so the event stays this processor's.
        let within = Duration::from_secs(u64::from(self.config().lease_seconds / 2).max(5));
        Some(
            tokio::time::timeout(within, adapter.fetch_media(media_id, max))
                .await
                .unwrap_or_else(|_| {
                    Err(FetchError::Provider(SendError::transient(
                        "fetching the photo from the provider timed out",
                    )))
                }),
        )
    }

    /// Processes one claimed event and records how that ended. A photo the
    /// provider could not give for a passing reason is tried again later,
    /// unless this was the event's last attempt.
    fn process(
        &self,
        item: &ClaimedInbound,
        photo: Option<PhotoFetch>,
    ) -> Result<Ended, InboundError> {
        let now = Utc::now();
        let db = self.app.db();
        let last_attempt = item.attempts >= self.config().max_attempts as i32;
        let error = match photo {
            Some(Err(e)) if e.is_transient() && !last_attempt => e.to_string(),
            photo => match self.app.process_inbound(item.channel, &item.event, photo) {
                // A status can overtake the record of its message: the
                // engine writes a batch's message ids once the batch is
                // through. Looked at again a few times before it counts as
                // unknown.
                Ok(InboundOutcome::Unknown) if item.attempts < UNKNOWN_RECEIPT_ATTEMPTS => {
                    UNRECORDED.to_owned()
                }
                Ok(outcome) => {
                    let outcome = outcome.as_str();
                    db.finish_inbound(item.id, InboundFinish::Done { outcome }, now)?;
                    return Ok(Ended::Done);
                }
                // Service errors are written for operators, without personal data.
                Err(e) => e.to_string(),
            },
        };
        if error == UNRECORDED {
            tracing::debug!(inbound_event = item.id, channel = %item.channel, attempts = item.attempts, "status waits for its message id");
        } else {
            tracing::warn!(inbound_event = item.id, channel = %item.channel, attempts = item.attempts, error = %error, "inbound event failed");
        }
        if last_attempt {
            db.finish_inbound(item.id, InboundFinish::Failed { error: &error }, now)?;
            return Ok(Ended::Failed);
        }
        let delay = retry_delay(
            item.attempts.max(1) as u32,
            RETRY_BASE,
            RETRY_MAX,
            None,
            &mut rand::thread_rng(),
        );
        let at = TimeDelta::from_std(delay)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now);
        db.finish_inbound(item.id, InboundFinish::Retry { error: &error, at }, now)?;
        Ok(Ended::Retried)
    }
}

/// The provider's media id, if the event is a resident's photo.
fn photo_id(item: &ClaimedInbound) -> Option<&str> {
    match &item.event {
        InboundEvent::Message {
            content: InboundContent::Photo { media_id, .. },
            ..
        } => Some(media_id),
        _ => None,
    }
}

/// Runs database work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, InboundError> + Send + 'static,
) -> Result<T, InboundError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| InboundError::Task(e.to_string()))?
}

/// How processing one event ended.
enum Ended {
    Done,
    Retried,
    Failed,
}

/// Starts the processor as a task on the caller's runtime; it ends when
/// `stop` turns true.
pub fn spawn(processor: Processor, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(processor.run(stop))
}
