//! Cloud API error codes mapped onto [`SendError`].
//!
//! Meta answers a refused request with HTTP 400 (or 401, 5xx) and
//! `{"error":{"message","type","code","error_subcode","error_data":{"details"}}}`,
//! and reports many failures only later, in a `failed` status webhook
//! (`statuses[].errors[].code`). Both go through [`from_code`]: the code
//! decides, not the HTTP status (throttling comes as 400, not 429).
//!
//! | code | meaning | error |
//! |---|---|---|
//! | 130429 | throughput reached | [`SendError::RateLimited`] for 2 s: the channel backs off |
//! | 80007 | account rate limit | [`SendError::RateLimited`] for 60 s |
//! | 131056 | pair rate (same number too often) | [`SendError::Transient`] after the pair spacing: only this resident waits |
//! | 131047 | 24-hour window closed | [`Outcome::WindowClosed`]: sent again as the template |
//! | 131026 | undeliverable (no WhatsApp, old app, terms not accepted) | [`SendError::Permanent`] |
//! | 131050 | the resident stopped marketing messages | [`SendError::Permanent`], recipient gone: the subscription is withdrawn |
//! | 131048 | spam rate limit | [`SendError::RateLimited`] for 15 min: the channel pauses |
//! | 131049 | held back for ecosystem health | [`SendError::Refused`]: given up for now, no retry storm |
//! | 190, 368, 131031, 131042, 133010, 10, 200, 3, 100/33 | token, block, locked account, payment, unregistered number, permissions, wrong phone number id | [`SendError::Misconfigured`]: the channel is held for staff |
//! | 132000–132999 | template missing, paused or filled wrongly | [`SendError::Misconfigured`] |
//! | 1, 2, 131000, 131016, 5xx | Meta's side | [`SendError::Transient`] |
//! | other | the message was refused | [`SendError::Permanent`] |
//!
//! Reasons carry Meta's code and title, never a number or a text.

use std::time::Duration;

use herold_channel_api::SendError;
use serde::Deserialize;

/// Longest piece of Meta's wording copied into a reason.
const MAX_DETAIL_CHARS: usize = 160;

/// The `error` object of a refused request.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    error: ApiError,
}

/// What a failure means for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Free text was refused because the resident has not written for 24
    /// hours: send the template instead.
    WindowClosed,
    /// Anything else, as the engine handles it.
    Error(SendError),
}

/// Maps a refused request — its HTTP status and body — given the pair
/// spacing the channel keeps.
pub fn from_response(status: u16, body: &[u8], pair_spacing: Duration) -> Outcome {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { error }) if error.code.is_some() => from_code(
            error.code.unwrap_or_default(),
            error.error_subcode,
            &error.message,
            pair_spacing,
        ),
        _ => Outcome::Error(match status {
            401 | 403 => SendError::Misconfigured {
                reason: format!("WhatsApp refused the access token (HTTP {status})"),
            },
            404 => SendError::Misconfigured {
                reason: "WhatsApp does not know whatsapp.phone_number_id or api_version (HTTP 404)"
                    .into(),
            },
            500..=599 => SendError::transient(format!("WhatsApp server error (HTTP {status})")),
            429 => SendError::RateLimited { retry_after: None },
            _ => SendError::permanent(format!("WhatsApp refused the message (HTTP {status})")),
        }),
    }
}

/// Maps one Cloud API error code (with its subcode and Meta's title or
/// message), from a send's answer or a `failed` status alike.
pub fn from_code(
    code: i64,
    subcode: Option<i64>,
    message: &str,
    pair_spacing: Duration,
) -> Outcome {
    let what = describe(code, message);
    let error = match code {
        131047 => return Outcome::WindowClosed,
        130429 => SendError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        },
        80007 => SendError::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
        },
        131048 => SendError::RateLimited {
            retry_after: Some(Duration::from_secs(15 * 60)),
        },
        131056 => SendError::Transient {
            reason: what,
            retry_after: Some(pair_spacing),
        },
        131050 => SendError::Permanent {
            reason: format!("{what}: the resident stopped messages from the town on WhatsApp"),
            recipient_gone: true,
        },
        131026 => SendError::Permanent {
            reason: format!("{what}: the number cannot receive WhatsApp messages"),
            recipient_gone: false,
        },
        131049 => SendError::Refused { reason: what },
        100 if subcode == Some(33) => SendError::Misconfigured {
            reason: format!("{what}: check whatsapp.phone_number_id and the token's permissions"),
        },
        190 => SendError::Misconfigured {
            reason: format!(
                "{what}: the access token is invalid or expired; set a new whatsapp.access_token"
            ),
        },
        368 | 131031 | 131042 | 133010 | 10 | 200 | 3 => SendError::Misconfigured {
            reason: format!("{what}: the business account cannot send; see WhatsApp Manager"),
        },
        132000..=132999 => SendError::Misconfigured {
            reason: format!("{what}: check whatsapp.templates against the approved templates"),
        },
        1 | 2 | 131000 | 131016 => SendError::transient(what),
        _ => SendError::permanent(what),
    };
    Outcome::Error(error)
}

/// `WhatsApp error 131026 (Message Undeliverable)`, Meta's wording cut to
/// a safe length (it names codes and rules, never numbers or texts).
fn describe(code: i64, message: &str) -> String {
    let cut: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DETAIL_CHARS)
        .collect();
    if cut.is_empty() {
        format!("WhatsApp error {code}")
    } else {
        format!("WhatsApp error {code} ({cut})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::Disposition;

    const SIX: Duration = Duration::from_secs(6);

    fn meta(code: i64, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atrace"}})
            .to_string()
            .into_bytes()
    }

    fn disposition(status: u16, code: i64) -> Disposition {
        match from_response(status, &meta(code, "x"), SIX) {
            Outcome::Error(e) => e.disposition(),
            Outcome::WindowClosed => panic!("{code}: window"),
        }
    }

    #[test]
    fn each_code_has_its_disposition() {
        assert_eq!(
            disposition(400, 130429),
            Disposition::BackOff {
                after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            disposition(400, 131056),
            Disposition::Retry { after: Some(SIX) }
        );
        assert_eq!(
            disposition(400, 131026),
            Disposition::GiveUp {
                recipient_gone: false
            }
        );
        assert_eq!(
            disposition(400, 131050),
            Disposition::GiveUp {
                recipient_gone: true
            }
        );
        assert_eq!(
            disposition(400, 131048),
            Disposition::BackOff {
                after: Some(Duration::from_secs(900))
            }
        );
        assert_eq!(
            disposition(400, 131049),
            Disposition::GiveUp {
                recipient_gone: false
            }
        );
        for hold in [190, 368, 131031, 132000, 132001, 132018] {
            assert_eq!(disposition(400, hold), Disposition::Hold, "{hold}");
        }
        assert_eq!(disposition(401, 190), Disposition::Hold);
        assert_eq!(disposition(500, 131000), Disposition::Retry { after: None });
        assert_eq!(disposition(503, 2), Disposition::Retry { after: None });
        assert_eq!(
            disposition(400, 131051),
            Disposition::GiveUp {
                recipient_gone: false
            }
        );
        assert_eq!(
            from_response(400, &meta(131047, "Re-engagement message"), SIX),
            Outcome::WindowClosed
        );
    }

    #[test]
    fn the_code_decides_not_the_status() {
        // Meta throttles with HTTP 400.
        assert!(matches!(
            from_response(400, &meta(130429, "(#130429) Rate limit hit"), SIX),
            Outcome::Error(SendError::RateLimited { .. })
        ));
        // A wrong phone number id is the operator's to fix.
        let body = serde_json::json!({"error": {"message": "Unsupported post request.", "code": 100, "error_subcode": 33}});
        assert!(matches!(
            from_response(400, body.to_string().as_bytes(), SIX),
            Outcome::Error(SendError::Misconfigured { .. })
        ));
    }

    #[test]
    fn answers_without_a_code_go_by_status() {
        for (status, expected) in [
            (502, Disposition::Retry { after: None }),
            (401, Disposition::Hold),
            (404, Disposition::Hold),
            (
                400,
                Disposition::GiveUp {
                    recipient_gone: false,
                },
            ),
        ] {
            match from_response(status, b"<html>Bad Gateway</html>", SIX) {
                Outcome::Error(e) => assert_eq!(e.disposition(), expected, "{status}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn reasons_carry_the_code_and_a_short_title() {
        let long = "x".repeat(1000);
        let Outcome::Error(e) = from_response(400, &meta(131026, &long), SIX) else {
            panic!()
        };
        let text = e.to_string();
        assert!(text.contains("WhatsApp error 131026"), "{text}");
        assert!(text.len() < 400, "{text}");
    }
}
