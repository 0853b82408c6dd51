//! Long polling: `deleteWebhook` once, then `getUpdates` with the stored
//! offset, for installations without a public https address.

use std::fmt;
use std::time::Duration;

use herold_channel_api::{
    async_trait, InboundError, InboundPoller, PollError, Polled, MAX_RETRY_AFTER,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, TelegramConfig};
use crate::map::ApiResponse;
use crate::update::parse_update;

/// How much longer than the long poll the HTTP client waits for its answer.
const CLIENT_MARGIN: Duration = Duration::from_secs(10);
/// Updates asked for at once (Telegram's maximum).
const LIMIT: u32 = 100;

/// Fetches the bot's updates with `getUpdates` (only `message` updates).
///
/// The cursor is the next `offset` (last `update_id` + 1); polling with it
/// confirms everything before it to Telegram, so the core stores the
/// events and the cursor first. `Debug` hides the token.
pub struct TelegramPoller {
    client: reqwest::Client,
    /// `{api_url}/bot{token}/`: holds the token, never shown.
    base: Zeroizing<String>,
    timeout: Duration,
}

impl fmt::Debug for TelegramPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramPoller")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct GetUpdates {
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    limit: u32,
    timeout: u64,
    allowed_updates: [&'static str; 1],
}

#[derive(Serialize)]
struct DeleteWebhook {
    drop_pending_updates: bool,
}

impl TelegramPoller {
    /// A poller for the configured bot; nothing connects yet.
    pub fn new(config: &TelegramConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let timeout = Duration::from_secs(u64::from(config.poll_timeout_seconds));
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout + CLIENT_MARGIN)
            .build()
            .map_err(|e| ConfigError::Client(e.without_url().to_string()))?;
        Ok(Self {
            client,
            base: config.method_base()?,
            timeout,
        })
    }

    /// Calls `method`; the `result` of a successful answer.
    async fn call<B: Serialize>(
        &self,
        method: &str,
        body: &B,
    ) -> Result<serde_json::Value, PollError> {
        let response = self
            .client
            .post(format!("{}{method}", self.base.as_str()))
            .json(body)
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| network_error(&e))?;
        let parsed: Option<ApiResponse<serde_json::Value>> = serde_json::from_slice(&bytes).ok();
        match parsed {
            Some(r) if (200..300).contains(&status) && r.ok => {
                Ok(r.result.unwrap_or(serde_json::Value::Null))
            }
            Some(r) => Err(map_poll_error(
                r.error_code.unwrap_or(status),
                r.description.as_deref().unwrap_or(""),
                r.parameters.and_then(|p| p.retry_after),
            )),
            None => Err(map_poll_error(status, "", None)),
        }
    }
}

/// A failed Bot API answer while polling.
fn map_poll_error(code: u16, description: &str, retry_after: Option<u64>) -> PollError {
    let description: String = description
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    match code {
        401 => PollError::Misconfigured {
            reason: "Telegram rejected the bot token (401 Unauthorized): check telegram.token".into(),
        },
        404 => PollError::Misconfigured {
            reason: "Telegram does not know the bot token (404 Not Found): check telegram.token and telegram.api_url".into(),
        },
        409 => PollError::Conflict {
            reason: format!("Telegram refused getUpdates (409: {description})"),
        },
        429 => PollError::RateLimited {
            retry_after: retry_after.map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER)),
        },
        _ => PollError::Transient {
            reason: format!("getUpdates failed ({code}: {description})"),
        },
    }
}

/// A transport failure; the reason never holds the URL (it has the token).
fn network_error(err: &reqwest::Error) -> PollError {
    let reason = if err.is_timeout() {
        "getUpdates timed out"
    } else if err.is_connect() {
        "cannot connect to the Telegram Bot API"
    } else {
        "network error talking to the Telegram Bot API"
    };
    PollError::Transient {
        reason: reason.into(),
    }
}

/// The events of a `getUpdates` result and the offset after it.
pub(crate) fn read_updates(result: &serde_json::Value) -> Result<Polled, PollError> {
    let updates = result.as_array().ok_or_else(|| PollError::Transient {
        reason: "getUpdates answered without a list of updates".into(),
    })?;
    let mut polled = Polled::default();
    let mut last: Option<i64> = None;
    for update in updates {
        let Some(id) = update.get("update_id").and_then(serde_json::Value::as_i64) else {
            polled.malformed += 1;
            continue;
        };
        last = Some(last.map_or(id, |l| l.max(id)));
        match parse_update(update) {
            Ok(events) => polled.events.extend(events),
            // Kinds Herold does not read (edited messages, chat member changes …).
            Err(InboundError::Unsupported(_)) => {}
            Err(_) => polled.malformed += 1,
        }
    }
    polled.cursor = last
        .and_then(|l| l.checked_add(1))
        .map(|next| next.to_string());
    Ok(polled)
}

#[async_trait]
impl InboundPoller for TelegramPoller {
    /// `deleteWebhook` (keeping pending updates): Telegram answers
    /// `getUpdates` with 409 while a webhook is set.
    async fn start(&self) -> Result<(), PollError> {
        self.call(
            "deleteWebhook",
            &DeleteWebhook {
                drop_pending_updates: false,
            },
        )
        .await
        .map(|_| ())
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<Polled, PollError> {
        let body = GetUpdates {
            offset: cursor.and_then(|c| c.trim().parse().ok()),
            limit: LIMIT,
            timeout: self.timeout.as_secs(),
            allowed_updates: ["message"],
        };
        let result = self.call("getUpdates", &body).await?;
        read_updates(&result)
    }

    fn wait(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::{Command, InboundEvent};
    use serde_json::json;

    #[test]
    fn updates_become_events_and_the_next_offset() {
        let result = json!([
            {"update_id": 10, "message": {"message_id": 1, "date": 1764400000, "chat": {"id": 42, "type": "private"}, "text": "/start"}},
            {"update_id": 11, "edited_message": {"message_id": 1, "date": 1764400000, "chat": {"id": 42}, "text": "x"}},
            {"update_id": 12, "message": {"chat": {"id": 42}}},
            {"no_update_id": true},
            {"update_id": 13, "message": {"message_id": 2, "date": 1764400001, "chat": {"id": 42, "type": "private"}, "text": "Hallo"}}
        ]);
        let polled = read_updates(&result).unwrap();
        assert_eq!(polled.cursor.as_deref(), Some("14"));
        assert_eq!(polled.malformed, 2);
        assert_eq!(polled.events.len(), 2);
        assert!(matches!(
            &polled.events[0],
            InboundEvent::Command { command: Command::Start(_), provider_message_id: Some(id), .. } if id == "42:1"
        ));
        let empty = read_updates(&json!([])).unwrap();
        assert_eq!(empty, Polled::default());
        assert!(read_updates(&json!({"x": 1})).is_err());
    }

    #[test]
    fn errors_tell_the_core_what_to_do() {
        assert!(matches!(
            map_poll_error(401, "Unauthorized", None),
            PollError::Misconfigured { .. }
        ));
        assert!(matches!(
            map_poll_error(
                409,
                "Conflict: can't use getUpdates method while webhook is active",
                None
            ),
            PollError::Conflict { .. }
        ));
        assert_eq!(
            map_poll_error(429, "Too Many Requests: retry after 7", Some(7)),
            PollError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            map_poll_error(502, "Bad Gateway", None),
            PollError::Transient { .. }
        ));
    }
}
