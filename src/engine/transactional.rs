//! Messages to one person that are not announcements — sign-up
//! confirmations, later replies to residents — sent through the same
//! adapter as announcements and inside the same shared rate limit.

use chrono::Utc;
use herold_channel_api::{Address, Channel, Receipt, RenderedMessage, SendError};
use std::{sync::Arc, time::Duration};

use crate::service::Herold;

/// How long a transactional message waits for a token of its channel's
/// rate limit before it gives up (the resident is waiting for the page).
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How far ahead a message reserves its token: as far as the engine's
/// batches, so it queues behind at most one of them rather than waiting
/// until they leave the bucket a whole token.
const AHEAD: Duration = Duration::from_millis(250);

/// Takes one token from the channel's shared bucket (the one the engine's
/// workers use, on every process of this database), then sends `message`
/// to `to` with [`Channel::send_transactional`]. A channel paused by its
/// provider, or a bucket that stays empty for [`MAX_WAIT`], is a transient
/// error: nothing was sent, the caller may try again.
pub async fn send_transactional(
    app: &Herold,
    channel: &Arc<dyn Channel>,
    to: &Address,
    message: &RenderedMessage,
) -> Result<Receipt, SendError> {
    let kind = channel.kind();
    let rate = super::channel_rate(app.config(), channel.as_ref());
    let started = std::time::Instant::now();
    loop {
        let db = app.db().clone();
        let grant = tokio::task::spawn_blocking(move || {
            db.reserve_tokens(kind, 1, rate.per_second, rate.burst, AHEAD, Utc::now())
        })
        .await
        .map_err(|e| SendError::transient(format!("internal task failed: {e}")))?
        .map_err(|e| SendError::transient(format!("rate limit unavailable: {e}")))?;
        if grant.paused_until.is_some() {
            return Err(SendError::transient(format!(
                "the {kind} channel is paused; try again later"
            )));
        }
        if grant.granted > 0 {
            // Its turn among the batches' reserved tokens.
            let late = (Utc::now() - grant.at).to_std().unwrap_or_default();
            tokio::time::sleep(grant.delay(0, rate.per_second).saturating_sub(late)).await;
            return channel.send_transactional(to, message).await;
        }
        if started.elapsed() >= MAX_WAIT {
            return Err(SendError::transient(format!(
                "the {kind} channel's rate limit is used up; try again later"
            )));
        }
        let wait = grant
            .delay(0, rate.per_second)
            .saturating_sub(AHEAD)
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        tokio::time::sleep(wait).await;
    }
}
