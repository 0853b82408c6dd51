//! The outbound adapter trait.

use async_trait::async_trait;

use crate::capabilities::Capabilities;
use crate::error::SendError;
use crate::kind::ChannelKind;
use crate::media::{FetchError, FetchedMedia};
use crate::message::{Address, Destination, OutboundMessage, Receipt, RenderedMessage};

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

    /// Sends a service message to one person — a sign-up confirmation, a
    /// reply to a resident — rather than an announcement: no unsubscribe
    /// headers, no idempotency key. The engine calls it through the same
    /// adapter (one connection pool) after taking a token from the channel's
    /// shared rate limit. By default it is an ordinary [`Channel::send`].
    async fn send_transactional(
        &self,
        to: &Address,
        message: &RenderedMessage,
    ) -> Result<Receipt, SendError> {
        self.send(&OutboundMessage {
            idempotency_key: String::new(),
            destination: Destination::Recipient(to.clone()),
            message: message.clone(),
            unsubscribe: None,
            recipient_last_wrote: None,
        })
        .await
    }

    /// Prepares the provider side, once, by `herold channels setup`: tells
    /// a provider that must be told where to call Herold (Telegram's
    /// `setWebhook`), creates what the channel posts to (Matrix's follow
    /// rooms). `webhook_url` is `{public_url}webhooks/{channel}`, or `None`
    /// when Herold receives the channel by polling. Returns what was done,
    /// for the operator, or `None` when there is nothing to set up (the
    /// default).
    async fn setup(&self, webhook_url: Option<&str>) -> Result<Option<String>, SendError> {
        let _ = webhook_url;
        Ok(None)
    }

    /// Fetches a media item a resident sent (the `media_id` of an
    /// [`InboundContent::Photo`](crate::InboundContent::Photo)) from the
    /// provider. Must not read more than `max_bytes`: an item the provider
    /// says is larger is refused before downloading, and a download that
    /// turns out larger is cut off with [`FetchError::TooLarge`]. By default
    /// the channel cannot ([`FetchError::NotSupported`]).
    async fn fetch_media(
        &self,
        media_id: &str,
        max_bytes: u64,
    ) -> Result<FetchedMedia, FetchError> {
        let _ = (media_id, max_bytes);
        Err(FetchError::NotSupported)
    }

    /// The public places this channel posts announcements to besides its
    /// subscribers (follow mode), from its configuration. The engine posts
    /// each announcement once to every route that carries its category.
    /// None by default.
    fn follow_routes(&self) -> Vec<crate::message::FollowRoute> {
        Vec::new()
    }

    /// The public links residents follow to start receiving this channel
    /// (a chat with the bot, a public channel or room), for the subscribe
    /// page. None by default.
    fn join_links(&self) -> Vec<crate::join::JoinLink> {
        Vec::new()
    }

    /// The limit for one recipient: [`Capabilities::per_recipient_rate`]
    /// by default; a channel whose limits differ by kind of chat (Telegram:
    /// groups and channels slower than private chats) says so here.
    fn recipient_rate(&self, destination: &Destination) -> Option<crate::RateLimit> {
        let _ = destination;
        self.capabilities().per_recipient_rate
    }

    /// Drops what the adapter or the provider keeps about a resident who
    /// asked to be erased (Löschen), after Herold erased its own records:
    /// e.g. a Matrix bot leaves and forgets their direct room. The address
    /// is the one they had. Nothing to do by default.
    async fn forget(&self, address: &Address) -> Result<(), SendError> {
        let _ = address;
        Ok(())
    }

    /// How long after a resident's last message the provider takes free
    /// text to them (WhatsApp: 24 hours; a template otherwise). For such a
    /// channel the engine fills [`OutboundMessage::recipient_last_wrote`].
    /// `None` (the default): no such window.
    fn conversation_window(&self) -> Option<std::time::Duration> {
        None
    }

    /// Whether this process may send on the channel now. A channel whose
    /// provider-side identity belongs to one process at a time (the Matrix
    /// bot's encrypting device) answers `false` in the others, and their
    /// engines claim nothing for it; the process that holds it sends
    /// everything. `true` by default.
    fn serves_here(&self) -> bool {
        true
    }

    /// How many bounces in a row end a subscription, counting every bounce
    /// ([`SendError::is_bounce`]); `None` (the default) ends it only when the
    /// provider says the recipient is gone, at once. E-mail, where single
    /// bounces are often temporary, counts several.
    fn bounce_limit(&self) -> Option<u32> {
        None
    }
}
