//! The email channel adapter.

use crate::build::{
    build_announcement, build_transactional, BuiltMail, Sender, TransactionalMail,
    MAX_SUBJECT_CHARS,
};
use crate::config::{ConfigError, EmailConfig};
use crate::pool::SmtpPool;
use async_trait::async_trait;
use herold_channel_api::{
    Address, Capabilities, Channel, ChannelKind, Formatting, OutboundMessage, RateLimit, Reach,
    Receipt, RenderedMessage, SendError,
};

/// Why an [`EmailChannel`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS could not be set up for the configured host.
    #[error("email.host: cannot set up TLS for this host: {0}")]
    Tls(String),
}

/// Email over SMTP through a bounded connection pool.
///
/// One instance is shared by all workers; it keeps at most
/// [`EmailConfig::pool_max_size`] SMTP connections open and reuses them
/// (further sends wait for a free connection). Nothing is logged here;
/// addresses and content never leave the message.
pub struct EmailChannel {
    pool: SmtpPool,
    sender: Sender,
    capabilities: Capabilities,
    max_bounces: u32,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Validates `config` and sets up the connection pool. Does not connect
    /// yet; the first send opens the first connection.
    pub fn new(config: EmailConfig) -> Result<Self, EmailError> {
        let sender = config.sender()?;
        let pool = SmtpPool::new(&config, config.pool_max_size)?;
        Ok(Self {
            pool,
            sender,
            capabilities: Self::capabilities_for(&config),
            max_bounces: config.max_bounces,
        })
    }

    /// Push, HTML, subjects up to [`MAX_SUBJECT_CHARS`], no media, no inbound,
    /// no receipts, not idempotent, rate from the configuration.
    pub fn capabilities_for(config: &EmailConfig) -> Capabilities {
        Capabilities {
            reach: Reach::Push,
            max_text_chars: None,
            max_subject_chars: Some(MAX_SUBJECT_CHARS),
            formatting: Formatting::Html,
            outbound_media: Vec::new(),
            inbound_media: Vec::new(),
            // Defaults to 20/s with a burst of 20: a conservative default for
            // a municipal SMTP relay (many cap submissions per minute per
            // account); raise `rate_per_second`/`rate_burst` in the config
            // when the relay allows more.
            default_rate: RateLimit::new(config.rate_per_second, config.rate_burst),
            per_recipient_rate: None,
            inbound: false,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: false,
            unsubscribe_links: true,
        }
    }

    /// The sender identity messages are built with.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Sends a mail that is not an announcement (double-opt-in or unsubscribe
    /// confirmation), with the same error mapping as [`Channel::send`].
    pub async fn send_transactional(&self, mail: &TransactionalMail) -> Result<Receipt, SendError> {
        let built = build_transactional(&self.sender, mail)?;
        self.deliver(built).await
    }

    async fn deliver(&self, built: BuiltMail) -> Result<Receipt, SendError> {
        self.pool
            .send(built.message.envelope(), &built.message.formatted())
            .await?;
        Ok(Receipt::now(Some(built.message_id)))
    }

    /// Connects (or takes a pooled connection) and checks that the server
    /// answers `NOOP`: whether sends can work at all.
    pub async fn test_connection(&self) -> Result<(), SendError> {
        self.pool.test_connection().await
    }

    /// Closes all pooled connections.
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Builds and sends one announcement; the receipt's provider id is the
    /// `Message-ID` (with angle brackets), which bounces and replies quote.
    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let built = build_announcement(&self.sender, msg)?;
        self.deliver(built).await
    }

    /// A mail without `List-Unsubscribe` (see [`EmailChannel::send_transactional`]);
    /// the subject comes from the message, or its first line.
    async fn send_transactional(
        &self,
        to: &Address,
        message: &RenderedMessage,
    ) -> Result<Receipt, SendError> {
        let subject = message
            .subject
            .clone()
            .unwrap_or_else(|| message.text.lines().next().unwrap_or_default().to_owned());
        EmailChannel::send_transactional(
            self,
            &TransactionalMail {
                to: to.clone(),
                subject,
                text: message.text.clone(),
                html: message.html.clone(),
                locale: message.locale.clone(),
            },
        )
        .await
    }

    /// `email.max_bounces` bounces in a row end the subscription.
    fn bounce_limit(&self) -> Option<u32> {
        Some(self.max_bounces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Security;
    use herold_channel_api::{Destination, FollowTarget};

    fn config() -> EmailConfig {
        EmailConfig::new(
            "127.0.0.1",
            1,
            Security::Plain,
            "Gemeinde Musterstadt <info@musterstadt.de>",
        )
    }

    #[test]
    fn can_be_created_outside_a_runtime() {
        assert!(EmailChannel::new(config()).is_ok());
    }

    #[tokio::test]
    async fn rejects_invalid_config() {
        let mut c = config();
        c.from = "kaputt".into();
        let err = EmailChannel::new(c).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"email.from: expected a mailbox like "Name <addr@host>""#
        );
    }

    #[tokio::test]
    async fn kind_and_capabilities() {
        let mut c = config();
        c.rate_per_second = 5.0;
        c.rate_burst = 7;
        let ch = EmailChannel::new(c).unwrap();
        assert_eq!(ch.kind(), ChannelKind::Email);
        let caps = ch.capabilities();
        assert_eq!(caps.reach, Reach::Push);
        assert_eq!(caps.formatting, Formatting::Html);
        assert_eq!(caps.max_subject_chars, Some(MAX_SUBJECT_CHARS));
        assert_eq!(caps.default_rate, RateLimit::new(5.0, 7));
        assert!(caps.per_recipient_rate.is_none());
        assert!(!caps.inbound && !caps.idempotent_sends);
        let defaults = EmailChannel::capabilities_for(&config());
        assert_eq!(defaults.default_rate, RateLimit::new(20.0, 20));
    }

    #[tokio::test]
    async fn follow_targets_and_bad_addresses_fail_before_connecting() {
        // Port 1 on loopback: any connection attempt would be a transient error,
        // so a permanent error proves nothing was sent.
        let ch = EmailChannel::new(config()).unwrap();
        let mut msg = OutboundMessage {
            idempotency_key: "a1/email/1".into(),
            destination: Destination::Follow(FollowTarget::new("abfall")),
            message: RenderedMessage::new("Text", "de"),
            unsubscribe: None,
            recipient_last_wrote: None,
        };
        assert!(matches!(
            ch.send(&msg).await,
            Err(SendError::Permanent {
                recipient_gone: false,
                ..
            })
        ));
        msg.destination = Destination::Recipient(Address::new("not an address"));
        assert_eq!(
            ch.send(&msg).await.unwrap_err(),
            SendError::Permanent {
                reason: "invalid recipient address".into(),
                recipient_gone: false
            }
        );
    }
}
