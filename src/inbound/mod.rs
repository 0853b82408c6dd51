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

pub mod poll;

use chrono::{TimeDelta, Utc};
use herold_channel_api::retry_delay;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

use crate::{
    config::InboundConfig,
    service::Herold,
    storage::{ClaimedInbound, InboundFinish, StorageError},
};

/// First retry delay of a failed event; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(300);

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
    owner: String,
}

impl Processor {
    /// A processor named `owner` in leases. Built by the composition root
    /// ([`crate::app::App::inbound`]).
    pub(crate) fn new(app: Herold, owner: String) -> Self {
        Self { app, owner }
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
            let me = self.clone();
            let full = match tokio::task::spawn_blocking(move || me.round()).await {
                Ok(Ok(r)) => {
                    if r.claimed > 0 {
                        tracing::debug!(?r, "inbound round");
                    }
                    r.claimed >= self.config().batch_size as usize
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "inbound processing failed; retrying");
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "inbound processing task failed");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(self.config().poll_interval()) => {}
            }
        }
        tracing::info!(owner = %self.owner, "inbound processor stopped");
    }

    /// One round, blocking: claim a batch, process its events in the order
    /// they arrived, finish each.
    pub fn round(&self) -> Result<Round, InboundError> {
        let cfg = self.config();
        let now = Utc::now();
        let lease = TimeDelta::seconds(i64::from(cfg.lease_seconds));
        let until = now.checked_add_signed(lease).unwrap_or(now);
        let claimed =
            self.app
                .db()
                .claim_inbound(&self.owner, i64::from(cfg.batch_size), until, now)?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        for item in &claimed {
            match self.process(item)? {
                Ended::Done => round.done += 1,
                Ended::Retried => round.retried += 1,
                Ended::Failed => round.failed += 1,
            }
        }
        Ok(round)
    }

    /// Processes one claimed event and records how that ended.
    fn process(&self, item: &ClaimedInbound) -> Result<Ended, InboundError> {
        let now = Utc::now();
        let db = self.app.db();
        let error = match self.app.process_inbound(item.channel, &item.event) {
            Ok(outcome) => {
                let outcome = outcome.as_str();
                db.finish_inbound(item.id, InboundFinish::Done { outcome }, now)?;
                return Ok(Ended::Done);
            }
            // Service errors are written for operators, without personal data.
            Err(e) => e.to_string(),
        };
        tracing::warn!(inbound_event = item.id, channel = %item.channel, attempts = item.attempts, error = %error, "inbound event failed");
        if item.attempts >= self.config().max_attempts as i32 {
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
