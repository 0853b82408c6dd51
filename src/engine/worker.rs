//! One channel's sending loop.

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use herold_channel_api::{
    retry_delay, Address, Channel, Destination, Disposition, FollowTarget, OutboundMessage,
    RenderedMessage, SendError, UnsubscribeLinks,
};
use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};
use tokio::sync::watch;

use super::{
    spacing::{Recipient, Spacing},
    Engine, EngineError,
};
use crate::{
    config::RateConfig,
    domain::Id,
    service::CONSENT_WORDING_VERSION,
    storage::{Bounce, Claimed, Outcome},
};

/// How far ahead a held (misconfigured) channel is paused; an administrator
/// resumes it earlier with `herold channels resume`.
const HOLD: Duration = Duration::from_secs(365 * 24 * 3600);
/// How far ahead a batch reserves rate-limit tokens and paces its sends by
/// them (a quarter second, like a batch at the channel's rate): sends go
/// out evenly at the rate instead of in bursts after each refill, and an
/// urgent batch waits behind at most this much of another's.
const AHEAD: Duration = Duration::from_millis(250);
/// Longest pause of a channel whose provider is down; after it, one batch
/// tries again.
const OUTAGE_PAUSE_MAX: Duration = Duration::from_secs(60);

pub(super) struct ChannelWorker {
    engine: Engine,
    channel: Arc<dyn Channel>,
    rate: RateConfig,
    messages: tokio::sync::Mutex<HashMap<Id, Arc<RenderedMessage>>>,
    spacing: Arc<Spacing>,
    /// Held by the batch loop whose sends are starting, until its last one
    /// started. Batches in flight then take turns at the provider, in claim
    /// order, and one's database work overlaps another's sending; without
    /// it, they share the connections, finish together and leave them idle
    /// while both wait for the database.
    turn: tokio::sync::Mutex<()>,
    /// Batches in a row whose every send failed transiently (the provider
    /// is down): each doubles the channel's pause, up to
    /// [`OUTAGE_PAUSE_MAX`]; a success starts again.
    outages: std::sync::atomic::AtomicU32,
}

enum Sent {
    Ok(Option<String>),
    Err(SendError),
    NoAddress,
    /// Left (Stop) while its send waited for its token: skipped.
    Withdrawn,
}

impl ChannelWorker {
    pub(super) fn new(engine: Engine, channel: Arc<dyn Channel>, spacing: Arc<Spacing>) -> Self {
        let rate = super::channel_rate(engine.app.config(), channel.as_ref());
        Self {
            engine,
            channel,
            rate,
            messages: tokio::sync::Mutex::new(HashMap::new()),
            spacing,
            turn: tokio::sync::Mutex::new(()),
            outages: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub(super) async fn run(
        self: Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        let poll = Duration::from_millis(self.engine.app.config().delivery.poll_interval_ms);
        super::poll_loop(self.channel.kind(), "batch", poll, shutdown, || {
            self.batch()
        })
        .await
    }

    /// Claims, sends and records one batch; returns how many deliveries it
    /// handled (0 when the queue is empty or the channel is paused).
    async fn batch(&self) -> Result<usize, EngineError> {
        // Another process sends on this channel (it holds its identity).
        if !self.channel.serves_here() {
            return Ok(0);
        }
        let cfg = &self.engine.app.config().delivery;
        let kind = self.channel.kind();
        // About a quarter second of work at the channel's rate: an urgent
        // announcement then waits at most that long per batch in flight,
        // and a batch always finishes well within its lease.
        let by_rate = (self.rate.per_second / 4.0)
            .min(self.rate.per_second * f64::from(cfg.lease_seconds) / 4.0)
            .max(1.0) as i64;
        let limit = i64::from(cfg.batch_size).min(by_rate);
        let owner = self.engine.worker_id.clone();
        let lease = chrono::Duration::seconds(i64::from(cfg.lease_seconds));
        if let Some(reason) = self
            .engine
            .blocking(move |db| db.channel_hold(kind))
            .await?
        {
            tracing::debug!(channel = %kind, %reason, "channel held");
            return Ok(0);
        }
        let claim = self
            .engine
            .blocking(move |db| {
                let now = Utc::now();
                db.claim_deliveries(kind, &owner, limit, now + lease, now)
            })
            .await?;
        if claim.items.is_empty() {
            return Ok(0);
        }
        let claim = Arc::new(claim);
        let for_addresses = claim.clone();
        let addresses = self
            .engine
            .blocking(move |db| db.claim_addresses(&for_addresses))
            .await?;
        // destinations[i] belongs to claim.items[i]: the public place of a
        // follow post, else the subscriber's address (none once erased).
        let destinations: Vec<Option<Destination>> = claim
            .items
            .iter()
            .map(|c| match &c.target {
                Some(place) => Some(Destination::Follow(FollowTarget::new(place.clone()))),
                None => c
                    .subscriber_id
                    .and_then(|s| addresses.get(&s).cloned())
                    .map(|a| Destination::Recipient(Address::new(a))),
            })
            .collect();
        drop(addresses);
        let links = Arc::new(self.unsubscribe_links(&claim).await?);
        let last_wrote = Arc::new(self.last_wrote(&claim).await?);
        // outcomes[i] belongs to claim.items[i]; first the recipients a
        // per-recipient limit holds back, then the rest as sent.
        let mut outcomes: Vec<Option<Outcome>> = vec![None; claim.items.len()];
        let pending: Vec<usize> = self.admit(&claim.items, &destinations, &mut outcomes);
        let mut rest: &[usize] = &pending;
        // Recipients whose chat moved to a new address, to be readdressed
        // before their retry.
        let mut moves: Vec<(Id, String)> = Vec::new();
        while !rest.is_empty() {
            let want = u32::try_from(rest.len()).unwrap_or(u32::MAX);
            let (rate, burst) = (self.rate.per_second, self.rate.burst);
            let grant = self
                .engine
                .blocking(move |db| db.reserve_tokens(kind, want, rate, burst, AHEAD, Utc::now()))
                .await?;
            // The bucket's clock, shared by every loop and worker: each
            // send is due at the grant's time plus its token's delay.
            let since = (Utc::now() - grant.at).to_std().unwrap_or_default();
            let granted_at = tokio::time::Instant::now()
                .checked_sub(since)
                .unwrap_or_else(tokio::time::Instant::now);
            if let Some(until) = grant.paused_until {
                // Another worker was throttled: hand the rest back for later.
                for &i in rest {
                    outcomes[i] = Some(Outcome::Retry {
                        at: until,
                        error: "channel paused by provider throttling".into(),
                        counts: false,
                    });
                }
                break;
            }
            if grant.granted == 0 {
                // Until the next token can be reserved.
                let wait = grant
                    .delay(0, rate)
                    .saturating_sub(AHEAD)
                    .clamp(Duration::from_millis(1), Duration::from_secs(1));
                tokio::time::sleep(wait).await;
                self.engine
                    .metrics
                    .rate_limit_wait(kind.as_str(), wait.as_secs_f64());
                continue;
            }
            let (now_batch, later) = rest.split_at((grant.granted as usize).min(rest.len()));
            rest = later;
            // Stop is final: whoever left since the claim is skipped. A
            // Stop committed after this look waits for the batch to finish
            // before the resident is told (`Herold::wait_until_settled`).
            let now_batch = self
                .skip_withdrawn(&claim.items, now_batch, &mut outcomes)
                .await?;
            let items: Vec<&Claimed> = now_batch.iter().map(|&i| &claim.items[i]).collect();
            let to: Vec<Option<Destination>> =
                now_batch.iter().map(|&i| destinations[i].clone()).collect();
            // Each send when its token is due.
            let due: Vec<tokio::time::Instant> = (0..items.len())
                .map(|j| granted_at + grant.delay(u32::try_from(j).unwrap_or(u32::MAX), rate))
                .collect();
            let results = self.send_all(&items, to, &due, &links, &last_wrote).await?;
            let mut stop_channel = None;
            let outage = self.outage(&results);
            if let Some(until) = outage {
                stop_channel = Some((until, None));
            }
            let finished = std::time::Instant::now();
            for (&i, result) in now_batch.iter().zip(results) {
                if let (Some(until), Sent::Err(e)) = (outage, &result) {
                    // Not the recipient's fault: no attempt is used up.
                    outcomes[i] = Some(Outcome::Retry {
                        at: until,
                        error: format!("provider unavailable: {e}"),
                        counts: false,
                    });
                    continue;
                }
                if let (Sent::Ok(_), Some(to)) = (&result, &destinations[i]) {
                    if let Some(who) = recipient(&claim.items[i]) {
                        self.spacing
                            .sent(who, self.channel.recipient_rate(to), finished);
                    }
                }
                if let (Sent::Err(SendError::Moved { new_address }), Some(s)) =
                    (&result, claim.items[i].subscriber_id)
                {
                    moves.push((s, new_address.clone()));
                }
                outcomes[i] = Some(self.outcome(&claim.items[i], result, &mut stop_channel));
            }
            if let Some((until, reason)) = stop_channel {
                for &i in rest {
                    outcomes[i] = Some(Outcome::Retry {
                        at: until,
                        error: "channel paused".into(),
                        counts: false,
                    });
                }
                let held = reason.clone();
                self.engine
                    .blocking(move |db| db.pause_channel(kind, until, held.as_deref()))
                    .await?;
                if let Some(r) = reason {
                    tracing::error!(channel = %kind, reason = %r, "channel held: fix its configuration, then run `herold channels resume {kind}`");
                } else if outage.is_some() {
                    tracing::warn!(channel = %kind, until = %until, "provider unavailable: every send of a batch failed; channel paused, then one batch tries again");
                } else {
                    tracing::warn!(channel = %kind, until = %until, "provider throttled the channel; paused");
                }
                break;
            }
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Retry {
                    at: Utc::now(),
                    error: "not attempted".into(),
                    counts: false,
                })
            })
            .collect();
        self.readdress(moves).await;
        self.count(&claim.items, &outcomes);
        let handled = outcomes.len();
        let bounces = self
            .engine
            .blocking(move |db| db.finish_deliveries(&claim, &outcomes, Utc::now()))
            .await?;
        for bounce in bounces {
            self.count_bounce(bounce).await;
        }
        Ok(handled)
    }

    /// Counts a bounce against its subscriber and ends the subscription
    /// once the adapter's [`Channel::bounce_limit`] is reached (e-mail:
    /// `email.max_bounces` in a row), or at once when the recipient is gone
    /// on a channel without a limit.
    async fn count_bounce(&self, bounce: Bounce) {
        let limit = match self.channel.bounce_limit() {
            Some(n) => n,
            None if bounce.recipient_gone => 1,
            None => return,
        };
        let subscriber = bounce.subscriber_id;
        let r = self
            .engine
            .blocking(move |db| {
                let n = db.record_bounce(subscriber, Utc::now())?;
                if n < limit {
                    return Ok(n);
                }
                // The ledger says why: "provider:recipient-gone: permanent
                // failure: the resident blocked the bot".
                let evidence = if bounce.recipient_gone {
                    format!("provider:recipient-gone: {}", bounce.reason)
                } else {
                    format!("provider:bounced: {}", bounce.reason)
                };
                db.unsubscribe(subscriber, CONSENT_WORDING_VERSION, Some(&evidence))?;
                tracing::info!(
                    subscriber,
                    bounces = n,
                    "address keeps bouncing; subscription ended"
                );
                Ok(n)
            })
            .await;
        if let Err(e) = r {
            tracing::debug!(subscriber, error = %e, "bounce not counted or unsubscribe skipped");
        }
    }

    /// Stores the new addresses providers named for moved chats (audited);
    /// the deliveries are retried there. One that cannot be stored (the new
    /// address belongs to another subscriber) is logged, and its retries
    /// run out.
    async fn readdress(&self, moves: Vec<(Id, String)>) {
        let kind = self.channel.kind();
        for (subscriber, address) in moves {
            let r = self
                .engine
                .blocking(move |db| {
                    let audit = |s: &crate::domain::Subscriber| {
                        crate::domain::NewAuditEvent::new(
                            &format!("provider:{kind}"),
                            "subscriber.readdress",
                            format!("subscriber:{}", s.id),
                            &serde_json::json!({ "reason": "the chat moved to a new address" }),
                        )
                    };
                    db.readdress_subscriber(subscriber, &address, &audit)
                })
                .await;
            match r {
                Ok(_) => {
                    tracing::info!(subscriber, channel = %kind, "chat moved; subscriber readdressed")
                }
                Err(e) => {
                    tracing::warn!(subscriber, channel = %kind, error = %e, "chat moved, but the new address could not be stored")
                }
            }
        }
    }

    /// Applies the per-recipient limit: recipients who got a message too
    /// recently are retried when the gap has passed; returns the positions
    /// of the others, to be sent now.
    fn admit(
        &self,
        items: &[Claimed],
        destinations: &[Option<Destination>],
        outcomes: &mut [Option<Outcome>],
    ) -> Vec<usize> {
        let now = std::time::Instant::now();
        let mut pending = Vec::with_capacity(items.len());
        for (i, (item, to)) in items.iter().zip(destinations).enumerate() {
            let admitted = match (recipient(item), to) {
                (Some(who), Some(to)) => {
                    self.spacing
                        .admit(who, self.channel.recipient_rate(to), now)
                }
                _ => Ok(()),
            };
            match admitted {
                Err(wait) => {
                    outcomes[i] = Some(Outcome::Retry {
                        at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                        error: "per-recipient rate limit".into(),
                        counts: false,
                    })
                }
                _ => pending.push(i),
            }
        }
        pending
    }

    /// Re-reads, right before the sends start, which of the recipients at
    /// `positions` are no longer active, records them as skipped and
    /// returns the positions still to be sent.
    async fn skip_withdrawn(
        &self,
        items: &[Claimed],
        positions: &[usize],
        outcomes: &mut [Option<Outcome>],
    ) -> Result<Vec<usize>, EngineError> {
        let ids: Vec<Id> = positions
            .iter()
            .filter_map(|&i| items[i].subscriber_id)
            .collect();
        if ids.is_empty() {
            return Ok(positions.to_vec());
        }
        let left = self
            .engine
            .blocking(move |db| db.inactive_among(&ids))
            .await?;
        if left.is_empty() {
            return Ok(positions.to_vec());
        }
        let mut send = Vec::with_capacity(positions.len());
        for &i in positions {
            if items[i].subscriber_id.is_some_and(|s| left.contains(&s)) {
                outcomes[i] = Some(Outcome::Skipped);
            } else {
                send.push(i);
            }
        }
        Ok(send)
    }

    /// Each e-mail recipient's one-click unsubscribe and manage links (the
    /// newsletter's `List-Unsubscribe` header and footer); none for other
    /// channels, where residents leave with a command.
    async fn unsubscribe_links(
        &self,
        claim: &Arc<crate::storage::Claim>,
    ) -> Result<HashMap<Id, UnsubscribeLinks>, EngineError> {
        if !self.channel.capabilities().unsubscribe_links {
            return Ok(HashMap::new());
        }
        let app = self.engine.app.clone();
        let ids: Vec<Id> = claim.items.iter().filter_map(|c| c.subscriber_id).collect();
        tokio::task::spawn_blocking(move || {
            let mut out = HashMap::with_capacity(ids.len());
            for id in ids {
                match app.manage_links(id) {
                    Ok(l) => {
                        out.insert(
                            id,
                            UnsubscribeLinks {
                                one_click: l.one_click,
                                manage: l.manage,
                            },
                        );
                    }
                    // An erased subscriber has no links and gets no mail.
                    Err(e) => tracing::debug!(subscriber = id, error = %e, "no unsubscribe links"),
                }
            }
            out
        })
        .await
        .map_err(|e| EngineError::Task(e.to_string()))
    }

    /// When each recipient of the claim last wrote, for a channel with a
    /// conversation window ([`Channel::conversation_window`]); empty for
    /// any other.
    async fn last_wrote(
        &self,
        claim: &Arc<crate::storage::Claim>,
    ) -> Result<HashMap<Id, DateTime<Utc>>, EngineError> {
        if self.channel.conversation_window().is_none() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Id> = claim.items.iter().filter_map(|c| c.subscriber_id).collect();
        self.engine
            .blocking(move |db| db.last_inbound_of(&ids))
            .await
    }

    /// Sends `batch[i]` at `due[i]`, concurrently.
    async fn send_all(
        &self,
        batch: &[&Claimed],
        destinations: Vec<Option<Destination>>,
        due: &[tokio::time::Instant],
        links: &Arc<HashMap<Id, UnsubscribeLinks>>,
        last_wrote: &Arc<HashMap<Id, DateTime<Utc>>>,
    ) -> Result<Vec<Sent>, EngineError> {
        let mut messages = Vec::with_capacity(batch.len());
        for c in batch {
            messages.push(self.message(c.announcement_id).await?);
        }
        let concurrency = self.engine.app.config().delivery.concurrency as usize;
        // Owned inputs: the futures must not borrow from this stack frame.
        type Job = (
            String,
            Option<Destination>,
            Arc<RenderedMessage>,
            Option<UnsubscribeLinks>,
            (Option<tokio::time::Instant>, Option<Id>),
            Option<DateTime<Utc>>,
        );
        let jobs: Vec<Job> = batch
            .iter()
            .zip(messages)
            .zip(destinations)
            .enumerate()
            .map(|(i, ((c, m), destination))| {
                (
                    c.idempotency_key(),
                    destination,
                    m,
                    c.subscriber_id.and_then(|s| links.get(&s).cloned()),
                    (due.get(i).copied(), c.subscriber_id),
                    c.subscriber_id.and_then(|s| last_wrote.get(&s).copied()),
                )
            })
            .collect();
        let latency = self
            .engine
            .metrics
            .send_histogram(self.channel.kind().as_str());
        let mut jobs = jobs.into_iter();
        let mut turn = Some(self.turn.lock().await);
        let jobs = std::iter::from_fn(move || {
            let job = jobs.next();
            if job.is_none() {
                // Every send started: the next batch may start its own.
                drop(turn.take());
            }
            job
        });
        let results: Vec<Sent> = stream::iter(jobs)
            .map(
                |(
                    idempotency_key,
                    destination,
                    message,
                    unsubscribe,
                    (due, subscriber),
                    last_wrote,
                )| {
                    let channel = self.channel.clone();
                    let latency = latency.clone();
                    let db = self.engine.app.db().clone();
                    async move {
                        let Some(destination) = destination else {
                            return Sent::NoAddress;
                        };
                        // A send paced to a later token looks again whether its
                        // recipient left meanwhile (Stop is final): the batch's
                        // look came before the wait.
                        let paced = due.filter(|at| {
                            *at > tokio::time::Instant::now() + Duration::from_millis(1)
                        });
                        if let Some(at) = paced {
                            tokio::time::sleep_until(at).await;
                            if let Some(id) = subscriber {
                                match tokio::task::spawn_blocking(move || db.inactive_among(&[id]))
                                    .await
                                {
                                    Ok(Ok(left)) if left.is_empty() => {}
                                    Ok(Ok(_)) => return Sent::Withdrawn,
                                    Ok(Err(e)) => {
                                        return Sent::Err(SendError::transient(format!(
                                            "recipient not re-checked: {e}"
                                        )))
                                    }
                                    Err(e) => {
                                        return Sent::Err(SendError::transient(format!(
                                            "recipient not re-checked: {e}"
                                        )))
                                    }
                                }
                            }
                        }
                        let msg = OutboundMessage {
                            idempotency_key,
                            destination,
                            message: (*message).clone(),
                            unsubscribe,
                            recipient_last_wrote: last_wrote,
                        };
                        let started = std::time::Instant::now();
                        let result = channel.send(&msg).await;
                        latency.observe(started.elapsed().as_secs_f64());
                        match result {
                            Ok(receipt) => Sent::Ok(receipt.provider_message_id),
                            Err(e) => Sent::Err(e),
                        }
                    }
                },
            )
            .buffered(concurrency.max(1))
            .collect()
            .await;
        Ok(results)
    }

    async fn message(&self, announcement_id: Id) -> Result<Arc<RenderedMessage>, EngineError> {
        let mut cache = self.messages.lock().await;
        if let Some(m) = cache.get(&announcement_id) {
            return Ok(m.clone());
        }
        let (a, _) = self
            .engine
            .blocking(move |db| db.get_announcement(announcement_id))
            .await?;
        let app = &self.engine.app;
        let url = app.announcement_url(a.id);
        let image_url = a.image.as_ref().map(|i| app.image_url(i));
        let cx = crate::render::message::Context {
            url: &url,
            image_url: image_url.as_deref(),
            site: &app.config().site_name,
            locale: &app.config().default_locale,
            tz: app.config().tz(),
        };
        let m = crate::render::message::message(&a, self.channel.capabilities(), &cx)
            .map_err(|e| EngineError::Render(e.to_string()))?;
        let m = Arc::new(m);
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(announcement_id, m.clone());
        Ok(m)
    }

    /// Maps a send result to what is recorded; sets `stop_channel` when the
    /// whole channel must pause (throttled) or hold (misconfigured).
    fn outcome(
        &self,
        c: &Claimed,
        result: Sent,
        stop_channel: &mut Option<(DateTime<Utc>, Option<String>)>,
    ) -> Outcome {
        let cfg = &self.engine.app.config().delivery;
        let now = Utc::now();
        let err = match result {
            Sent::Ok(id) => {
                return Outcome::Sent {
                    provider_message_id: id,
                }
            }
            Sent::NoAddress | Sent::Withdrawn => return Outcome::Skipped,
            Sent::Err(e) => e,
        };
        let attempt = u32::try_from(c.attempts).unwrap_or(1);
        match err.disposition() {
            Disposition::Retry { after } if attempt < cfg.max_attempts => {
                let delay = retry_delay(
                    attempt,
                    Duration::from_millis(cfg.backoff_base_ms),
                    Duration::from_secs(cfg.backoff_max_seconds),
                    after,
                    &mut rand::thread_rng(),
                );
                Outcome::Retry {
                    at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                    error: err.to_string(),
                    counts: true,
                }
            }
            Disposition::Retry { .. } => Outcome::Failed {
                error: format!("gave up after {attempt} attempts: {err}"),
            },
            Disposition::BackOff { after } => {
                self.engine
                    .counters
                    .rate_limited
                    .fetch_add(1, Ordering::Relaxed);
                self.engine.metrics.throttled(self.channel.kind().as_str());
                let until = now
                    + chrono::Duration::from_std(after.unwrap_or(Duration::from_secs(1)))
                        .unwrap_or_default();
                let later = stop_channel
                    .as_ref()
                    .map_or(until, |(u, _)| (*u).max(until));
                *stop_channel = Some((later, stop_channel.as_ref().and_then(|(_, r)| r.clone())));
                Outcome::Retry {
                    at: until,
                    error: err.to_string(),
                    counts: false,
                }
            }
            Disposition::Hold => {
                *stop_channel = Some((
                    now + chrono::Duration::from_std(HOLD).unwrap_or_default(),
                    Some(err.to_string()),
                ));
                Outcome::Retry {
                    at: now,
                    error: err.to_string(),
                    counts: false,
                }
            }
            Disposition::GiveUp { recipient_gone } if err.is_bounce() => Outcome::Bounced {
                error: err.to_string(),
                recipient_gone,
            },
            Disposition::GiveUp { .. } => Outcome::Failed {
                error: err.to_string(),
            },
        }
    }

    /// Whether `results` show the provider down: at least two sends, each
    /// failed with an error worth retrying (connection refused, timeouts,
    /// 5xx). Then the channel pauses — every worker's sends, not each
    /// recipient's attempts, wait out the outage — until the returned time,
    /// doubling with each such batch in a row up to [`OUTAGE_PAUSE_MAX`].
    /// Any success ends the series.
    fn outage(&self, results: &[Sent]) -> Option<DateTime<Utc>> {
        let down = results.len() >= 2
            && results.iter().all(|r| {
                matches!(r, Sent::Err(e) if matches!(e.disposition(), Disposition::Retry { .. }))
            });
        if !down {
            if results.iter().any(|r| matches!(r, Sent::Ok(_))) {
                self.outages.store(0, Ordering::Relaxed);
            }
            return None;
        }
        let n = self.outages.fetch_add(1, Ordering::Relaxed).min(16);
        let base = Duration::from_millis(self.engine.app.config().delivery.backoff_base_ms);
        let pause = base
            .saturating_mul(1 << n)
            .min(OUTAGE_PAUSE_MAX)
            .max(Duration::from_millis(100));
        Some(Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default())
    }

    fn count(&self, claimed: &[Claimed], outcomes: &[Outcome]) {
        let c = &self.engine.counters;
        // sent, retried, throttled, failed, skipped
        let mut n = [0u64; 5];
        for (item, o) in claimed.iter().zip(outcomes) {
            if matches!(o, Outcome::Sent { .. }) && item.priority > 0 {
                c.urgent_sent.fetch_add(1, Ordering::Relaxed);
            }
            n[match o {
                Outcome::Sent { .. } => 0,
                Outcome::Retry { counts: true, .. } => 1,
                Outcome::Retry { counts: false, .. } => 2,
                Outcome::Failed { .. } | Outcome::Bounced { .. } => 3,
                Outcome::Skipped => 4,
            }] += 1;
        }
        let kind = self.channel.kind();
        let counters = [&c.sent, &c.retried, &c.throttled, &c.failed, &c.skipped];
        let names = ["sent", "retried", "throttled", "failed", "skipped"];
        for ((counter, name), n) in counters.iter().zip(names).zip(n) {
            counter.fetch_add(n, Ordering::Relaxed);
            self.engine.metrics.deliveries(kind.as_str(), name, n);
        }
    }
}

/// Whom a claimed delivery's per-recipient limit is kept for.
fn recipient(item: &Claimed) -> Option<Recipient> {
    match (&item.target, item.subscriber_id) {
        (Some(place), _) => Some(Recipient::Place(place.clone())),
        (None, Some(s)) => Some(Recipient::Subscriber(s)),
        (None, None) => None,
    }
}
