//! Mapping SMTP outcomes onto [`SendError`].
//!
//! lettre's error type cannot be constructed outside lettre, so the mapping
//! happens in two steps: [`classify`] reduces a lettre error to an
//! [`SmtpFailure`] (pure data), and [`map_failure`] decides the
//! [`SendError`]. The second step is what the unit tests cover.
//!
//! Reasons are short and log-safe: they contain reply codes, never the
//! server's reply text (which often quotes the recipient address).

use std::error::Error as _;

use herold_channel_api::SendError;
use lettre::transport::smtp::Error as SmtpError;

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// Class: 2, 4 or 5.
    pub class: u8,
    /// Subject: 1 = address, 2 = mailbox, 7 = security/policy, ….
    pub subject: u16,
    /// Detail within the subject.
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses the first word of an SMTP reply text, e.g. `5.1.1` in
    /// `550 5.1.1 no such user`.
    pub fn parse_prefix(text: &str) -> Option<Self> {
        let word = text.split_whitespace().next()?;
        let mut it = word.split('.');
        let class = it.next()?.parse::<u8>().ok()?;
        let subject = it.next()?.parse::<u16>().ok()?;
        let detail = it.next()?.parse::<u16>().ok()?;
        if it.next().is_some() || !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self {
            class,
            subject,
            detail,
        })
    }
}

/// What went wrong while talking to the SMTP server, reduced to what matters
/// for the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpFailure {
    /// The server answered with a negative reply code (4xx or 5xx).
    Reply {
        /// Three-digit reply code, e.g. 550.
        code: u16,
        /// Enhanced status code from the reply text, if any.
        enhanced: Option<EnhancedCode>,
    },
    /// Connecting or a command timed out.
    Timeout,
    /// TLS could not be set up.
    Tls,
    /// The TCP connection could not be established (refused, unreachable, DNS).
    Connection,
    /// The connection broke while talking.
    Network,
    /// The server's reply could not be parsed.
    Malformed,
    /// The transport was shut down.
    Shutdown,
    /// The recipient address needs `SMTPUTF8`, which the server lacks.
    NeedsSmtpUtf8,
    /// The message needs `8BITMIME`, which the server lacks.
    Needs8BitMime,
    /// lettre refused on its own: no usable AUTH mechanism, `STARTTLS` not
    /// offered, connection not encrypted.
    ClientSetup,
}

/// Reduces a lettre SMTP error to an [`SmtpFailure`].
pub fn classify(err: &SmtpError) -> SmtpFailure {
    if let Some(code) = err.status() {
        let enhanced = err
            .source()
            .and_then(|s| EnhancedCode::parse_prefix(&s.to_string()));
        return SmtpFailure::Reply {
            code: u16::from(code),
            enhanced,
        };
    }
    if err.is_timeout() {
        return SmtpFailure::Timeout;
    }
    if err.is_tls() {
        return SmtpFailure::Tls;
    }
    if err.is_transport_shutdown() {
        return SmtpFailure::Shutdown;
    }
    if err.is_response() {
        return SmtpFailure::Malformed;
    }
    if err.is_client() {
        // lettre's client errors are fixed strings, never user data.
        let text = err.source().map(|s| s.to_string()).unwrap_or_default();
        return if text.contains("SMTPUTF8") {
            SmtpFailure::NeedsSmtpUtf8
        } else if text.contains("8BITMIME") {
            SmtpFailure::Needs8BitMime
        } else if text.contains("Unknown error code") {
            SmtpFailure::Malformed
        } else {
            SmtpFailure::ClientSetup
        };
    }
    // lettre reports refused/unreachable connections and failed TLS
    // handshakes as connection errors, broken streams as network errors;
    // both only expose the kind through Display.
    if err.to_string().starts_with("Connection error") {
        SmtpFailure::Connection
    } else {
        SmtpFailure::Network
    }
}

/// Decides how the engine reacts to an SMTP failure.
///
/// * 4xx → [`SendError::Transient`] (greylisting, full queue, server busy).
/// * 530/534/535/538 (authentication) → [`SendError::Misconfigured`].
/// * 550/551/553 (mailbox unavailable, user not local, mailbox name not
///   allowed) → [`SendError::Permanent`] with `recipient_gone: true`, unless
///   the enhanced status code says the rejection is about something else
///   than the address: `5.7.x` (policy/spam), `5.2.2` (mailbox full),
///   `5.3.x`/`5.6.x` (system/content) keep the subscription, and
///   `5.1.7`/`5.1.8` (our sender address) is a misconfiguration.
/// * `5.7.x` (policy: spam filter, DMARC, relaying) with any 5xx code →
///   [`SendError::Refused`]: not the recipient's fault, so no bounce.
/// * other 5xx → [`SendError::Permanent`] with `recipient_gone: false`.
/// * timeouts, refused connections, TLS and network failures →
///   [`SendError::Transient`]: the server is down, nothing is lost, the
///   engine retries.
/// * lettre refusing to proceed (no AUTH mechanism, no STARTTLS) →
///   [`SendError::Misconfigured`].
pub fn map_failure(f: SmtpFailure) -> SendError {
    match f {
        SmtpFailure::Reply { code, enhanced } => map_reply(code, enhanced),
        SmtpFailure::Timeout => SendError::transient("smtp timeout"),
        SmtpFailure::Tls => SendError::transient("smtp tls failure"),
        SmtpFailure::Connection => SendError::transient("smtp connection failed"),
        SmtpFailure::Network => SendError::transient("smtp connection broken"),
        SmtpFailure::Malformed => SendError::transient("unparsable smtp reply"),
        SmtpFailure::Shutdown => SendError::transient("smtp transport shut down"),
        SmtpFailure::NeedsSmtpUtf8 => SendError::permanent(
            "recipient address is internationalized but the server lacks SMTPUTF8",
        ),
        SmtpFailure::Needs8BitMime => {
            SendError::permanent("message needs 8BITMIME which the server lacks")
        }
        SmtpFailure::ClientSetup => SendError::Misconfigured {
            reason: "smtp session setup refused (auth mechanism or STARTTLS unavailable)"
                .to_owned(),
        },
    }
}

/// Maps lettre's error in one step: [`classify`] then [`map_failure`].
pub fn map_smtp_error(err: &SmtpError) -> SendError {
    map_failure(classify(err))
}

fn map_reply(code: u16, enhanced: Option<EnhancedCode>) -> SendError {
    let label = match enhanced {
        Some(e) => format!("smtp {code} {}.{}.{}", e.class, e.subject, e.detail),
        None => format!("smtp {code}"),
    };
    match code {
        400..=499 => SendError::transient(format!("{label}: temporarily rejected")),
        530 | 534 | 535 | 538 => SendError::Misconfigured {
            reason: format!("{label}: authentication failed or required"),
        },
        550 | 551 | 553 => match enhanced.map(|e| (e.subject, e.detail)) {
            Some((1, 7 | 8)) => SendError::Misconfigured {
                reason: format!("{label}: sender address rejected"),
            },
            Some((7, _)) => SendError::Refused {
                reason: format!("{label}: refused by policy"),
            },
            None | Some((1, _)) | Some((2, 1)) => SendError::Permanent {
                reason: format!("{label}: mailbox unavailable"),
                recipient_gone: true,
            },
            Some(_) => SendError::permanent(format!("{label}: rejected")),
        },
        500..=599 if enhanced.is_some_and(|e| e.subject == 7) => SendError::Refused {
            reason: format!("{label}: refused by policy"),
        },
        500..=599 => SendError::permanent(format!("{label}: rejected")),
        _ => SendError::transient(format!("{label}: unexpected reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, enhanced: &str) -> SendError {
        map_failure(SmtpFailure::Reply {
            code,
            enhanced: EnhancedCode::parse_prefix(enhanced),
        })
    }

    fn gone(e: &SendError) -> Option<bool> {
        match e {
            SendError::Permanent { recipient_gone, .. } => Some(*recipient_gone),
            _ => None,
        }
    }

    #[test]
    fn parses_enhanced_codes() {
        assert_eq!(
            EnhancedCode::parse_prefix("5.1.1 no such user"),
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(
            EnhancedCode::parse_prefix("4.7.10 greylisted").map(|e| e.detail),
            Some(10)
        );
        for no in ["", "no such user", "5.1", "5.1.1.1", "3.1.1 x", "5.x.1"] {
            assert_eq!(EnhancedCode::parse_prefix(no), None, "{no:?}");
        }
    }

    #[test]
    fn mailbox_gone() {
        for (code, enh) in [
            (550, ""),
            (551, ""),
            (553, ""),
            (550, "5.1.1 no such user"),
            (550, "5.2.1 mailbox disabled"),
            (553, "5.1.3 bad address syntax"),
        ] {
            assert_eq!(gone(&reply(code, enh)), Some(true), "{code} {enh}");
        }
    }

    #[test]
    fn permanent_but_not_gone() {
        for (code, enh) in [
            (550, "5.2.2 mailbox full"),
            (550, "5.6.0 content rejected"),
            (552, ""),
            (554, ""),
            (500, ""),
            (501, ""),
            (503, ""),
        ] {
            assert_eq!(gone(&reply(code, enh)), Some(false), "{code} {enh}");
        }
    }

    #[test]
    fn policy_refusals_are_no_bounces() {
        for (code, enh) in [
            (550, "5.7.1 message rejected as spam"),
            (554, "5.7.1 blocked"),
            (550, "5.7.26 unauthenticated mail is prohibited (DMARC)"),
        ] {
            let e = reply(code, enh);
            assert!(matches!(e, SendError::Refused { .. }), "{code} {enh}");
            assert!(!e.is_bounce(), "{code} {enh}");
        }
        assert!(reply(550, "5.1.1 no such user").is_bounce());
        assert!(reply(552, "5.2.2 mailbox full").is_bounce());
    }

    #[test]
    fn auth_and_sender_problems_are_misconfiguration() {
        for (code, enh) in [
            (535, "5.7.8 authentication credentials invalid"),
            (530, "5.7.0 authentication required"),
            (534, ""),
            (538, ""),
            (553, "5.1.8 sender domain does not exist"),
            (550, "5.1.7 bad sender address"),
        ] {
            assert!(
                matches!(reply(code, enh), SendError::Misconfigured { .. }),
                "{code} {enh}"
            );
        }
        assert!(matches!(
            map_failure(SmtpFailure::ClientSetup),
            SendError::Misconfigured { .. }
        ));
    }

    #[test]
    fn temporary_replies_and_outages_are_transient() {
        for code in [421, 450, 451, 452] {
            assert!(
                matches!(reply(code, "4.3.0 try later"), SendError::Transient { .. }),
                "{code}"
            );
        }
        for f in [
            SmtpFailure::Timeout,
            SmtpFailure::Tls,
            SmtpFailure::Connection,
            SmtpFailure::Network,
            SmtpFailure::Malformed,
            SmtpFailure::Shutdown,
        ] {
            assert!(
                matches!(map_failure(f), SendError::Transient { .. }),
                "{f:?}"
            );
        }
    }

    #[test]
    fn reasons_carry_codes_only() {
        let e = reply(550, "5.1.1 <max@example.org>: no such user");
        assert_eq!(
            e.to_string(),
            "permanent failure: smtp 550 5.1.1: mailbox unavailable"
        );
        let e = reply(451, "");
        assert_eq!(
            e.to_string(),
            "transient failure: smtp 451: temporarily rejected"
        );
        assert!(matches!(
            map_failure(SmtpFailure::NeedsSmtpUtf8),
            SendError::Permanent {
                recipient_gone: false,
                ..
            }
        ));
    }
}
