//! The outbound adapter: `sendMessage` and `sendPhoto`.

use std::fmt;
use std::time::Duration;

use herold_channel_api::{
    async_trait, Capabilities, Channel, ChannelKind, Destination, Formatting, Media, MediaKind,
    OutboundMessage, RateLimit, Reach, Receipt, SendError,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::{ConfigError, TelegramConfig};
use crate::map::{map_error, network_error, ApiResponse, Target};

/// Telegram's limit for a message text, in UTF-16 code units.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Telegram's limit for a photo caption, in UTF-16 code units.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// The Telegram Bot API channel.
///
/// A message with an image goes out as two: `sendPhoto` with a short caption
/// (the media's own caption, or else the text's first line — the title —
/// without its tags), then `sendMessage` with the full text, so the text keeps
/// its 4,096-character limit and no HTML is ever cut. If Telegram refuses the
/// photo itself (e.g. it cannot fetch the URL), the text goes out alone; a
/// retry after a failed text may repeat the photo (sends are not idempotent).
pub struct TelegramChannel {
    client: reqwest::Client,
    /// `{api_url}/bot{token}/`: holds the token, never shown.
    base: Zeroizing<String>,
    channel: Option<String>,
    /// Sent to Telegram by [`Channel::setup`]; it comes back with every update.
    webhook_secret: Option<Zeroizing<String>>,
    caps: Capabilities,
}

impl fmt::Debug for TelegramChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramChannel")
            .field("follow_channel", &self.channel.is_some())
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// `chat_id` as the Bot API takes it: an integer or `@channelusername`.
#[derive(Serialize)]
#[serde(untagged)]
enum ChatId<'a> {
    Id(i64),
    Username(&'a str),
}

impl<'a> ChatId<'a> {
    fn parse(raw: &'a str) -> Option<Self> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>() {
            Some(ChatId::Id(id))
        } else if raw.len() > 1 && raw.starts_with('@') {
            Some(ChatId::Username(raw))
        } else {
            None
        }
    }
}

#[derive(Serialize)]
struct LinkPreviewOptions {
    is_disabled: bool,
}

#[derive(Serialize)]
struct SendMessage<'a> {
    chat_id: &'a ChatId<'a>,
    text: &'a str,
    parse_mode: &'static str,
    link_preview_options: LinkPreviewOptions,
}

#[derive(Serialize)]
struct SendPhoto<'a> {
    chat_id: &'a ChatId<'a>,
    photo: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<&'a str>,
    parse_mode: &'static str,
}

/// The part of a sent `Message` Herold keeps.
#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
    chat: SentChat,
}

#[derive(Deserialize)]
struct SentChat {
    id: i64,
}

impl TelegramChannel {
    /// Builds the adapter from a validated-on-the-spot configuration. Nothing connects yet.
    pub fn new(config: TelegramConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let base = config.method_base()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConfigError::Client(e.without_url().to_string()))?;
        // Telegram refuses a 31st message within any second. A bucket of
        // one token and a rate one below the limit allow at most
        // 1 + (limit − 1) = limit messages in any second; a larger burst
        // would let a full bucket and its refill exceed it.
        let limit = config.rate_per_second;
        let rate = (limit - 1.0).max(limit / 2.0);
        let burst = 1;
        Ok(Self {
            client,
            base,
            channel: config.channel,
            webhook_secret: config.webhook_secret.map(Zeroizing::new),
            caps: Capabilities {
                reach: Reach::Both,
                max_text_chars: Some(MAX_TEXT_CHARS),
                max_subject_chars: None,
                formatting: Formatting::TelegramHtml,
                outbound_media: vec![MediaKind::Image],
                inbound_media: vec![MediaKind::Image],
                default_rate: RateLimit::new(rate, burst),
                per_recipient_rate: Some(RateLimit::new(1.0, 1)),
                inbound: true,
                delivery_receipts: false,
                read_receipts: false,
                idempotent_sends: false,
                unsubscribe_links: false,
            },
        })
    }

    /// Calls one Bot API method with a JSON body; the `Message` it returns.
    async fn call<B: Serialize>(
        &self,
        method: &str,
        body: &B,
        target: Target,
    ) -> Result<Option<SentMessage>, SendError> {
        let url = format!("{}{method}", self.base.as_str());
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status();
        let retry_header = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| herold_channel_api::retry_after_from_header(v, chrono::Utc::now()));
        let bytes = response.bytes().await.map_err(|e| network_error(&e))?;
        if status.is_success() {
            // Accepted: an answer we cannot read still means "sent", so the
            // receipt just lacks the id rather than sending twice.
            return Ok(serde_json::from_slice::<ApiResponse<SentMessage>>(&bytes)
                .ok()
                .filter(|r| r.ok)
                .and_then(|r| r.result));
        }
        Err(match map_error(status.as_u16(), &bytes, target) {
            SendError::RateLimited { retry_after: None } => SendError::RateLimited {
                retry_after: retry_header,
            },
            other => other,
        })
    }
}

#[async_trait]
impl Channel for TelegramChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Registers the webhook with `setWebhook`: the URL (Telegram requires
    /// https), the secret token it will send back, and only the update types
    /// Herold reads.
    async fn setup(&self, webhook_url: &str) -> Result<Option<String>, SendError> {
        let Some(secret) = &self.webhook_secret else {
            return Err(SendError::Misconfigured {
                reason: "telegram.webhook_secret is not set: Telegram's updates could not be verified; set it, then run the setup again".into(),
            });
        };
        if !webhook_url.starts_with("https://") {
            return Err(SendError::Misconfigured {
                reason: "public_url must be an https:// address: Telegram delivers webhooks only over HTTPS".into(),
            });
        }
        #[derive(Serialize)]
        struct SetWebhook<'a> {
            url: &'a str,
            secret_token: &'a str,
            allowed_updates: [&'a str; 1],
        }
        self.call(
            "setWebhook",
            &SetWebhook {
                url: webhook_url,
                secret_token: secret.as_str(),
                allowed_updates: ["message"],
            },
            Target::FollowChannel,
        )
        .await?;
        Ok(Some(format!("Telegram sends updates to {webhook_url}")))
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let (raw, target) =
            match &msg.destination {
                Destination::Recipient(address) => (address.as_str(), Target::Recipient),
                Destination::Follow(_) => match &self.channel {
                    Some(channel) => (channel.as_str(), Target::FollowChannel),
                    None => return Err(SendError::Misconfigured {
                        reason:
                            "follow-mode delivery needs telegram.channel (e.g. @musterstadt_info)"
                                .into(),
                    }),
                },
            };
        let chat_id = ChatId::parse(raw).ok_or_else(|| SendError::Permanent {
            reason: "the address is not a Telegram chat id".into(),
            recipient_gone: target == Target::Recipient,
        })?;
        let text = msg.message.text.as_str();
        if utf16_len(text) > MAX_TEXT_CHARS {
            return Err(SendError::permanent(
                "text longer than Telegram's 4096 characters",
            ));
        }
        if let Some(image) = msg
            .message
            .media
            .iter()
            .find(|m| m.kind == MediaKind::Image)
        {
            let caption = photo_caption(image, text);
            let photo = SendPhoto {
                chat_id: &chat_id,
                photo: &image.url,
                caption: (!caption.is_empty()).then_some(caption.as_str()),
                parse_mode: "HTML",
            };
            match self.call("sendPhoto", &photo, target).await {
                Ok(_) => {}
                // The image alone was refused (unreachable URL, wrong type):
                // the announcement still goes out as text.
                Err(SendError::Permanent {
                    recipient_gone: false,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
        let body = SendMessage {
            chat_id: &chat_id,
            text,
            parse_mode: "HTML",
            // The announcement's own link is in the text; a preview card of
            // it would only repeat the title.
            link_preview_options: LinkPreviewOptions { is_disabled: true },
        };
        let sent = self.call("sendMessage", &body, target).await?;
        Ok(Receipt::now(
            sent.map(|m| format!("{}:{}", m.chat.id, m.message_id)),
        ))
    }
}

/// Length as Telegram counts it: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The caption of an image: the media's caption (escaped), else the first
/// non-empty line of the Telegram-HTML text with its tags removed (entities
/// stay valid), cut at a word boundary to [`MAX_CAPTION_CHARS`].
pub(crate) fn photo_caption(image: &Media, html_text: &str) -> String {
    let caption = match image.caption.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => escape_telegram(c),
        _ => html_text
            .lines()
            .map(strip_tags)
            .map(|l| l.trim().to_owned())
            .find(|l| !l.is_empty())
            .unwrap_or_default(),
    };
    cut_at_word(&caption, MAX_CAPTION_CHARS)
}

/// Escapes the three characters Telegram's HTML needs escaped.
fn escape_telegram(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Drops every `<…>` tag; in Telegram HTML a literal `<` is always escaped,
/// so each `<` opens a tag.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_tag = false;
    for c in line.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => in_tag = false,
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

/// Cuts `s` (escaped text without tags) to at most `max` UTF-16 units at the
/// last whitespace that leaves room for `…`; entities hold no whitespace, so
/// none is cut. A single overlong word is cut before its last entity start.
fn cut_at_word(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(1);
    let mut end = 0;
    let mut used = 0;
    let mut last_space = None;
    let mut last_amp = None;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        if c.is_whitespace() {
            last_space = Some(i);
        }
        if c == '&' {
            last_amp = Some(i);
        }
        if c == ';' {
            last_amp = None;
        }
        end = i + c.len_utf8();
    }
    let cut = match (last_space, last_amp) {
        (Some(space), _) if space > 0 => space,
        (_, Some(amp)) => amp,
        _ => end,
    };
    format!("{}…", s[..cut].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(caption: Option<&str>) -> Media {
        Media {
            kind: MediaKind::Image,
            url: "https://example.org/a.jpg".into(),
            mime_type: "image/jpeg".into(),
            caption: caption.map(Into::into),
        }
    }

    #[test]
    fn caption_is_the_title_without_tags() {
        let text = "<b>Straßensperrung &amp; Umleitung</b>\n\nDie <i>Hauptstraße</i> ist gesperrt.";
        assert_eq!(
            photo_caption(&image(None), text),
            "Straßensperrung &amp; Umleitung"
        );
        assert_eq!(photo_caption(&image(Some("A < B")), text), "A &lt; B");
    }

    #[test]
    fn long_captions_are_cut_at_words_and_never_inside_entities() {
        let long = "Wort&amp;Wort ".repeat(200);
        let cut = cut_at_word(&long, MAX_CAPTION_CHARS);
        assert!(utf16_len(&cut) <= MAX_CAPTION_CHARS);
        assert!(cut.ends_with("Wort&amp;Wort…"), "{cut}");
        let one_word = "&amp;".repeat(400);
        let cut = cut_at_word(&one_word, 1024);
        assert!(cut.ends_with("&amp;…") && utf16_len(&cut) <= 1024, "{cut}");
        assert_eq!(cut_at_word("kurz", 10), "kurz");
    }
}
