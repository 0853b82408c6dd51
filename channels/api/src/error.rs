//! Send errors and how the delivery engine reacts to them.

use std::time::Duration;

/// Why a send failed. Adapters map provider responses onto these variants.
///
/// `reason` strings must not contain recipient addresses or message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A temporary failure (network error, 5xx); the same send may succeed later.
    #[error("transient failure: {reason}")]
    Transient {
        /// Short, log-safe description.
        reason: String,
        /// Provider hint for when to retry.
        retry_after: Option<Duration>,
    },
    /// The provider throttled us (HTTP 429 or equivalent); slow down the whole channel.
    #[error("rate limited by provider")]
    RateLimited {
        /// Provider hint for when to resume, typically from `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// This message can never be delivered (invalid recipient, content rejected).
    #[error("permanent failure: {reason}")]
    Permanent {
        /// Short, log-safe description.
        reason: String,
        /// The recipient no longer exists or blocked us; the subscription should be ended.
        recipient_gone: bool,
    },
    /// The receiving side refused this message by policy (spam filter,
    /// sender authentication such as DMARC), not because of the recipient:
    /// not retried, and not counted as a bounce against the address.
    #[error("refused by policy: {reason}")]
    Refused {
        /// Short, log-safe description.
        reason: String,
    },
    /// The recipient's chat has a new address (a Telegram group upgraded to
    /// a supergroup): the engine stores `new_address` for the subscriber and
    /// sends again. Not a failure of the recipient.
    #[error("the chat moved to a new address")]
    Moved {
        /// The address to use from now on (a group's id, not a person's).
        new_address: String,
    },
    /// The channel itself is misconfigured (bad credentials, unknown sender id).
    #[error("channel misconfigured: {reason}")]
    Misconfigured {
        /// Short, log-safe description.
        reason: String,
    },
}

/// What the delivery engine should do after a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Retry this message, after the given delay or the engine's own backoff.
    Retry {
        /// Minimum delay before the retry, if the provider said so.
        after: Option<Duration>,
    },
    /// Pause the whole channel, then retry this message.
    BackOff {
        /// Minimum pause, if the provider said so.
        after: Option<Duration>,
    },
    /// Keep this message queued and pause the whole channel until an
    /// administrator fixes its configuration; nothing is lost meanwhile.
    Hold,
    /// Do not retry this message.
    GiveUp {
        /// The recipient is gone; the engine ends the subscription.
        recipient_gone: bool,
    },
}

/// What a failure the provider reports after taking a message (a
/// `failed` status webhook) means for the delivery: the same classes as a
/// failed send, in a form that is stored with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "then", rename_all = "snake_case")]
pub enum LateFailure {
    /// Do not send it again; `recipient_gone` ends the subscription.
    GiveUp {
        /// The recipient is gone or refuses the town's messages.
        recipient_gone: bool,
    },
    /// Send it again after this many seconds.
    Retry {
        /// Delay before the next attempt.
        after_seconds: u64,
    },
    /// The recipient's conversation window closed before the message
    /// arrived: send it again the way that needs none (WhatsApp's
    /// template).
    WindowClosed,
    /// The channel is misconfigured: hold it for an administrator and send
    /// the message again once it is resumed.
    Hold,
}

impl LateFailure {
    /// The late form of a send error's disposition (a retry without the
    /// provider's hint waits `default_retry`).
    pub fn from_error(error: &SendError, default_retry: Duration) -> Self {
        match error.disposition() {
            Disposition::Retry { after } | Disposition::BackOff { after } => LateFailure::Retry {
                after_seconds: after.unwrap_or(default_retry).as_secs().max(1),
            },
            Disposition::Hold => LateFailure::Hold,
            Disposition::GiveUp { recipient_gone } => LateFailure::GiveUp { recipient_gone },
        }
    }
}

impl SendError {
    /// Maps the error to the engine's reaction.
    ///
    /// [`SendError::Misconfigured`] yields [`Disposition::Hold`]: every further
    /// send would fail the same way, so the channel pauses and the message
    /// waits for an administrator instead of being marked failed.
    pub fn disposition(&self) -> Disposition {
        match self {
            SendError::Transient { retry_after, .. } => Disposition::Retry {
                after: *retry_after,
            },
            SendError::RateLimited { retry_after } => Disposition::BackOff {
                after: *retry_after,
            },
            SendError::Permanent { recipient_gone, .. } => Disposition::GiveUp {
                recipient_gone: *recipient_gone,
            },
            SendError::Refused { .. } => Disposition::GiveUp {
                recipient_gone: false,
            },
            SendError::Moved { .. } => Disposition::Retry {
                after: Some(Duration::ZERO),
            },
            SendError::Misconfigured { .. } => Disposition::Hold,
        }
    }

    /// Whether this failure counts as a bounce against the recipient's
    /// address: a permanent refusal because of the recipient, not of us.
    pub fn is_bounce(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }

    /// Whether the engine must pause the channel until an administrator intervenes.
    pub fn pauses_channel(&self) -> bool {
        matches!(self, SendError::Misconfigured { .. })
    }

    /// Shorthand for a [`SendError::Transient`] without retry hint.
    pub fn transient(reason: impl Into<String>) -> Self {
        SendError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// Shorthand for a [`SendError::Permanent`] where the recipient still exists.
    pub fn permanent(reason: impl Into<String>) -> Self {
        SendError::Permanent {
            reason: reason.into(),
            recipient_gone: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        let d = Some(Duration::from_secs(5));
        assert_eq!(
            SendError::Transient {
                reason: "x".into(),
                retry_after: d
            }
            .disposition(),
            Disposition::Retry { after: d }
        );
        assert_eq!(
            SendError::RateLimited { retry_after: None }.disposition(),
            Disposition::BackOff { after: None }
        );
        assert_eq!(
            SendError::Permanent {
                reason: "blocked".into(),
                recipient_gone: true
            }
            .disposition(),
            Disposition::GiveUp {
                recipient_gone: true
            }
        );
        let mis = SendError::Misconfigured {
            reason: "bad token".into(),
        };
        assert_eq!(mis.disposition(), Disposition::Hold);
        assert!(mis.pauses_channel());
        assert!(!SendError::transient("x").pauses_channel());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            SendError::permanent("invalid number").to_string(),
            "permanent failure: invalid number"
        );
        assert_eq!(
            SendError::RateLimited { retry_after: None }.to_string(),
            "rate limited by provider"
        );
    }
}
