//! Polling: inbound events of channels whose provider Herold asks for news
//! (Telegram without a public https address), one loop per such channel in
//! every `herold serve` and `herold worker`.
//!
//! Only one process polls a channel: each loop takes (and renews before
//! every poll) a lease on the channel's row in `inbound_cursors`; the others
//! stand by and take over when it is released (shutdown) or expires (a
//! crash). The holder polls with the stored cursor and stores what came
//! together with the new cursor ([`Herold::accept_polled`]) — into
//! `inbound_events`, like a webhook's events, for the inbound processor.
//! Only the next poll, with the new cursor, tells the provider they
//! arrived: a crash in between means the same events come again, and the
//! deduplication of `inbound_events` drops them.

use chrono::{TimeDelta, Utc};
use herold_channel_api::{ChannelKind, InboundPoller, PollError, Polled};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

use crate::service::Herold;

/// How often a process standing by checks whether it may poll.
const STANDBY: Duration = Duration::from_secs(5);
/// Pause after a refused token (the operator has to act; retry slowly).
const HOLD: Duration = Duration::from_secs(60);
/// Pause after throttling without a provider delay.
const THROTTLED: Duration = Duration::from_secs(5);
/// Pause after a poll that brought nothing.
const EMPTY_PAUSE: Duration = Duration::from_millis(100);
/// First and longest pause after network or database trouble.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// One channel's polling loop.
pub struct PollLoop {
    app: Herold,
    channel: ChannelKind,
    poller: Arc<dyn InboundPoller>,
    owner: String,
}

/// What to do after one step.
enum Next {
    /// Poll again at once.
    Now,
    /// Wait this long first.
    After(Duration),
    /// Shut down.
    Stop,
}

impl PollLoop {
    /// A loop polling `channel` with `poller`, named `owner` in the lease.
    /// Built by the composition root ([`crate::app::App::pollers`]).
    pub(crate) fn new(
        app: Herold,
        channel: ChannelKind,
        poller: Arc<dyn InboundPoller>,
        owner: String,
    ) -> Self {
        Self {
            app,
            channel,
            poller,
            owner,
        }
    }

    /// How long a lease lasts: two polls and a margin, renewed before each.
    fn lease(&self) -> Duration {
        self.poller.wait() * 2 + Duration::from_secs(5)
    }

    /// Polls (or stands by) until `stop` turns true, then releases the lease.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(channel = %self.channel, owner = %self.owner, "inbound polling loop started");
        let mut state = State::default();
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match self.step(&mut state, &mut stop).await {
                Next::Now => continue,
                Next::After(d) => d,
                Next::Stop => break,
            };
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(pause) => {}
            }
        }
        self.release_lease().await;
        tracing::info!(channel = %self.channel, "inbound polling loop stopped");
    }

    /// Lets this process's lease go (if it holds it).
    async fn release_lease(&self) {
        let (db, channel, owner) = (self.app.db().clone(), self.channel, self.owner.clone());
        match tokio::task::spawn_blocking(move || db.release_cursor_lease(channel, &owner)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(channel = %self.channel, error = %e, "polling lease not released; it expires")
            }
            Err(e) => {
                tracing::warn!(channel = %self.channel, error = %e, "polling lease not released; it expires")
            }
        }
    }

    /// Takes the lease, prepares if this process just took it over, polls
    /// once and stores what came.
    async fn step(&self, state: &mut State, stop: &mut watch::Receiver<bool>) -> Next {
        if std::mem::take(&mut state.release) {
            self.release_lease().await;
            return Next::After(STANDBY);
        }
        let cursor = match self.take_lease().await {
            Ok(Some(cursor)) => cursor,
            Ok(None) => {
                if state.polling {
                    tracing::info!(channel = %self.channel, "another process polls now; standing by");
                }
                state.polling = false;
                return Next::After(STANDBY);
            }
            Err(e) => {
                tracing::warn!(channel = %self.channel, error = %e, "polling lease not taken; retrying");
                return Next::After(state.backoff());
            }
        };
        if !state.polling {
            let started = tokio::select! {
                r = self.poller.start() => r,
                _ = stop.changed() => return Next::Stop,
            };
            if let Err(e) = started {
                return self.failed(state, e);
            }
            tracing::info!(channel = %self.channel, "receiving by long polling");
            state.polling = true;
        }
        let polled = tokio::select! {
            r = self.poller.poll(cursor.as_deref()) => r,
            // An unanswered poll confirms nothing: the next holder gets the
            // same events.
            _ = stop.changed() => return Next::Stop,
        };
        match polled {
            Ok(polled) => self.store(state, polled).await,
            Err(e) => self.failed(state, e),
        }
    }

    /// Stores a poll's events with its cursor (if anything came).
    async fn store(&self, state: &mut State, polled: Polled) -> Next {
        if polled.malformed > 0 {
            tracing::warn!(channel = %self.channel, updates = polled.malformed, "unreadable updates skipped");
        }
        if polled.events.is_empty() && polled.cursor.is_none() {
            state.failures = 0;
            // A long poll that came back empty waited already; the pause
            // only keeps a provider answering at once from spinning us.
            return Next::After(EMPTY_PAUSE);
        }
        let (app, channel, owner) = (self.app.clone(), self.channel, self.owner.clone());
        let stored = tokio::task::spawn_blocking(move || {
            app.accept_polled(channel, &polled.events, &owner, polled.cursor.as_deref())
        })
        .await;
        match stored {
            Ok(Ok(Some(s))) => {
                tracing::debug!(channel = %self.channel, stored = s.new, duplicates = s.duplicates, "polled events stored");
                state.failures = 0;
                Next::Now
            }
            Ok(Ok(None)) => {
                tracing::info!(channel = %self.channel, "polling lease lost; standing by");
                state.polling = false;
                Next::After(STANDBY)
            }
            Ok(Err(e)) => {
                tracing::warn!(channel = %self.channel, error = %e, "polled events not stored; polling them again");
                Next::After(state.backoff())
            }
            Err(e) => {
                tracing::error!(channel = %self.channel, error = %e, "storing polled events failed");
                Next::After(state.backoff())
            }
        }
    }

    /// How a failed poll (or preparation) goes on.
    fn failed(&self, state: &mut State, e: PollError) -> Next {
        match e {
            PollError::Misconfigured { reason } => {
                tracing::error!(channel = %self.channel, %reason, "polling refused; trying again in a minute");
                Next::After(HOLD)
            }
            PollError::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(THROTTLED);
                tracing::warn!(channel = %self.channel, wait_s = wait.as_secs(), "provider throttles polling");
                Next::After(wait)
            }
            PollError::Conflict { reason } => {
                // A webhook was set again, another installation polls the
                // same bot, or another process holds what polling needs
                // (the Matrix device): let the lease go, so a process that
                // can poll takes it, and prepare again after a pause.
                tracing::warn!(channel = %self.channel, %reason, "polling conflict");
                state.polling = false;
                state.release = true;
                Next::After(state.backoff())
            }
            PollError::Transient { reason } => {
                tracing::warn!(channel = %self.channel, %reason, "poll failed; retrying");
                Next::After(state.backoff())
            }
        }
    }

    /// Takes or renews the lease; the stored cursor when this process may poll.
    async fn take_lease(&self) -> Result<Option<Option<String>>, String> {
        let (db, channel, owner) = (self.app.db().clone(), self.channel, self.owner.clone());
        let lease = TimeDelta::from_std(self.lease()).unwrap_or(TimeDelta::seconds(60));
        tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let until = now.checked_add_signed(lease).unwrap_or(now);
            db.take_cursor_lease(channel, &owner, until, now)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }
}

/// What a loop remembers between steps.
#[derive(Default)]
struct State {
    /// This process holds the lease and has prepared polling.
    polling: bool,
    /// Failures in a row, for the backoff.
    failures: u32,
    /// Let the lease go before the next step (after a conflict).
    release: bool,
}

impl State {
    /// The next pause after a failure: doubling from a second to a minute.
    fn backoff(&mut self) -> Duration {
        let d = BACKOFF_BASE
            .saturating_mul(1u32 << self.failures.min(6))
            .min(BACKOFF_MAX);
        self.failures = self.failures.saturating_add(1);
        d
    }
}

/// Starts the polling loops on the caller's runtime; they end when `stop`
/// turns true.
pub fn spawn(
    loops: Vec<PollLoop>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    loops
        .into_iter()
        .map(|l| tokio::spawn(l.run(stop.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        let mut s = State::default();
        let got: Vec<u64> = (0..9).map(|_| s.backoff().as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
