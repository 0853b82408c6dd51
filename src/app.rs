//! The composition root: builds, once, from the configuration, everything a
//! process runs with — the database (inside [`Herold`], the service layer),
//! the registry of channel adapters, the metrics and the WebSub hub — and
//! hands `serve`, `worker`, `bench` and the tests what they need. No handler,
//! loop or command builds an adapter of its own, so transactional mail and
//! announcements share one adapter: one connection pool, one rate limit.

use std::sync::Arc;
use thiserror::Error;

use crate::{
    config::Config,
    engine::Engine,
    metrics::Metrics,
    registry::{Registry, RegistryError},
    service::Herold,
    storage::StorageError,
    websub::{Hub, WebsubError},
};

/// Why the application could not be built.
#[derive(Debug, Error)]
pub enum AppError {
    /// A channel's configuration is unusable.
    #[error(transparent)]
    Channels(#[from] RegistryError),
    /// The database could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The WebSub hub could not be set up.
    #[error(transparent)]
    Websub(#[from] WebsubError),
}

/// One process's parts, cheap to clone.
#[derive(Clone)]
pub struct App {
    herold: Herold,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    hub: Arc<Hub>,
    /// `herold demo`: what the sandbox channels sent.
    sandbox: Option<Arc<crate::demo::Sandbox>>,
}

impl App {
    /// Builds the channel adapters (checking every channel's section before
    /// the database is touched), then opens and migrates the database.
    pub fn build(config: Config) -> Result<Self, AppError> {
        let registry = Registry::from_config(&config)?;
        let herold = Herold::open(config)?;
        Self::assemble(herold, registry)
    }

    /// An application from parts made elsewhere (tests, `herold bench`).
    pub fn assemble(herold: Herold, registry: Registry) -> Result<Self, AppError> {
        let hub = Hub::new(herold.config())?;
        let herold = herold.with_follow_routes(registry.follow_routes());
        Ok(Self {
            herold,
            registry: Arc::new(registry),
            metrics: Arc::new(Metrics::new()),
            hub: Arc::new(hub),
            sandbox: None,
        })
    }

    /// The same application as a demo whose channels record into
    /// `sandbox` (its `/demo` pages show it, every page says "Demo").
    pub fn with_sandbox(mut self, sandbox: Arc<crate::demo::Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// The demo's sandbox, when this is `herold demo`.
    pub fn sandbox(&self) -> Option<&Arc<crate::demo::Sandbox>> {
        self.sandbox.as_ref()
    }

    /// The service layer (use cases over the database).
    pub fn herold(&self) -> &Herold {
        &self.herold
    }

    /// The channel adapters.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// This process's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A delivery engine for the channels of `delivery.channels`, recording
    /// into this process's metrics.
    pub fn engine(&self) -> Engine {
        let kinds = self.herold.config().delivery.channels.clone();
        Engine::with_metrics(
            self.herold.clone(),
            self.registry.delivering(&kinds),
            self.metrics.clone(),
        )
    }

    /// A processor of the stored inbound events (webhooks), named after
    /// this process in its leases; it fetches residents' photos through the
    /// registry's adapters.
    pub fn inbound(&self) -> crate::inbound::Processor {
        let owner = format!(
            "inbound-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        crate::inbound::Processor::new(self.herold.clone(), self.registry.clone(), owner)
    }

    /// A polling loop for every channel Herold polls (Telegram without a
    /// webhook), named after this process in their leases.
    pub fn pollers(&self) -> Vec<crate::inbound::poll::PollLoop> {
        let owner = format!("poll-{}-{:08x}", std::process::id(), rand::random::<u32>());
        self.registry
            .pollers()
            .map(|(kind, poller)| {
                crate::inbound::poll::PollLoop::new(
                    self.herold.clone(),
                    kind,
                    poller.clone(),
                    owner.clone(),
                )
            })
            .collect()
    }

    /// The WebSub hub (its HTTP client for subscribers' callbacks).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}
