//! The webhook: the secret-token header, then the `Update`.

use std::fmt;

use herold_channel_api::{
    InboundError, InboundEvent, InboundParser, InboundRequest, InboundVerifier,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::update::parse_update;

/// The header Telegram sends the webhook's `secret_token` in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Verifies and parses Telegram's webhook requests (`setWebhook` with
/// `secret_token` = `telegram.webhook_secret`).
///
/// Telegram has no `GET` handshake. `Debug` hides the secret.
pub struct TelegramWebhook {
    secret: Zeroizing<String>,
}

impl fmt::Debug for TelegramWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TelegramWebhook(<redacted>)")
    }
}

impl TelegramWebhook {
    /// A webhook expecting `secret` in [`SECRET_HEADER`].
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: Zeroizing::new(secret.into()),
        }
    }
}

impl InboundVerifier for TelegramWebhook {
    /// Compares the header with the secret in constant time (only a length
    /// difference returns early, and the length is no secret worth keeping).
    fn verify(&self, req: &InboundRequest) -> Result<(), InboundError> {
        let given = req
            .headers
            .get(SECRET_HEADER)
            .ok_or(InboundError::MissingSignature)?;
        if bool::from(given.as_bytes().ct_eq(self.secret.as_bytes())) && !self.secret.is_empty() {
            Ok(())
        } else {
            Err(InboundError::BadSignature)
        }
    }
}

impl InboundParser for TelegramWebhook {
    /// The request's body is one `Update`, read by [`parse_update`] (the
    /// same reader long polling uses).
    fn parse(&self, req: &InboundRequest) -> Result<Vec<InboundEvent>, InboundError> {
        let update: serde_json::Value = serde_json::from_slice(&req.body)
            .map_err(|_| InboundError::Malformed("body is not a JSON object".into()))?;
        parse_update(&update)
    }
}
