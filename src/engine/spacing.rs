//! Per-recipient rate limits (Telegram: one message per second per chat;
//! WhatsApp: a pair rate limit per user), on top of the channel-wide bucket.
//!
//! Kept in the worker's memory: a broadcast reaches each recipient once, so
//! two messages for one recipient within the gap are rare (an urgent
//! warning overtaking a normal announcement, a digest). Across several
//! worker processes the gap holds per process; a collision between
//! processes gets the provider's own per-chat refusal, which the adapter
//! reports as a transient error with the provider's retry delay.

use herold_channel_api::RateLimit;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::domain::Id;

/// Entries kept before old ones are pruned.
const PRUNE_AT: usize = 50_000;

/// The minimum gap between two messages to one recipient.
pub(super) struct Spacing {
    gap: Duration,
    last: Mutex<HashMap<Id, Instant>>,
}

impl Spacing {
    /// `None` when the channel has no per-recipient limit.
    pub(super) fn new(limit: Option<RateLimit>) -> Option<Self> {
        let limit = limit.filter(|l| l.per_second > 0.0 && l.per_second.is_finite())?;
        Some(Self {
            gap: Duration::from_secs_f64(1.0 / limit.per_second),
            last: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `subscriber` may get a message at `now` (then it is recorded
    /// as sent now), or how long to wait.
    pub(super) fn admit(&self, subscriber: Id, now: Instant) -> Result<(), Duration> {
        let Ok(mut last) = self.last.lock() else {
            // A panicked holder: let the provider enforce its limit.
            return Ok(());
        };
        if let Some(at) = last.get(&subscriber) {
            let since = now.saturating_duration_since(*at);
            if since < self.gap {
                return Err(self.gap - since);
            }
        }
        if last.len() >= PRUNE_AT {
            let gap = self.gap;
            last.retain(|_, at| now.saturating_duration_since(*at) < gap);
        }
        last.insert(subscriber, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_second_per_recipient() {
        let s = Spacing::new(Some(RateLimit::new(1.0, 1))).unwrap();
        let t0 = Instant::now();
        assert_eq!(s.admit(1, t0), Ok(()));
        assert_eq!(s.admit(2, t0), Ok(()), "other recipients are not held");
        let wait = s.admit(1, t0 + Duration::from_millis(300)).unwrap_err();
        assert_eq!(wait, Duration::from_millis(700));
        assert_eq!(s.admit(1, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn no_limit_no_spacing() {
        assert!(Spacing::new(None).is_none());
    }

    #[test]
    fn pruning_keeps_recent_entries() {
        let s = Spacing::new(Some(RateLimit::new(1.0, 1))).unwrap();
        let t0 = Instant::now();
        for id in 0..PRUNE_AT as i64 {
            s.admit(id, t0).unwrap();
        }
        // Triggers pruning: nothing is old yet, so the gap still holds.
        s.admit(-1, t0 + Duration::from_millis(10)).unwrap();
        assert!(s.admit(5, t0 + Duration::from_millis(20)).is_err());
        // After the gap, old entries go at the next prune.
        s.admit(-2, t0 + Duration::from_secs(2)).unwrap();
        assert!(s.last.lock().unwrap().len() < 10);
    }
}
