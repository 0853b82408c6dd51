//! One channel's reply loop: sends the outbox (replies to residents'
//! commands, automatic answers, staff replies) through the channel's
//! adapter, inside its shared rate limit. It runs beside the broadcast
//! loops and takes its tokens per message as soon as they are due, so a
//! reply waits for at most one token of the bucket, not for a broadcast.

use chrono::Utc;
use herold_channel_api::{Address, Channel, Destination, Disposition, RenderedMessage};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

use super::{
    spacing::{Recipient, Spacing},
    Engine, EngineError,
};
use crate::{
    render::format::plain_message,
    storage::{OutboxItem, OutboxOutcome},
};

/// Messages claimed at once: replies are few and each waits for a token.
const BATCH: i64 = 20;

pub(super) struct ReplyLoop {
    engine: Engine,
    channel: Arc<dyn Channel>,
    /// The channel's per-recipient limit, shared with its broadcasts.
    spacing: Arc<Spacing>,
}

impl ReplyLoop {
    pub(super) fn new(engine: Engine, channel: Arc<dyn Channel>, spacing: Arc<Spacing>) -> Self {
        Self {
            engine,
            channel,
            spacing,
        }
    }

    pub(super) async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        let poll = Duration::from_millis(self.engine.app.config().delivery.poll_interval_ms);
        super::poll_loop(self.channel.kind(), "reply batch", poll, shutdown, || {
            self.batch()
        })
        .await
    }

    /// Claims and sends due replies; returns how many.
    async fn batch(&self) -> Result<usize, EngineError> {
        if !self.channel.serves_here() {
            return Ok(0);
        }
        let kind = self.channel.kind();
        let owner = self.engine.worker_id.clone();
        let lease =
            chrono::Duration::seconds(i64::from(self.engine.app.config().delivery.lease_seconds));
        let items = self
            .engine
            .blocking(move |db| {
                let now = Utc::now();
                db.claim_outbox(kind, &owner, BATCH, now + lease, now)
            })
            .await?;
        let n = items.len();
        for item in items {
            let outcome = self.send(&item).await;
            let finished = !matches!(outcome, OutboxOutcome::Retry { .. });
            let id = item.id;
            let recorded = outcome.clone();
            self.engine
                .blocking(move |db| db.finish_outbox(id, &recorded, Utc::now()))
                .await?;
            if let (true, true, Some(subscriber)) = (finished, item.erase_after, item.subscriber_id)
            {
                // Löschen: the answer went out (or never will); now the data goes.
                let app = self.engine.app.clone();
                match tokio::task::spawn_blocking(move || app.erase_after_reply(subscriber)).await {
                    Ok(Ok(())) => {
                        // Then what the provider side keeps (a Matrix room).
                        if let Some(address) = &item.address {
                            let address = Address::new(address.0.clone());
                            if let Err(e) = self.channel.forget(&address).await {
                                tracing::warn!(subscriber, channel = %self.channel.kind(), error = %e, "provider-side data of an erased resident not dropped");
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(subscriber, error = %e, "erasure after reply failed")
                    }
                    Err(e) => tracing::warn!(subscriber, error = %e, "erasure task failed"),
                }
            }
        }
        Ok(n)
    }

    async fn send(&self, item: &OutboxItem) -> OutboxOutcome {
        let Some(address) = &item.address else {
            return OutboxOutcome::Failed {
                error: "the recipient was erased".into(),
            };
        };
        // Stop is final: the confirmation goes out only once nothing sent
        // before the Stop is still on its way to them.
        if let (true, Some(subscriber)) = (item.wait_settled, item.subscriber_id) {
            let app = self.engine.app.clone();
            let settled =
                tokio::task::spawn_blocking(move || app.settle_after_stop(subscriber)).await;
            if !matches!(settled, Ok(Ok(()))) {
                return OutboxOutcome::Retry {
                    at: Utc::now() + chrono::Duration::seconds(1),
                    error: "could not check the deliveries in flight".into(),
                };
            }
        }
        // The chat's own limit (Telegram: one a second): a resident's
        // replies wait for each other, in order, rather than be refused.
        let to = Destination::Recipient(Address::new(address.0.clone()));
        let rate = self.channel.recipient_rate(&to);
        if let Some(subscriber) = item.subscriber_id {
            while let Err(wait) = self.spacing.admit(
                Recipient::Subscriber(subscriber),
                rate,
                std::time::Instant::now(),
            ) {
                tokio::time::sleep(wait).await;
            }
        }
        let formatted = plain_message(&item.text.0, self.channel.capabilities().formatting);
        let mut message = RenderedMessage::new(formatted.text, &item.locale);
        message.html = formatted.html;
        let sent = super::send_transactional(
            &self.engine.app,
            &self.channel,
            &Address::new(address.0.clone()),
            &message,
        )
        .await;
        if let Some(subscriber) = item.subscriber_id {
            self.spacing.sent(
                Recipient::Subscriber(subscriber),
                rate,
                std::time::Instant::now(),
            );
        }
        let cfg = &self.engine.app.config().delivery;
        let err = match sent {
            Ok(receipt) => {
                return OutboxOutcome::Sent {
                    provider_message_id: receipt.provider_message_id,
                }
            }
            Err(e) => e,
        };
        let attempt = item.attempts + 1;
        let retry = |after: Option<Duration>| {
            let delay = herold_channel_api::retry_delay(
                attempt,
                Duration::from_millis(cfg.backoff_base_ms),
                Duration::from_secs(cfg.backoff_max_seconds),
                after,
                &mut rand::thread_rng(),
            );
            OutboxOutcome::Retry {
                at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                error: err.to_string(),
            }
        };
        match err.disposition() {
            Disposition::Retry { after } | Disposition::BackOff { after }
                if attempt < cfg.max_attempts =>
            {
                retry(after)
            }
            // A misconfigured channel: keep the reply until an administrator
            // fixes it (`herold channels resume`), checking now and then.
            Disposition::Hold => retry(Some(Duration::from_secs(60))),
            Disposition::Retry { .. } | Disposition::BackOff { .. } => OutboxOutcome::Failed {
                error: format!("gave up after {attempt} attempts: {err}"),
            },
            Disposition::GiveUp { .. } => OutboxOutcome::Failed {
                error: err.to_string(),
            },
        }
    }
}
