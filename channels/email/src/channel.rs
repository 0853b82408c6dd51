//! The email channel adapter.

use std::time::Duration;

use async_trait::async_trait;
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Formatting, OutboundMessage, RateLimit, Reach, Receipt,
    SendError,
};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::build::{
    build_announcement, build_transactional, BuiltMail, Sender, TransactionalMail,
    MAX_SUBJECT_CHARS,
};
use crate::config::{ConfigError, EmailConfig, Security};
use crate::map::map_smtp_error;

/// Why an [`EmailChannel`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS could not be set up for the configured host.
    #[error("email.host: cannot set up TLS for this host: {0}")]
    Tls(String),
    /// Called outside a Tokio runtime (the connection pool spawns a cleanup task).
    #[error("the email channel must be created inside a Tokio runtime")]
    NoRuntime,
}

/// Email over SMTP with a pooled lettre transport.
///
/// One instance is shared by all workers; SMTP connections are reused from
/// lettre's pool (up to [`EmailConfig::pool_max_size`] idle connections).
/// Nothing is logged here; addresses and content never leave the message.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Sender,
    capabilities: Capabilities,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Validates `config` and sets up the pooled transport. Does not connect
    /// yet; the first send opens the first connection.
    ///
    /// Must be called inside a Tokio runtime.
    pub fn new(config: EmailConfig) -> Result<Self, EmailError> {
        let sender = config.sender()?;
        let transport = transport(&config, config.pool_max_size)?;
        Ok(Self {
            transport,
            sender,
            capabilities: Self::capabilities_for(&config),
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
        self.transport
            .send(built.message)
            .await
            .map_err(|e| map_smtp_error(&e))?;
        Ok(Receipt::now(Some(built.message_id)))
    }

    /// Closes all pooled connections.
    pub async fn shutdown(&self) {
        self.transport.shutdown().await;
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
}

/// Builds a pooled transport for `config` keeping up to `pool_max_size` idle
/// connections. Expects a validated configuration.
pub(crate) fn transport(
    config: &EmailConfig,
    pool_max_size: u32,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(EmailError::NoRuntime);
    }
    let tls = match config.security {
        Security::Plain => Tls::None,
        Security::Tls | Security::Starttls => {
            let params = TlsParameters::new(config.host.clone())
                .map_err(|e| EmailError::Tls(e.to_string()))?;
            if config.security == Security::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.effective_port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(config.timeout_seconds)))
        .pool_config(PoolConfig::new().max_size(pool_max_size.max(1)));
    if let Some(name) = &config.hello_name {
        builder = builder.hello_name(ClientId::Domain(name.clone()));
    }
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::{Address, Destination, FollowTarget, RenderedMessage};

    fn config() -> EmailConfig {
        EmailConfig::new(
            "127.0.0.1",
            1,
            Security::Plain,
            "Gemeinde Musterstadt <info@musterstadt.de>",
        )
    }

    #[test]
    fn needs_a_runtime() {
        assert!(matches!(
            EmailChannel::new(config()),
            Err(EmailError::NoRuntime)
        ));
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
