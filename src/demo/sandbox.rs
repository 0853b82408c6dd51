//! The demo's channels: adapters with the real channels' capabilities (so
//! the engine renders and paces exactly as it would) that keep what they
//! would send in memory, for the `/demo` pages that show it the way each
//! messenger or a mailbox would.

use chrono::{DateTime, Duration, Utc};
use herold_channel_api::{
    async_trait, Address, Capabilities, Channel, ChannelKind, Destination, Formatting, MediaKind,
    OutboundMessage, RateLimit, Reach, Receipt, RenderedMessage, SendError, TemplateFields,
};
use std::sync::{Arc, Mutex};

/// One message a sandbox channel "sent".
#[derive(Debug, Clone)]
pub struct SandboxMessage {
    pub id: usize,
    pub channel: ChannelKind,
    /// The resident's address (or a follow target).
    pub to: String,
    pub message: RenderedMessage,
    /// WhatsApp outside the 24-hour window: the template's parameters
    /// instead of the text.
    pub template: Option<TemplateFields>,
    pub at: DateTime<Utc>,
}

/// Everything the sandbox channels sent, newest last.
#[derive(Debug, Default)]
pub struct Sandbox {
    messages: Mutex<Vec<SandboxMessage>>,
}

impl Sandbox {
    fn record(
        &self,
        channel: ChannelKind,
        to: &str,
        message: &RenderedMessage,
        template: Option<TemplateFields>,
    ) -> usize {
        let mut all = self
            .messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = all.len() + 1;
        all.push(SandboxMessage {
            id,
            channel,
            to: to.to_owned(),
            message: message.clone(),
            template,
            at: Utc::now(),
        });
        id
    }

    /// A copy of every message so far.
    pub fn messages(&self) -> Vec<SandboxMessage> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A channel of the demo.
pub struct SandboxChannel {
    kind: ChannelKind,
    caps: Capabilities,
    sandbox: Arc<Sandbox>,
}

impl SandboxChannel {
    /// The sandbox of `kind`, with the capabilities of the real adapter.
    pub fn new(kind: ChannelKind, sandbox: Arc<Sandbox>) -> Self {
        let caps = |formatting, max, media: bool, links: bool, rate: f64| Capabilities {
            reach: Reach::Both,
            max_text_chars: max,
            max_subject_chars: None,
            formatting,
            outbound_media: if media {
                vec![MediaKind::Image]
            } else {
                Vec::new()
            },
            inbound_media: vec![MediaKind::Image],
            default_rate: RateLimit::new(rate, 1),
            per_recipient_rate: None,
            inbound: true,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: true,
            unsubscribe_links: links,
        };
        let caps = match kind {
            ChannelKind::Email => caps(Formatting::Html, None, false, true, 20.0),
            ChannelKind::Telegram => caps(Formatting::TelegramHtml, Some(4096), true, false, 29.0),
            ChannelKind::WhatsApp => caps(Formatting::WhatsApp, Some(4096), true, false, 79.0),
            ChannelKind::Matrix => caps(Formatting::MatrixHtml, None, true, false, 9.0),
            ChannelKind::Feed => caps(Formatting::Plain, None, false, false, 100.0),
        };
        Self {
            kind,
            caps,
            sandbox,
        }
    }
}

#[async_trait]
impl Channel for SandboxChannel {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let to = match &msg.destination {
            Destination::Recipient(a) => a.as_str().to_owned(),
            Destination::Follow(t) => t.as_str().to_owned(),
        };
        // WhatsApp: free text only within 24 hours of the resident's last
        // message; otherwise the approved template with its parameters.
        let outside = self.kind == ChannelKind::WhatsApp
            && matches!(msg.destination, Destination::Recipient(_))
            && msg
                .recipient_last_wrote
                .is_none_or(|t| Utc::now() - t > Duration::hours(24));
        let template = outside.then(|| msg.message.fields.clone()).flatten();
        let id = self.sandbox.record(self.kind, &to, &msg.message, template);
        Ok(Receipt::now(Some(format!("demo-{id}"))))
    }

    async fn send_transactional(
        &self,
        to: &Address,
        message: &RenderedMessage,
    ) -> Result<Receipt, SendError> {
        let id = self.sandbox.record(self.kind, to.as_str(), message, None);
        Ok(Receipt::now(Some(format!("demo-{id}"))))
    }

    fn conversation_window(&self) -> Option<std::time::Duration> {
        (self.kind == ChannelKind::WhatsApp).then(|| std::time::Duration::from_secs(24 * 3600))
    }
}
