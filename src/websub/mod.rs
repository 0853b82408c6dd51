//! Herold as the WebSub hub of its own feeds.
//!
//! The protocol lives in the `herold-websub` crate; this module wires it to
//! storage and the web server:
//!
//! - [`hub`]: `POST /websub` requests are checked against Herold's own feed
//!   URLs ([`parse_topic`]), answered `202` at once and verified in the
//!   background; only a verified request changes the stored subscriptions.
//! - [`distribute`]: a loop in `herold serve` notices, every
//!   `websub.poll_interval_ms`, when what a feed shows changed (a
//!   publication from any process, a scheduled announcement coming due, a
//!   cancellation), queues one distribution per subscription and POSTs the
//!   freshly rendered feed, signed with the subscriber's secret.
//!
//! Every feed advertises the hub: `<link rel="hub">` in the document and an
//! HTTP `Link` header.

pub mod distribute;
pub mod hub;
mod topic;

pub use distribute::Distributor;
pub use hub::{Applied, Hub};
pub use topic::{content_mark, parse_topic};

use thiserror::Error;
use tokio::sync::watch;

use crate::{
    service::{Herold, ServiceError},
    storage::StorageError,
};

/// What can go wrong in the hub.
#[derive(Debug, Error)]
pub enum WebsubError {
    /// The request to the hub is invalid (answered `400`).
    #[error(transparent)]
    Request(#[from] herold_websub::HubRequestError),
    /// A new subscription would exceed a cap (answered `403`); nothing
    /// stored changed.
    #[error(transparent)]
    Cap(#[from] crate::storage::WebsubCapReached),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Rendering a feed failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The HTTP client for subscribers could not be built.
    #[error("cannot set up the WebSub HTTP client: {0}")]
    Client(String),
    /// A blocking task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// The `Link` header of the feed `/feeds/{name}`:
/// `<hub>; rel="hub", <self>; rel="self"`, if the hub is enabled.
pub fn feed_link_header(config: &crate::config::Config, name: &str) -> Option<String> {
    let hub = config.websub_hub_url()?;
    let this = config.public_url.join(&format!("feeds/{name}")).ok()?;
    Some(format!("<{hub}>; rel=\"hub\", <{this}>; rel=\"self\""))
}

/// Starts the distribution loop as a task on the caller's runtime, if the
/// hub is enabled; it ends when `stop` turns true (or its sender is dropped).
pub fn spawn(
    app: &Herold,
    stop: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, WebsubError> {
    if !app.config().websub.enabled {
        return Ok(None);
    }
    let distributor = Distributor::new(app.clone())?;
    Ok(Some(tokio::spawn(distributor.run(stop))))
}

/// Runs a blocking (database) call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WebsubError> + Send + 'static,
) -> Result<T, WebsubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebsubError::Task(e.to_string()))?
}
