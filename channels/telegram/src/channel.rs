//! The outbound adapter: `sendMessage` and `sendPhoto`.

use std::fmt;
use std::time::Duration;

use herold_channel_api::{
    async_trait, Capabilities, Channel, ChannelKind, Destination, FetchError, FetchedMedia,
    FollowRoute, FollowTarget, Formatting, JoinLink, MediaKind, OutboundMessage, RateLimit, Reach,
    Receipt, SendError,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::{ConfigError, TelegramConfig};
use crate::fetch::FileApi;
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
    /// `{api_url}/file/bot{token}/`: where files residents sent are
    /// downloaded; holds the token, never shown.
    files: Zeroizing<String>,
    channel: Option<String>,
    channel_categories: Vec<String>,
    bot_username: Option<String>,
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

/// How a message's link preview shows.
#[derive(Serialize)]
struct LinkPreviewOptions<'a> {
    is_disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    prefer_large_media: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    show_above_text: bool,
}

impl<'a> LinkPreviewOptions<'a> {
    /// No preview: the announcement's own link is in the text, and a card
    /// of it would only repeat the title.
    fn disabled() -> Self {
        Self {
            is_disabled: true,
            url: None,
            prefer_large_media: false,
            show_above_text: false,
        }
    }

    /// The announcement's image, large, above the text.
    fn image(url: &'a str) -> Self {
        Self {
            is_disabled: false,
            url: Some(url),
            prefer_large_media: true,
            show_above_text: true,
        }
    }
}

#[derive(Serialize)]
struct SendMessage<'a> {
    chat_id: &'a ChatId<'a>,
    text: &'a str,
    parse_mode: &'static str,
    link_preview_options: LinkPreviewOptions<'a>,
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
        let files = config.file_base()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // The URLs hold the token: never follow a redirect (it would
            // carry them to another host in the Referer).
            .redirect(reqwest::redirect::Policy::none())
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
            files,
            channel: config.channel,
            channel_categories: config.channel_categories,
            bot_username: config.bot_username,
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
    /// With long polling (no webhook URL) there is nothing to set up:
    /// Herold removes any webhook when it starts polling.
    async fn setup(&self, webhook_url: Option<&str>) -> Result<Option<String>, SendError> {
        let Some(webhook_url) = webhook_url else {
            return Ok(Some(
                "telegram receives updates by long polling: no setup needed (Herold removes any webhook when it starts polling; see telegram.mode)".into(),
            ));
        };
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

    /// A photo a resident sent: `getFile` (refused if its `file_size` is
    /// over `max_bytes`), then the download, cut off after `max_bytes`.
    async fn fetch_media(
        &self,
        media_id: &str,
        max_bytes: u64,
    ) -> Result<FetchedMedia, FetchError> {
        FileApi {
            client: &self.client,
            methods: &self.base,
            files: &self.files,
        }
        .fetch(media_id, max_bytes)
        .await
    }

    /// The configured public channel (`telegram.channel`), carrying every
    /// category or those of `telegram.channel_categories`.
    fn follow_routes(&self) -> Vec<FollowRoute> {
        self.channel
            .iter()
            .map(|c| FollowRoute {
                target: FollowTarget::new(c.clone()),
                categories: self.channel_categories.clone(),
            })
            .collect()
    }

    /// The bot (Telegram shows a Start button that sends `/start`) and the
    /// public channel when it has a name (a numeric id has no public link).
    fn join_links(&self) -> Vec<JoinLink> {
        let mut links: Vec<JoinLink> = self
            .bot_username
            .iter()
            .map(|bot| JoinLink::chat(format!("https://t.me/{bot}"), format!("@{bot}")))
            .collect();
        if let Some(name) = self.channel.as_deref().and_then(|c| c.strip_prefix('@')) {
            links.push(JoinLink::follow(
                format!("https://t.me/{name}"),
                format!("@{name}"),
                self.channel_categories.clone(),
            ));
        }
        links
    }

    /// One message a second to a private chat; twenty a minute to a group
    /// (negative chat id) or channel, spaced three seconds apart so that no
    /// minute ever holds more.
    fn recipient_rate(&self, destination: &Destination) -> Option<RateLimit> {
        let group = match destination {
            Destination::Recipient(address) => address.as_str().trim_start().starts_with('-'),
            Destination::Follow(_) => true,
        };
        Some(if group {
            RateLimit::new(1.0 / 3.0, 1)
        } else {
            RateLimit::new(1.0, 1)
        })
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
        // One message per delivery: a chat takes one a second, so a photo
        // and a text in a row would be refused. A text that fits a caption
        // goes as the photo's caption; a longer one shows the image as its
        // large preview, above the text.
        let image = msg
            .message
            .media
            .iter()
            .find(|m| m.kind == MediaKind::Image);
        let mut preview = LinkPreviewOptions::disabled();
        if let Some(image) = image {
            if utf16_len(text) <= MAX_CAPTION_CHARS {
                let photo = SendPhoto {
                    chat_id: &chat_id,
                    photo: &image.url,
                    caption: Some(text),
                    parse_mode: "HTML",
                };
                match self.call("sendPhoto", &photo, target).await {
                    Ok(sent) => return Ok(receipt(sent, target)),
                    // The image was refused (unreachable URL, wrong type):
                    // the announcement still goes out as text.
                    Err(SendError::Permanent {
                        recipient_gone: false,
                        ..
                    }) => {}
                    Err(e) => return Err(e),
                }
            } else {
                preview = LinkPreviewOptions::image(&image.url);
            }
        }
        let body = SendMessage {
            chat_id: &chat_id,
            text,
            parse_mode: "HTML",
            link_preview_options: preview,
        };
        let sent = self.call("sendMessage", &body, target).await?;
        Ok(receipt(sent, target))
    }
}

/// What Herold keeps of a sent message. A resident's receipt keeps only
/// the message id: the chat id is their address, stored encrypted, never
/// in clear. A post to the public channel keeps both (a public place, e.g.
/// for a link).
fn receipt(sent: Option<SentMessage>, target: Target) -> Receipt {
    Receipt::now(sent.map(|m| match target {
        Target::Recipient => m.message_id.to_string(),
        Target::FollowChannel => format!("{}:{}", m.chat.id, m.message_id),
    }))
}

/// Length as Telegram counts it: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}
