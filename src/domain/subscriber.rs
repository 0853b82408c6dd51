use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;
use std::fmt;

use super::{DomainError, Id};

/// One address on one channel. The address itself lives only encrypted in
/// storage; staff see the [`Pseudonym`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: Id,
    pub channel: ChannelKind,
    pub pseudonym: Pseudonym,
    pub locale: String,
    pub status: SubscriberStatus,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Lifecycle of a subscriber.
///
/// ```text
/// pending → active ⇄ unsubscribed
///    │                  ↑
///    └──────────────────┘
/// any of them → erased (final)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Signed up, confirmation (double opt-in) outstanding.
    Pending,
    /// Confirmed; receives announcements.
    Active,
    /// Left with STOP; kept for the consent record, receives nothing.
    Unsubscribed,
    /// Erased on request: address and pseudonym gone.
    Erased,
}

impl SubscriberStatus {
    /// Storage and display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Erased => "erased",
        }
    }

    /// Whether the state machine allows going from `self` to `next`:
    /// confirming (again) makes a subscriber active, leaving ends it, and
    /// erasure is final.
    pub fn can_become(self, next: Self) -> bool {
        use SubscriberStatus::*;
        matches!(
            (self, next),
            (Pending, Active)
                | (Pending, Unsubscribed)
                | (Active, Unsubscribed)
                | (Unsubscribed, Active)
                | (Pending | Active | Unsubscribed, Erased)
        )
    }

    /// Checks a transition.
    pub fn transition(self, next: Self) -> Result<Self, DomainError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::Transition {
                what: "subscriber",
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "unsubscribed" => Self::Unsubscribed,
            "erased" => Self::Erased,
            _ => {
                return Err(DomainError::Invalid {
                    field: "subscriber status",
                    value: s.to_owned(),
                    expected: "pending, active, unsubscribed or erased",
                })
            }
        })
    }
}

/// A short code that identifies a subscriber to staff without revealing the
/// address, e.g. `K7Q-2MXA` (32^7 codes: collisions stay rare even with a
/// million subscribers, and are retried).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// Characters used: Crockford base32 without look-alikes (no I, L, O, U).
    const ALPHABET: &'static [u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// A fresh random code.
    pub fn random(rng: &mut impl rand::Rng) -> Self {
        let mut s = String::with_capacity(8);
        for i in 0..7 {
            if i == 3 {
                s.push('-');
            }
            let idx = rng.gen_range(0..Self::ALPHABET.len());
            s.push(char::from(Self::ALPHABET[idx]));
        }
        Self(s)
    }

    /// Wraps a code read from storage.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subscriber's interest in one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub subscriber_id: Id,
    pub category_id: Id,
    pub created_at: DateTime<Utc>,
}

/// Brings an address into the one form used for lookup, so the same person
/// is found whatever way they typed it.
pub fn normalize_address(channel: ChannelKind, raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DomainError::Empty { field: "address" });
    }
    let invalid = |expected| DomainError::Invalid {
        field: "address",
        // The value is personal data; do not echo it.
        value: "<hidden>".to_owned(),
        expected,
    };
    match channel {
        ChannelKind::Email => {
            let lower = s.to_lowercase();
            let (local, domain) = lower
                .split_once('@')
                .ok_or_else(|| invalid("an e-mail address like name@example.org"))?;
            if local.is_empty()
                || !domain.contains('.')
                || domain.contains('@')
                || lower.contains(char::is_whitespace)
            {
                return Err(invalid("an e-mail address like name@example.org"));
            }
            Ok(lower)
        }
        ChannelKind::WhatsApp => {
            let digits: String = s
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '/'))
                .collect();
            let digits = digits.strip_prefix('+').unwrap_or(&digits);
            if digits.len() < 7 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(invalid(
                    "a phone number in international format like +49 151 2345678",
                ));
            }
            Ok(format!("+{digits}"))
        }
        ChannelKind::Telegram => {
            if !s
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit())
            {
                return Err(invalid("a numeric Telegram chat id"));
            }
            Ok(s.to_owned())
        }
        // The resident's direct chat with the bot: Herold sends there and
        // never needs their user id. Room version 12 ids have no server
        // part (`!` and a hash), older ones do (`!opaque:server`).
        ChannelKind::Matrix => {
            if !s.starts_with('!')
                || s.len() < 2
                || s.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid(
                    "the room id of a direct chat with the bot, like !abc123:example.org",
                ));
            }
            Ok(s.to_owned())
        }
        ChannelKind::Feed => Err(invalid("no address: feeds are read anonymously")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_shape() {
        let p = Pseudonym::random(&mut rand::thread_rng());
        assert_eq!(p.as_str().len(), 8);
        assert_eq!(&p.as_str()[3..4], "-");
    }

    #[test]
    fn status_transitions() {
        use SubscriberStatus::*;
        assert_eq!(Pending.transition(Active), Ok(Active));
        assert_eq!(Pending.transition(Unsubscribed), Ok(Unsubscribed));
        assert_eq!(Active.transition(Unsubscribed), Ok(Unsubscribed));
        assert_eq!(Unsubscribed.transition(Active), Ok(Active));
        for from in [Pending, Active, Unsubscribed] {
            assert_eq!(from.transition(Erased), Ok(Erased));
        }
        assert_eq!(
            Active.transition(Active),
            Err(DomainError::Transition {
                what: "subscriber",
                from: "active",
                to: "active",
            })
        );
        for refused in [
            (Active, Pending),
            (Unsubscribed, Pending),
            (Unsubscribed, Unsubscribed),
            (Pending, Pending),
            (Erased, Active),
            (Erased, Pending),
            (Erased, Unsubscribed),
            (Erased, Erased),
        ] {
            assert!(
                refused.0.transition(refused.1).is_err(),
                "{refused:?} must be refused"
            );
        }
        for s in [Pending, Active, Unsubscribed, Erased] {
            assert_eq!(SubscriberStatus::parse(s.as_str()), Ok(s));
        }
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize_address(ChannelKind::Email, " Anna@Example.ORG ").as_deref(),
            Ok("anna@example.org")
        );
        assert_eq!(
            normalize_address(ChannelKind::WhatsApp, "+49 151 234-5678").as_deref(),
            Ok("+491512345678")
        );
        assert!(normalize_address(ChannelKind::Email, "nope").is_err());
        assert!(normalize_address(ChannelKind::Feed, "x").is_err());
    }
}
