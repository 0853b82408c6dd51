//! The feed channel adapter.

use async_trait::async_trait;
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Destination, Formatting, OutboundMessage, RateLimit, Reach,
    Receipt, SendError,
};

/// Feeds as a delivery channel.
///
/// Feeds are pulled by readers, so "sending" only acknowledges: `send` accepts a
/// [`Destination::Follow`] (the feed, e.g. a category slug) and immediately returns
/// a [`Receipt`] without provider message id. The web layer renders the feed from
/// storage with [`atom_feed`](crate::atom_feed) / [`rss_feed`](crate::rss_feed).
/// Individual recipients are rejected with [`SendError::Permanent`].
#[derive(Debug, Clone)]
pub struct FeedChannel {
    capabilities: Capabilities,
}

impl FeedChannel {
    /// Creates the feed channel with [`FeedChannel::default_capabilities`].
    pub fn new() -> Self {
        Self {
            capabilities: Self::default_capabilities(),
        }
    }

    /// Follow-only, HTML, no length limits or media, no inbound, no receipts,
    /// idempotent (re-acknowledging changes nothing), and a generous rate limit
    /// since no provider is involved.
    pub fn default_capabilities() -> Capabilities {
        Capabilities {
            reach: Reach::Follow,
            max_text_chars: None,
            max_subject_chars: None,
            formatting: Formatting::Html,
            outbound_media: Vec::new(),
            inbound_media: Vec::new(),
            default_rate: RateLimit::new(1000.0, 1000),
            per_recipient_rate: None,
            inbound: false,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: true,
            unsubscribe_links: false,
        }
    }
}

impl Default for FeedChannel {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Channel for FeedChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Feed
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        match &msg.destination {
            Destination::Follow(target) if target.as_str().trim().is_empty() => Err(
                SendError::permanent("feed channel needs a non-empty follow target"),
            ),
            Destination::Follow(_) => Ok(Receipt::now(None)),
            Destination::Recipient(_) => Err(SendError::permanent(
                "feed channel cannot deliver to individual recipients",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::{Address, Disposition, FollowTarget, RenderedMessage};

    fn msg(destination: Destination) -> OutboundMessage {
        OutboundMessage {
            idempotency_key: "a12/feed".into(),
            destination,
            message: RenderedMessage::new("Text", "de"),
            unsubscribe: None,
            recipient_last_wrote: None,
        }
    }

    #[test]
    fn capabilities() {
        let ch = FeedChannel::new();
        assert_eq!(ch.kind(), ChannelKind::Feed);
        let caps = ch.capabilities();
        assert_eq!(caps.reach, Reach::Follow);
        assert_eq!(caps.formatting, Formatting::Html);
        assert!(!caps.inbound);
        assert!(caps.idempotent_sends);
    }

    #[tokio::test]
    async fn follow_is_acknowledged() {
        let before = chrono::Utc::now();
        let receipt = FeedChannel::default()
            .send(&msg(Destination::Follow(FollowTarget::new("verkehr"))))
            .await
            .unwrap();
        assert_eq!(receipt.provider_message_id, None);
        assert!(receipt.accepted_at >= before);
    }

    #[tokio::test]
    async fn recipient_is_rejected_permanently() {
        let err = FeedChannel::new()
            .send(&msg(Destination::Recipient(Address::new("+49170"))))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            SendError::Permanent {
                recipient_gone: false,
                ..
            }
        ));
        assert_eq!(
            err.disposition(),
            Disposition::GiveUp {
                recipient_gone: false
            }
        );
    }

    #[tokio::test]
    async fn empty_follow_target_is_rejected() {
        let err = FeedChannel::new()
            .send(&msg(Destination::Follow(FollowTarget::new(" "))))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent { .. }));
    }
}
