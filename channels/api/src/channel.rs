//! The outbound adapter trait.

use async_trait::async_trait;

use crate::capabilities::Capabilities;
use crate::error::SendError;
use crate::kind::ChannelKind;
use crate::message::{OutboundMessage, Receipt};

/// An outbound delivery channel (WhatsApp, email, Telegram, Matrix, feed).
///
/// Implementations must be cheap to share (`Arc<dyn Channel>`) and must not log
/// recipient addresses or message text.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Which channel this adapter implements.
    fn kind(&self) -> ChannelKind;

    /// What the channel supports; must not change over the adapter's lifetime.
    fn capabilities(&self) -> &Capabilities;

    /// Delivers one message.
    ///
    /// Called at most as often as [`Capabilities::default_rate`] allows. A retry
    /// of the same message reuses [`OutboundMessage::idempotency_key`].
    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError>;
}
