//! Content distribution: noticing changed feeds, queueing one distribution
//! per subscription, and POSTing the current feed to each subscriber.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{TimeDelta, Utc};
use futures_util::future::join_all;
use herold_websub::{
    build_client, check_callback, distribute, signed_delivery, Bytes, ClientConfig,
    DistributeError, MAX_ATTEMPTS,
};
use tokio::sync::watch;
use url::Url;

use super::{blocking, content_mark, parse_topic, WebsubError};
use crate::{
    service::Herold,
    storage::{MarkChange, WebsubClaim, WebsubOutcome},
};

/// Expired subscriptions are purged this often.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// How long a claimed distribution is left alone beyond the request's time
/// limit before another process may take it over.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// A topic's current document, shared by its subscriptions.
struct Rendered {
    content_type: &'static str,
    body: Bytes,
}

/// The distribution loop of one process.
pub struct Distributor {
    app: Arc<Herold>,
    client: reqwest::Client,
    hub_url: Url,
    timeout: Duration,
    poll: Duration,
    batch: usize,
    /// `websub.allow_private_callbacks`; otherwise every stored callback is
    /// checked against the public-address rule again before each delivery.
    allow_private: bool,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Subscriptions queued because their topic changed.
    pub queued: usize,
    /// Distributions attempted.
    pub attempted: usize,
    /// Accepted by the subscriber.
    pub delivered: usize,
    /// Subscriptions ended (gone, rejected, out of attempts, topic gone).
    pub ended: usize,
}

impl Distributor {
    /// A distributor for `app.config().websub`.
    pub fn new(app: Herold) -> Result<Self, WebsubError> {
        let w = &app.config().websub;
        let client = build_client(&ClientConfig {
            allow_private_networks: w.allow_private_callbacks,
            ..ClientConfig::default()
        })
        .map_err(|e| WebsubError::Client(e.to_string()))?;
        let hub_url = app
            .config()
            .public_url
            .join("websub")
            .map_err(|e| WebsubError::Client(format!("hub URL: {e}")))?;
        Ok(Self {
            timeout: w.timeout(),
            poll: w.poll_interval(),
            batch: w.concurrency as usize,
            allow_private: w.allow_private_callbacks,
            client,
            hub_url,
            app: Arc::new(app),
        })
    }

    /// Polls until `stop` turns true: detect changes, send what is due,
    /// and purge expired subscriptions now and then. Errors are logged and
    /// the next poll tries again.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut last_purge: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let full = match self.round().await {
                Ok(r) => {
                    if r.attempted > 0 || r.queued > 0 {
                        tracing::debug!(?r, "websub round");
                    }
                    r.attempted >= self.batch
                }
                Err(e) => {
                    tracing::warn!(error = %e, "websub distribution failed; retrying");
                    false
                }
            };
            if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                last_purge = Some(Instant::now());
                let app = self.app.clone();
                match blocking(move || Ok(app.db().purge_expired_websub(Utc::now())?)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired websub subscriptions removed"),
                    Err(e) => tracing::warn!(error = %e, "websub purge failed"),
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// One round: queue changed topics, then send one batch of due
    /// distributions.
    pub async fn round(&self) -> Result<Round, WebsubError> {
        let app = self.app.clone();
        let queued = blocking(move || detect_changes(&app)).await?;
        let (attempted, delivered, ended) = self.send_due().await?;
        Ok(Round {
            queued,
            attempted,
            delivered,
            ended,
        })
    }

    /// Claims due distributions, renders each topic once, sends them all at
    /// once and records the outcomes.
    async fn send_due(&self) -> Result<(usize, usize, usize), WebsubError> {
        let app = self.app.clone();
        let batch = self.batch as i64;
        let lease = TimeDelta::from_std(self.timeout + CLAIM_MARGIN).unwrap_or(TimeDelta::MAX);
        let claims = blocking(move || {
            let now = Utc::now();
            let until = now.checked_add_signed(lease).unwrap_or(now);
            Ok(app.db().claim_websub_deliveries(now, until, batch)?)
        })
        .await?;
        if claims.is_empty() {
            return Ok((0, 0, 0));
        }
        let documents = self.render(&claims).await?;
        let outcomes = join_all(
            claims
                .iter()
                .map(|claim| self.send(claim, documents.get(&claim.topic))),
        )
        .await;
        let attempted = claims.len();
        let delivered = outcomes
            .iter()
            .filter(|o| **o == WebsubOutcome::Delivered)
            .count();
        let ended = outcomes
            .iter()
            .filter(|o| **o == WebsubOutcome::Ended)
            .count();
        let app = self.app.clone();
        blocking(move || {
            let now = Utc::now();
            for (claim, outcome) in claims.iter().zip(&outcomes) {
                app.db().finish_websub_delivery(claim, outcome, now)?;
            }
            Ok(())
        })
        .await?;
        Ok((attempted, delivered, ended))
    }

    /// The current document of each claimed topic; a topic that is not (or
    /// no longer) a feed of Herold's has none.
    async fn render(
        &self,
        claims: &[WebsubClaim],
    ) -> Result<HashMap<String, Rendered>, WebsubError> {
        let mut topics: Vec<String> = claims.iter().map(|c| c.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        let app = self.app.clone();
        blocking(move || {
            let now = Utc::now();
            let mut docs = HashMap::new();
            for topic in topics {
                let Some(parsed) = Url::parse(&topic)
                    .ok()
                    .and_then(|u| parse_topic(&app.config().public_url, &u))
                else {
                    continue;
                };
                if let Some(doc) = app.feed(&parsed.scope, parsed.format, now)? {
                    let body = Bytes::from(doc.body);
                    docs.insert(
                        topic,
                        Rendered {
                            content_type: doc.content_type,
                            body,
                        },
                    );
                }
            }
            Ok(docs)
        })
        .await
    }

    /// Sends one distribution and decides what happens next.
    async fn send(&self, claim: &WebsubClaim, doc: Option<&Rendered>) -> WebsubOutcome {
        let (Some(doc), Ok(topic), Ok(callback)) =
            (doc, Url::parse(&claim.topic), Url::parse(&claim.callback))
        else {
            tracing::info!(
                subscription = claim.subscription_id,
                topic = %claim.topic,
                "websub topic is no longer a feed; subscription ended"
            );
            return WebsubOutcome::Ended;
        };
        let delivery = signed_delivery(
            &topic,
            &self.hub_url,
            doc.content_type,
            doc.body.clone(),
            claim.secret.as_ref().map(|s| s.as_slice()),
        );
        // The callback was checked when subscribing, but its address may
        // have changed since: IP literals are checked here, names by the
        // client's resolver, which connects only to what it checked.
        let result = match self.allow_private {
            true => Ok(()),
            false => check_callback(&callback),
        };
        let result = match result {
            Ok(()) => distribute(&self.client, &callback, &delivery, self.timeout).await,
            Err(e) => Err(e),
        };
        let reason = result.as_ref().err().map(failure).unwrap_or_default();
        let outcome = decide(claim.attempts, result);
        match &outcome {
            WebsubOutcome::Delivered => tracing::debug!(
                subscription = claim.subscription_id,
                topic = %claim.topic,
                "websub content distributed"
            ),
            WebsubOutcome::Retry { at, error } => tracing::info!(
                subscription = claim.subscription_id,
                topic = %claim.topic,
                attempt = claim.attempts + 1,
                retry_at = %at,
                reason = %error,
                "websub distribution failed; will retry"
            ),
            WebsubOutcome::Dropped { error } => tracing::error!(
                subscription = claim.subscription_id,
                topic = %claim.topic,
                reason = %error,
                "websub distribution dropped"
            ),
            WebsubOutcome::Ended => tracing::info!(
                subscription = claim.subscription_id,
                topic = %claim.topic,
                attempts = claim.attempts + 1,
                %reason,
                "websub distribution failed for good; subscription ended"
            ),
        }
        outcome
    }
}

/// What to do after an attempt, following the hub crate's retry policy:
/// `410`, other rejections and exhausted retries end the subscription.
pub fn decide(failed_before: u32, result: Result<(), DistributeError>) -> WebsubOutcome {
    let e = match result {
        Ok(()) => return WebsubOutcome::Delivered,
        Err(e) => e,
    };
    match &e {
        DistributeError::Retryable { .. } => {
            let failed = failed_before.saturating_add(1);
            match e.suggested_delay(failed) {
                Some(delay) if failed < MAX_ATTEMPTS => {
                    let delay = TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
                    let now = Utc::now();
                    WebsubOutcome::Retry {
                        at: now.checked_add_signed(delay).unwrap_or(now),
                        error: failure(&e),
                    }
                }
                _ => WebsubOutcome::Ended,
            }
        }
        DistributeError::Gone
        | DistributeError::Permanent { .. }
        | DistributeError::Redirected
        | DistributeError::NotPublic => WebsubOutcome::Ended,
        DistributeError::InvalidRequest { .. } => WebsubOutcome::Dropped { error: failure(&e) },
    }
}

/// A failure, without the callback's address (connection errors name it).
fn failure(e: &DistributeError) -> String {
    match e {
        DistributeError::Retryable { reason, .. }
            if reason.starts_with("the callback answered") =>
        {
            reason.clone()
        }
        DistributeError::Retryable { reason, .. } if reason.contains("in time") => "timeout".into(),
        DistributeError::Retryable { .. } => "connection failed".into(),
        // Its reason is reqwest's, which may name the request.
        DistributeError::InvalidRequest { .. } => "invalid delivery request".into(),
        other => other.to_string(),
    }
}

/// Compares every active subscription's mark with its topic's current one
/// and queues the changed ones. Returns how many were queued.
fn detect_changes(app: &Herold) -> Result<usize, WebsubError> {
    let now = Utc::now();
    let marks = app.db().websub_marks(now)?;
    if marks.is_empty() {
        return Ok(0);
    }
    let activity = app.db().category_activity(now)?;
    let mut current: HashMap<&str, Option<String>> = HashMap::new();
    for m in &marks {
        current.entry(&m.topic).or_insert_with(|| {
            Url::parse(&m.topic)
                .ok()
                .and_then(|u| parse_topic(&app.config().public_url, &u))
                .map(|t| content_mark(&t.scope, &activity))
        });
    }
    let changes: Vec<MarkChange<'_>> = marks
        .iter()
        .filter_map(|m| {
            let now_mark = current.get(m.topic.as_str())?.as_deref()?;
            (now_mark != m.content_mark).then_some(MarkChange {
                subscription_id: m.subscription_id,
                seen: &m.content_mark,
                current: now_mark,
            })
        })
        .collect();
    Ok(app.db().enqueue_websub_changes(&changes, now)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_retry_policy() {
        assert_eq!(decide(0, Ok(())), WebsubOutcome::Delivered);
        assert_eq!(decide(0, Err(DistributeError::Gone)), WebsubOutcome::Ended);
        assert_eq!(
            decide(0, Err(DistributeError::NotPublic)),
            WebsubOutcome::Ended
        );
        assert_eq!(
            decide(
                0,
                Err(DistributeError::InvalidRequest {
                    reason: "builder error for url (http://secret.example/cb?token=1)".into()
                })
            ),
            WebsubOutcome::Dropped {
                error: "invalid delivery request".into()
            }
        );
        assert_eq!(
            decide(0, Err(DistributeError::Permanent { status: 400 })),
            WebsubOutcome::Ended
        );
        let busy = || {
            Err(DistributeError::Retryable {
                reason: "the callback answered HTTP 503".into(),
                retry_after: Some(Duration::from_secs(120)),
            })
        };
        match decide(0, busy()) {
            WebsubOutcome::Retry { at, error } => {
                let wait = at - Utc::now();
                assert!(wait > TimeDelta::seconds(100) && wait <= TimeDelta::seconds(120));
                assert_eq!(error, "the callback answered HTTP 503");
            }
            other => panic!("expected a retry, got {other:?}"),
        }
        assert!(matches!(
            decide(MAX_ATTEMPTS - 2, busy()),
            WebsubOutcome::Retry { .. }
        ));
        assert_eq!(decide(MAX_ATTEMPTS - 1, busy()), WebsubOutcome::Ended);
        let unreachable = Err(DistributeError::Retryable {
            reason: "could not reach the callback: error sending request for url (http://secret.example/cb?token=1)".into(),
            retry_after: None,
        });
        match decide(0, unreachable) {
            WebsubOutcome::Retry { error, .. } => assert_eq!(error, "connection failed"),
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}
