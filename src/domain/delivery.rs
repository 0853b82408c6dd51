use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;

use super::{DomainError, Id};

/// The life of one announcement on its way to one recipient or follow target.
///
/// ```text
/// queued → sending → sent → delivered → read
///    │        │  ╲
///    │        │   → queued (retry)
///    ↓        ↓
/// skipped   failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
    Skipped,
}

impl DeliveryState {
    /// All states, in lifecycle order.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Failed,
        Self::Skipped,
    ];

    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| DomainError::Invalid {
                field: "delivery state",
                value: s.to_owned(),
                expected: "queued, sending, sent, delivered, read, failed or skipped",
            })
    }

    /// Whether nothing more will happen to the delivery on our side.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Read | Self::Failed | Self::Skipped)
    }

    /// Whether the state machine allows going from `self` to `next`.
    /// Provider receipts may arrive out of order, so a later receipt state
    /// may skip an earlier one (sent → read).
    pub fn can_become(self, next: Self) -> bool {
        use DeliveryState::*;
        matches!(
            (self, next),
            (Queued, Sending)
                | (Queued, Skipped)
                | (Queued, Failed)
                | (Sending, Sent)
                | (Sending, Queued)
                | (Sending, Failed)
                | (Sending, Skipped)
                | (Sent, Delivered)
                | (Sent, Read)
                | (Sent, Failed)
                | (Delivered, Read)
        )
    }

    /// Checks a transition.
    pub fn transition(self, next: Self) -> Result<Self, DomainError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::Transition {
                what: "delivery",
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

/// One delivery of one announcement to one subscriber or follow target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Id,
    pub announcement_id: Id,
    pub channel: ChannelKind,
    /// Set for push deliveries to a subscriber.
    pub subscriber_id: Option<Id>,
    /// Set for deliveries to a follow target (channel, room, feed).
    pub target: Option<String>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub announcement_id: Id,
    pub channel: ChannelKind,
    pub subscriber_id: Option<Id>,
    pub target: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::DeliveryState::*;

    #[test]
    fn transitions() {
        assert!(Queued.transition(Sending).is_ok());
        assert!(Sending.transition(Sent).is_ok());
        assert!(Sent.transition(Read).is_ok());
        assert!(Sending.transition(Queued).is_ok());
        assert!(Read.transition(Delivered).is_err());
        assert!(Failed.transition(Sending).is_err());
        assert!(Queued.transition(Sent).is_err());
        for s in super::DeliveryState::ALL {
            assert_eq!(super::DeliveryState::parse(s.as_str()), Ok(s));
        }
    }
}
