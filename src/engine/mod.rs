//! The delivery engine: per channel, claims batches (materialising
//! deliveries from broadcast cursors), waits for rate-limit tokens, sends,
//! and records outcomes.
//!
//! All state lives in the database (see `storage::queue`), so any number of
//! engines — threads of `herold serve` or `herold worker` processes on other
//! machines sharing a PostgreSQL database — cooperate, and a killed worker
//! loses nothing: its leases expire and its batch is claimed again.

mod replies;
mod spacing;
mod transactional;
mod worker;

pub use transactional::send_transactional;

use herold_channel_api::{Channel, ChannelKind};
use std::{collections::HashMap, sync::Arc, time::Duration};
use thiserror::Error;
use tokio::sync::watch;

use crate::{service::Herold, storage::StorageError};

/// What stops the engine.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A message template failed to render.
    #[error("rendering the message failed: {0}")]
    Render(String),
    /// A blocking task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Counters of one engine, for `/metrics` and `herold bench`.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub skipped: std::sync::atomic::AtomicU64,
    pub throttled: std::sync::atomic::AtomicU64,
    /// Urgent deliveries sent.
    pub urgent_sent: std::sync::atomic::AtomicU64,
    /// 429 answers (or other provider throttling) received.
    pub rate_limited: std::sync::atomic::AtomicU64,
}

/// A delivery engine for the given channel adapters.
#[derive(Clone)]
pub struct Engine {
    app: Herold,
    channels: HashMap<ChannelKind, Arc<dyn Channel>>,
    worker_id: String,
    counters: Arc<Counters>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Engine {
    /// An engine sending through `channels` (one adapter per kind) that
    /// records into shared `metrics` (served at `/metrics`). Built by the
    /// composition root ([`crate::app::App::engine`]) only.
    pub(crate) fn with_metrics(
        app: Herold,
        channels: Vec<Arc<dyn Channel>>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        let worker_id = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        Self {
            app,
            channels: channels.into_iter().map(|c| (c.kind(), c)).collect(),
            worker_id,
            counters: Arc::new(Counters::default()),
            metrics,
        }
    }

    /// This engine's name in leases.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Counters since start.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters, shared (they outlive `run`).
    pub fn counters_handle(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Runs fan-out, the sending loops and the reply loop of every channel
    /// until `shutdown` becomes true. Batches in flight are finished first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        tracing::info!(worker = %self.worker_id, channels = ?self.channels.keys().collect::<Vec<_>>(), "delivery engine started");
        let mut tasks = tokio::task::JoinSet::new();
        {
            let me = self.clone();
            let rx = shutdown.clone();
            tasks.spawn(async move { me.maintenance_loop(rx).await });
        }
        // Several batch loops per channel: while one waits for the
        // database, another decrypts and sends. They share the channel's
        // rate limiter and message cache.
        let loops = self.app.config().delivery.batches_in_flight.max(1);
        for channel in self.channels.values() {
            // One per-recipient limit for the channel's broadcasts and replies.
            let spacing = Arc::new(spacing::Spacing::default());
            let w = Arc::new(worker::ChannelWorker::new(
                self.clone(),
                channel.clone(),
                spacing.clone(),
            ));
            for _ in 0..loops {
                let (w, rx) = (w.clone(), shutdown.clone());
                tasks.spawn(async move { w.run(rx).await });
            }
            // Replies to residents, beside the broadcasts (engine/replies.rs).
            let replies = replies::ReplyLoop::new(self.clone(), channel.clone(), spacing);
            let rx = shutdown.clone();
            tasks.spawn(async move { replies.run(rx).await });
        }
        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(e) => result = Err(EngineError::Task(e.to_string())),
            }
        }
        tracing::info!(worker = %self.worker_id, "delivery engine stopped");
        result
    }

    /// Fires due digests, reclaims expired leases and closes finished
    /// broadcasts. Fan-out itself happens when workers claim (see
    /// `storage::queue::claim`).
    async fn maintenance_loop(
        self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        let every = Duration::from_millis(self.app.config().delivery.poll_interval_ms * 5);
        while !*shutdown.borrow() {
            let app = self.app.clone();
            match tokio::task::spawn_blocking(move || app.fire_due_digests(chrono::Utc::now()))
                .await
            {
                Ok(Ok(created)) if !created.is_empty() => {
                    tracing::info!(digests = created.len(), "digests published")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "digests failed"),
                Err(e) => tracing::warn!(error = %e, "digest task failed"),
            }
            let done = self
                .blocking(move |db| {
                    let now = chrono::Utc::now();
                    let reclaimed = db.reclaim_expired(now)?;
                    let completed = db.complete_broadcasts(now)?;
                    // New keys from `herold keys rotate` are taken up here.
                    if let Err(e) = db.reload_keys() {
                        tracing::warn!(error = %e, "key file could not be re-read");
                    }
                    Ok((reclaimed, completed))
                })
                .await;
            match done {
                Ok((r, c)) if r > 0 || c > 0 => {
                    tracing::info!(reclaimed = r, completed = c, "queue maintenance")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "queue maintenance failed"),
            }
            self.retention_step().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
        Ok(())
    }

    /// Forgets the addresses of residents who left (when configured to go
    /// at once) and, once a day on one process, runs the retention job
    /// (service/retention.rs).
    async fn retention_step(&self) {
        let app = self.app.clone();
        let done = tokio::task::spawn_blocking(move || {
            let now = chrono::Utc::now();
            app.forget_left_addresses_now(now)?;
            if app.claim_retention_run(now)? {
                app.run_retention(now)?;
            }
            Ok::<_, crate::service::ServiceError>(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
    }

    /// Runs a database call on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&crate::storage::Database) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.app.db().clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?
            .map_err(EngineError::from)
    }
}

/// Runs `step` until `shutdown` turns true, pausing `poll` whenever a step
/// handled nothing (or failed: logged, then tried again), so an idle queue
/// costs one query per poll interval.
async fn poll_loop<F, Fut>(
    channel: ChannelKind,
    what: &'static str,
    poll: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut step: F,
) -> Result<(), EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, EngineError>>,
{
    while !*shutdown.borrow() {
        let handled = match step().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(channel = %channel, error = %e, "{what} failed; retrying");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    Ok(())
}

/// The rate a channel is sent at: `delivery.rates` for its kind, else the
/// adapter's default. Announcements and transactional messages take their
/// tokens from the same shared bucket at this rate.
pub(crate) fn channel_rate(
    config: &crate::config::Config,
    channel: &dyn Channel,
) -> crate::config::RateConfig {
    config
        .delivery
        .rates
        .get(&channel.kind())
        .copied()
        .unwrap_or(crate::config::RateConfig {
            per_second: channel.capabilities().default_rate.per_second,
            burst: channel.capabilities().default_rate.burst,
        })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "herold".into())
}
