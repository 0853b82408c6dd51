//! The outbound adapter: free text, images and templates through
//! `POST /{phone_number_id}/messages`, and the media residents send.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use herold_channel_api::{
    async_trait, Address, Capabilities, Channel, ChannelKind, Destination, FetchError,
    FetchedMedia, Formatting, JoinLink, MediaKind, OutboundMessage, RateLimit, Reach, Receipt,
    RenderedMessage, SendError, TemplateFields,
};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::config::{ConfigError, Field, Template, WhatsAppConfig};
use crate::map::{from_response, Outcome};

/// Longest text message.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest image caption: a text that fits goes out as the image's caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Free text is allowed for 24 hours after the resident's last message;
/// Herold stops ten minutes early, so a message queued at the edge does not
/// fail on its way.
const WINDOW: chrono::Duration = chrono::Duration::minutes(24 * 60 - 10);

/// The WhatsApp Cloud API channel.
///
/// A resident who wrote within the last 24 hours gets the rendered text
/// (WhatsApp markup), as the caption of the announcement's image when it
/// fits; anyone else gets the approved template filled with the
/// announcement's fields — urgent warnings too, never held back. The Cloud
/// API has no idempotency key: a send repeated after a crash may arrive
/// twice.
pub struct WhatsAppChannel {
    client: reqwest::Client,
    config: WhatsAppConfig,
    /// The bearer token, never shown.
    token: Zeroizing<String>,
    /// `{api_url}/{api_version}/`.
    base: String,
    pair_spacing: Duration,
    caps: Capabilities,
}

impl fmt::Debug for WhatsAppChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppChannel")
            .field("phone_number_id", &self.config.phone_number_id)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl WhatsAppChannel {
    /// Builds the adapter from its configuration (checked here). Nothing
    /// connects yet.
    pub fn new(config: WhatsAppConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let token = config.secrets()?.access_token;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // Requests carry the token: never follow a redirect elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Client(e.without_url().to_string()))?;
        let pair_spacing = Duration::from_secs(u64::from(config.pair_spacing_seconds));
        // Meta refuses the message above its limit in any second. A bucket
        // of one token and a rate one below the limit allow at most
        // 1 + (limit − 1) = limit messages in any second.
        let limit = config.rate_per_second;
        let rate = (limit - 1.0).max(limit / 2.0);
        let caps = Capabilities {
            reach: Reach::Push,
            max_text_chars: Some(MAX_TEXT_CHARS),
            max_subject_chars: None,
            formatting: Formatting::WhatsApp,
            outbound_media: vec![MediaKind::Image],
            inbound_media: vec![MediaKind::Image],
            default_rate: RateLimit::new(rate, 1),
            per_recipient_rate: Some(RateLimit::new(1.0 / pair_spacing.as_secs_f64(), 1)),
            inbound: true,
            delivery_receipts: true,
            read_receipts: true,
            idempotent_sends: false,
            unsubscribe_links: false,
        };
        Ok(Self {
            client,
            base: config.base(),
            config,
            token,
            pair_spacing,
            caps,
        })
    }

    /// `POST {phone_number_id}/messages`; the message id Meta returns.
    async fn post(&self, body: &Value) -> Result<Receipt, Outcome> {
        let url = format!("{}{}/messages", self.base, self.config.phone_number_id);
        let response = self
            .client
            .post(url)
            .bearer_auth(self.token.as_str())
            .json(body)
            .send()
            .await
            .map_err(|e| Outcome::Error(network_error(&e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Outcome::Error(network_error(&e)))?;
        if !status.is_success() {
            return Err(from_response(status.as_u16(), &bytes, self.pair_spacing));
        }
        let id = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/messages/0/id")?.as_str().map(str::to_owned));
        match id {
            Some(id) => Ok(Receipt::now(Some(id))),
            // Accepted, but no id to match statuses with: still sent.
            None => Ok(Receipt::now(None)),
        }
    }

    /// The rendered text, or the image with it as caption when it fits.
    fn free_form(&self, to: &str, m: &RenderedMessage) -> Value {
        let image = m.media.iter().find(|media| media.kind == MediaKind::Image);
        match image {
            Some(image) if m.text.chars().count() <= MAX_CAPTION_CHARS => json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "image",
                "image": {"link": image.url, "caption": m.text},
            }),
            _ => json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"body": m.text, "preview_url": m.link.is_some()},
            }),
        }
    }

    /// The template for the message's kind, filled from its fields.
    fn template(&self, to: &str, m: &RenderedMessage, fields: &TemplateFields) -> Value {
        template_body(to, self.config.template(m.urgent, fields.digest), fields)
    }

    /// Free text inside the window (falling back to the template when Meta
    /// says the window closed after all), the template outside it.
    async fn deliver(&self, to: &str, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let open = msg
            .recipient_last_wrote
            .is_some_and(|t| Utc::now().signed_duration_since(t) < WINDOW);
        if open {
            match self.post(&self.free_form(to, &msg.message)).await {
                Ok(receipt) => return Ok(receipt),
                Err(Outcome::Error(e)) => return Err(e),
                Err(Outcome::WindowClosed) => {}
            }
        }
        let Some(fields) = &msg.message.fields else {
            return Err(SendError::permanent(
                "the resident has not written for 24 hours, and this message has no template",
            ));
        };
        match self.post(&self.template(to, &msg.message, fields)).await {
            Ok(receipt) => Ok(receipt),
            Err(Outcome::Error(e)) => Err(e),
            Err(Outcome::WindowClosed) => Err(SendError::Misconfigured {
                reason: "WhatsApp refused the template as outside the 24-hour window: check whatsapp.templates".into(),
            }),
        }
    }

    /// The media item's metadata, then its download (both with the token;
    /// the download URL is short-lived), never more than `max` bytes.
    async fn fetch(&self, media_id: &str, max: u64) -> Result<FetchedMedia, FetchError> {
        if media_id.is_empty()
            || media_id.len() > 128
            || !media_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(SendError::permanent("not a WhatsApp media id").into());
        }
        let response = self
            .client
            .get(format!("{}{media_id}", self.base))
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| network_error(&e))?;
        if !status.is_success() {
            return Err(
                match from_response(status.as_u16(), &bytes, self.pair_spacing) {
                    Outcome::Error(e) => e,
                    Outcome::WindowClosed => SendError::permanent("media not available"),
                }
                .into(),
            );
        }
        let meta: Value = serde_json::from_slice(&bytes)
            .map_err(|_| SendError::transient("unreadable media answer from WhatsApp"))?;
        if let Some(size) = meta.get("file_size").and_then(Value::as_u64) {
            if size > max {
                return Err(FetchError::TooLarge {
                    size: Some(size),
                    max,
                });
            }
        }
        let url = meta
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| reqwest::Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or_else(|| SendError::permanent("WhatsApp gave no download URL for the media"))?;
        let mut response = self
            .client
            .get(url)
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(match status.as_u16() {
                401 | 403 => SendError::Misconfigured {
                    reason: format!("WhatsApp refused the media download (HTTP {status})"),
                },
                s @ 500..=599 => SendError::transient(format!("WhatsApp media server error ({s})")),
                // The URL expired or the item is gone (media live 30 days).
                s => SendError::permanent(format!("WhatsApp did not serve the media ({s})")),
            }
            .into());
        }
        if let Some(size) = response.content_length().filter(|s| *s > max) {
            return Err(FetchError::TooLarge {
                size: Some(size),
                max,
            });
        }
        let mime_type = meta
            .get("mime_type")
            .and_then(Value::as_str)
            .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
            .filter(|m| m.starts_with("image/"));
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| network_error(&e))? {
            let total = u64::try_from(bytes.len() + chunk.len()).unwrap_or(u64::MAX);
            if total > max {
                return Err(FetchError::TooLarge { size: None, max });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedMedia { bytes, mime_type })
    }
}

/// A template message with body parameters in the configured order.
pub(crate) fn template_body(to: &str, t: &Template, fields: &TemplateFields) -> Value {
    let parameters: Vec<Value> = t
        .parameters
        .iter()
        .map(|f| {
            let text = match f {
                Field::Title => &fields.title,
                Field::Summary => &fields.summary,
                Field::Link => &fields.link,
                Field::Site => &fields.site,
            };
            json!({"type": "text", "text": text})
        })
        .collect();
    let mut template = json!({"name": t.name, "language": {"code": t.language}});
    if !parameters.is_empty() {
        template["components"] = json!([{"type": "body", "parameters": parameters}]);
    }
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    })
}

/// The number as the Cloud API takes it: digits, without the `+`.
fn recipient(address: &Address) -> Result<String, SendError> {
    let digits = address.as_str().trim().trim_start_matches('+');
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits.to_owned())
    } else {
        Err(SendError::Permanent {
            reason: "the stored address is not a phone number".into(),
            recipient_gone: true,
        })
    }
}

fn network_error(err: &reqwest::Error) -> SendError {
    let reason = if err.is_timeout() {
        "request to the WhatsApp Cloud API timed out"
    } else if err.is_connect() {
        "cannot connect to the WhatsApp Cloud API"
    } else {
        "network error talking to the WhatsApp Cloud API"
    };
    SendError::transient(reason)
}

#[async_trait]
impl Channel for WhatsAppChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WhatsApp
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// A chat with the business number, "Start" prefilled.
    fn join_links(&self) -> Vec<JoinLink> {
        self.config
            .display_digits()
            .map(|digits| {
                JoinLink::chat(
                    format!("https://wa.me/{digits}?text=Start"),
                    self.config.display_number.clone().unwrap_or_default(),
                )
            })
            .into_iter()
            .collect()
    }

    fn conversation_window(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 60 * 60))
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        match &msg.destination {
            Destination::Recipient(address) => self.deliver(&recipient(address)?, msg).await,
            Destination::Follow(_) => Err(SendError::Misconfigured {
                reason:
                    "WhatsApp Channels have no sending API: post there by hand (a manual channel)"
                        .into(),
            }),
        }
    }

    /// Replies answer a resident's message, so they are free text; one
    /// that comes after the window closed is refused by Meta and given up.
    async fn send_transactional(
        &self,
        to: &Address,
        message: &RenderedMessage,
    ) -> Result<Receipt, SendError> {
        let to = recipient(to)?;
        match self.post(&self.free_form(&to, message)).await {
            Ok(receipt) => Ok(receipt),
            Err(Outcome::Error(e)) => Err(e),
            Err(Outcome::WindowClosed) => Err(SendError::permanent(
                "the resident has not written for 24 hours: WhatsApp takes replies only within that window",
            )),
        }
    }

    async fn setup(&self, webhook_url: Option<&str>) -> Result<Option<String>, SendError> {
        Ok(Some(match webhook_url {
            Some(url) => format!(
                "WhatsApp is set up in Meta's App Dashboard, not by Herold: under WhatsApp → Configuration enter the callback URL {url} and whatsapp.verify_token, then subscribe to the \"messages\" field."
            ),
            None => "WhatsApp needs Herold's public https address (public_url) for its webhook.".into(),
        }))
    }

    async fn fetch_media(
        &self,
        media_id: &str,
        max_bytes: u64,
    ) -> Result<FetchedMedia, FetchError> {
        self.fetch(media_id, max_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Templates;

    fn fields() -> TemplateFields {
        TemplateFields {
            title: "Sperrung Hauptstraße".into(),
            summary: "Ab Montag ist die Hauptstraße gesperrt.".into(),
            link: "https://musterstadt.de/a/7".into(),
            site: "Musterstadt".into(),
            digest: false,
        }
    }

    #[test]
    fn templates_are_filled_in_the_configured_order() {
        let t = Template {
            name: "gemeinde_info".into(),
            language: "de".into(),
            parameters: vec![Field::Site, Field::Title, Field::Link],
        };
        let body = template_body("4915112345678", &t, &fields());
        assert_eq!(body["type"], "template");
        assert_eq!(body["template"]["name"], "gemeinde_info");
        assert_eq!(body["template"]["language"]["code"], "de");
        let params = &body["template"]["components"][0]["parameters"];
        assert_eq!(params[0]["text"], "Musterstadt");
        assert_eq!(params[1]["text"], "Sperrung Hauptstraße");
        assert_eq!(params[2]["text"], "https://musterstadt.de/a/7");
        let bare = Template {
            parameters: vec![],
            ..t
        };
        assert!(template_body("1", &bare, &fields())["template"]
            .get("components")
            .is_none());
    }

    #[test]
    fn numbers_lose_their_plus() {
        assert_eq!(
            recipient(&Address::new("+4915112345678")).unwrap(),
            "4915112345678"
        );
        assert!(recipient(&Address::new("!room:example.org")).is_err());
    }

    #[test]
    fn captions_carry_short_texts_only() {
        let config: WhatsAppConfig = toml::from_str(
            "access_token = \"t\"\nphone_number_id = \"1\"\napp_secret = \"s\"\nverify_token = \"v\"\n[templates.broadcast]\nname = \"x\"\n",
        )
        .unwrap();
        let _: &Templates = &config.templates;
        let channel = WhatsAppChannel::new(config).unwrap();
        let mut m = RenderedMessage::new("*Kurz*", "de");
        m.media.push(herold_channel_api::Media {
            kind: MediaKind::Image,
            url: "https://musterstadt.de/i/1.jpg".into(),
            mime_type: "image/jpeg".into(),
            caption: Some("Baustelle".into()),
        });
        let short = channel.free_form("49151", &m);
        assert_eq!(short["type"], "image");
        assert_eq!(short["image"]["caption"], "*Kurz*");
        m.text = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert_eq!(channel.free_form("49151", &m)["type"], "text");
    }
}
