//! Bot API answers mapped onto [`SendError`].
//!
//! The Bot API answers `{"ok":false,"error_code":N,"description":"…",
//! "parameters":{…}}`:
//!
//! | answer | error |
//! |---|---|
//! | 429, or any `parameters.retry_after` | [`SendError::RateLimited`] (capped at [`MAX_RETRY_AFTER`]) |
//! | 403 blocked / deactivated / kicked / cannot initiate a conversation | [`SendError::Permanent`], recipient gone |
//! | 400 `chat not found` | [`SendError::Permanent`], recipient gone |
//! | 400 with `parameters.migrate_to_chat_id` | [`SendError::Moved`] to the new chat id |
//! | 401, 404 | [`SendError::Misconfigured`]: the token is wrong, the channel is held |
//! | other 400/403 and 4xx | [`SendError::Permanent`] with Telegram's description |
//! | 5xx, network errors, unreadable answers | [`SendError::Transient`] |
//!
//! A group that became a supergroup answers with its new chat id; the core
//! moves the stored subscriber to it and sends again. No reason carries a
//! chat id or message text: Telegram's descriptions are generic, and are cut
//! to [`MAX_DESCRIPTION_CHARS`].
//!
//! For the follow channel (the operator's own `telegram.channel`), "chat not
//! found" and 403 mean the configuration is wrong: [`SendError::Misconfigured`].

use std::time::Duration;

use herold_channel_api::{SendError, MAX_RETRY_AFTER};
use serde::Deserialize;

/// Longest Telegram description copied into a reason.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// The envelope of every Bot API answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiResponse<T> {
    pub ok: bool,
    pub result: Option<T>,
    pub error_code: Option<u16>,
    pub description: Option<String>,
    pub parameters: Option<ResponseParameters>,
}

/// `ResponseParameters` of a failed request.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseParameters {
    pub retry_after: Option<u64>,
    pub migrate_to_chat_id: Option<i64>,
}

/// Who a failed send was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A resident's chat.
    Recipient,
    /// The configured public channel (follow mode).
    FollowChannel,
}

/// Maps a failed Bot API answer — its HTTP status and body — to a [`SendError`].
pub fn map_error(status: u16, body: &[u8], target: Target) -> SendError {
    let parsed: Option<ApiResponse<serde_json::Value>> = serde_json::from_slice(body).ok();
    let (code, description, params) = match parsed {
        Some(r) => (
            r.error_code.unwrap_or(status),
            r.description.unwrap_or_default(),
            r.parameters.unwrap_or_default(),
        ),
        None => (status, String::new(), ResponseParameters::default()),
    };
    map_parts(code, &description, &params, target)
}

fn map_parts(
    code: u16,
    description: &str,
    params: &ResponseParameters,
    target: Target,
) -> SendError {
    let retry_after = params
        .retry_after
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    if code == 429 || (retry_after.is_some() && code < 500) {
        return SendError::RateLimited { retry_after };
    }
    if let Some(new_id) = params.migrate_to_chat_id {
        return SendError::Moved {
            new_address: new_id.to_string(),
        };
    }
    let lower = description.to_ascii_lowercase();
    let desc = safe_description(description);
    match code {
        401 => SendError::Misconfigured {
            reason: "Telegram rejected the bot token (401 Unauthorized)".into(),
        },
        404 => SendError::Misconfigured {
            reason: "Telegram does not know the bot token or method (404 Not Found)".into(),
        },
        400 | 403 if target == Target::FollowChannel && is_chat_gone(code, &lower) => {
            SendError::Misconfigured {
                reason: format!(
                    "the bot cannot post to telegram.channel ({code}: {desc}); make it an administrator of the channel"
                ),
            }
        }
        403 => {
            let gone = [
                ("bot was blocked by the user", "the resident blocked the bot"),
                ("user is deactivated", "the resident's account was deleted"),
                ("bot was kicked", "the bot was removed from the chat"),
                ("bot is not a member", "the bot is no longer in the chat"),
                (
                    "bot can't initiate conversation",
                    "the resident never started the bot",
                ),
            ]
            .into_iter()
            .find(|(needle, _)| lower.contains(needle));
            match gone {
                Some((_, reason)) => SendError::Permanent {
                    reason: reason.into(),
                    recipient_gone: true,
                },
                None => SendError::Permanent {
                    reason: format!("Telegram refused the message (403: {desc})"),
                    recipient_gone: false,
                },
            }
        }
        400 if is_chat_gone(code, &lower) => SendError::Permanent {
            reason: "the chat does not exist (chat not found)".into(),
            recipient_gone: true,
        },
        500..=599 => SendError::Transient {
            reason: format!("Telegram server error ({code})"),
            retry_after,
        },
        400..=499 => SendError::Permanent {
            reason: format!("Telegram refused the message ({code}: {desc})"),
            recipient_gone: false,
        },
        _ => SendError::transient(format!("unexpected answer from Telegram ({code})")),
    }
}

/// Whether the answer says the chat is gone for good.
fn is_chat_gone(code: u16, lower_description: &str) -> bool {
    code == 403
        || lower_description.contains("chat not found")
        || lower_description.contains("peer_id_invalid")
}

/// Telegram's description, cut and stripped of control characters.
fn safe_description(description: &str) -> String {
    let cleaned: String = description
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION_CHARS)
        .collect();
    if cleaned.is_empty() {
        "no description".into()
    } else {
        cleaned
    }
}

/// Maps a transport failure; the reason never holds the URL (it has the token).
pub(crate) fn network_error(err: &reqwest::Error) -> SendError {
    let reason = if err.is_timeout() {
        "request to the Telegram Bot API timed out"
    } else if err.is_connect() {
        "cannot connect to the Telegram Bot API"
    } else {
        "network error talking to the Telegram Bot API"
    };
    SendError::transient(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(body: &str) -> SendError {
        let status = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error_code"].as_u64())
            .unwrap_or(502) as u16;
        map_error(status, body.as_bytes(), Target::Recipient)
    }

    #[test]
    fn rate_limits() {
        assert_eq!(
            map(
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#
            ),
            SendError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            map(
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":999999}}"#
            ),
            SendError::RateLimited {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
    }

    #[test]
    fn recipients_gone() {
        for d in [
            "Forbidden: bot was blocked by the user",
            "Forbidden: user is deactivated",
            "Forbidden: bot was kicked from the group chat",
            "Forbidden: bot can't initiate conversation with a user",
        ] {
            let body = format!(r#"{{"ok":false,"error_code":403,"description":"{d}"}}"#);
            assert!(
                matches!(
                    map(&body),
                    SendError::Permanent {
                        recipient_gone: true,
                        ..
                    }
                ),
                "{d}"
            );
        }
        assert!(matches!(
            map(r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
            SendError::Permanent {
                recipient_gone: true,
                ..
            }
        ));
    }

    #[test]
    fn other_answers() {
        let e = map(
            r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#,
        );
        assert!(
            matches!(&e, SendError::Moved { new_address } if new_address == "-1001234567890"),
            "{e:?}"
        );
        assert!(matches!(
            map(r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#),
            SendError::Misconfigured { .. }
        ));
        assert!(matches!(
            map(r#"{"ok":false,"error_code":404,"description":"Not Found"}"#),
            SendError::Misconfigured { .. }
        ));
        assert!(matches!(
            map(r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            map("<html>502 Bad Gateway</html>"),
            SendError::Transient { .. }
        ));
        let e = map(
            r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}"#,
        );
        assert_eq!(
            e,
            SendError::permanent(
                "Telegram refused the message (400: Bad Request: can't parse entities)"
            )
        );
        let follow = map_error(
            400,
            br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            Target::FollowChannel,
        );
        assert!(matches!(follow, SendError::Misconfigured { .. }));
    }
}
