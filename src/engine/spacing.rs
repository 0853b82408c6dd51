//! Per-recipient rate limits (Telegram: one message per second to a chat,
//! twenty a minute to a group or channel; WhatsApp: a pair rate limit per
//! user), on top of the channel-wide bucket.
//!
//! Kept in the worker's memory: a broadcast reaches each recipient once, so
//! two messages for one recipient within the gap are rare (an urgent
//! warning overtaking a normal announcement, a digest, posts to a public
//! channel in a row). Across several worker processes the gap holds per
//! process; a collision between processes gets the provider's own
//! refusal, which the adapter reports with the provider's retry delay.

use herold_channel_api::RateLimit;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::domain::Id;

/// Entries kept before old ones are pruned.
const PRUNE_AT: usize = 50_000;

/// Who a limit is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Recipient {
    /// A subscriber's chat.
    Subscriber(Id),
    /// A public place of follow mode.
    Place(String),
}

/// Each recipient's own limit, as a generic cell rate algorithm: a
/// recipient may take `burst` messages at once, then one per interval.
#[derive(Default)]
pub(super) struct Spacing {
    /// When each recipient's next message would be exactly on schedule
    /// (the "theoretical arrival time").
    next: Mutex<HashMap<Recipient, Instant>>,
}

impl Spacing {
    /// Whether `who` may get a message at `now` under `limit` (then it is
    /// counted), or how long to wait. No limit, or an unusable one, admits.
    pub(super) fn admit(
        &self,
        who: Recipient,
        limit: Option<RateLimit>,
        now: Instant,
    ) -> Result<(), Duration> {
        let Some(interval) = limit.as_ref().and_then(RateLimit::interval) else {
            return Ok(());
        };
        let burst = limit.map_or(1, |l| l.burst.max(1));
        let tolerance = interval * (burst - 1);
        let Ok(mut next) = self.next.lock() else {
            // A panicked holder: let the provider enforce its limit.
            return Ok(());
        };
        let tat = next.get(&who).copied().unwrap_or(now).max(now);
        let ahead = tat.saturating_duration_since(now);
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        if next.len() >= PRUNE_AT {
            next.retain(|_, at| *at > now);
        }
        next.insert(who, tat + interval);
        Ok(())
    }

    /// Records that a message to `who` actually went out at `at`, which may
    /// be later than its admission (a rate-limit token, the provider's
    /// answer): the next one waits a full interval from then.
    pub(super) fn sent(&self, who: Recipient, limit: Option<RateLimit>, at: Instant) {
        let Some(interval) = limit.as_ref().and_then(RateLimit::interval) else {
            return;
        };
        if let Ok(mut next) = self.next.lock() {
            let after = at + interval;
            let entry = next.entry(who).or_insert(after);
            *entry = (*entry).max(after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: Id) -> Recipient {
        Recipient::Subscriber(id)
    }

    #[test]
    fn one_per_second_per_recipient() {
        let s = Spacing::default();
        let limit = Some(RateLimit::new(1.0, 1));
        let t0 = Instant::now();
        assert_eq!(s.admit(chat(1), limit, t0), Ok(()));
        assert_eq!(s.admit(chat(2), limit, t0), Ok(()), "others are not held");
        let wait = s
            .admit(chat(1), limit, t0 + Duration::from_millis(300))
            .unwrap_err();
        assert_eq!(wait, Duration::from_millis(700));
        assert_eq!(s.admit(chat(1), limit, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn twenty_a_minute_to_a_group_never_more() {
        let s = Spacing::default();
        let group = Some(RateLimit::new(1.0 / 3.0, 1));
        let place = || Recipient::Place("@musterstadt".into());
        let t0 = Instant::now();
        let mut sent = Vec::new();
        let mut t = t0;
        while t < t0 + Duration::from_secs(120) {
            if s.admit(place(), group, t).is_ok() {
                sent.push(t);
            }
            t += Duration::from_millis(250);
        }
        // Any 60 seconds hold at most 20.
        for (i, start) in sent.iter().enumerate() {
            let within = sent[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < Duration::from_secs(60))
                .count();
            assert!(within <= 20, "{within} in a minute");
        }
        assert!(sent.len() >= 39, "{}", sent.len());
    }

    #[test]
    fn bursts_then_the_rate() {
        let s = Spacing::default();
        let limit = Some(RateLimit::new(1.0, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(s.admit(chat(1), limit, t0), Ok(()));
        }
        assert!(s.admit(chat(1), limit, t0).is_err());
        assert_eq!(s.admit(chat(1), limit, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn a_late_send_moves_the_next_one() {
        let s = Spacing::default();
        let limit = Some(RateLimit::new(1.0, 1));
        let t0 = Instant::now();
        assert_eq!(s.admit(chat(1), limit, t0), Ok(()));
        // It went out 300 ms after its admission.
        s.sent(chat(1), limit, t0 + Duration::from_millis(300));
        let wait = s
            .admit(chat(1), limit, t0 + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(wait, Duration::from_millis(300));
    }

    #[test]
    fn no_limit_no_spacing() {
        let s = Spacing::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(s.admit(chat(1), None, t0), Ok(()));
        }
    }

    #[test]
    fn pruning_keeps_recent_entries() {
        let s = Spacing::default();
        let limit = Some(RateLimit::new(1.0, 1));
        let t0 = Instant::now();
        for id in 0..PRUNE_AT as i64 {
            s.admit(chat(id), limit, t0).unwrap();
        }
        // Triggers pruning: nothing is old yet, so the gap still holds.
        s.admit(chat(-1), limit, t0 + Duration::from_millis(10))
            .unwrap();
        assert!(s
            .admit(chat(5), limit, t0 + Duration::from_millis(20))
            .is_err());
        // After the gap, old entries go at the next prune.
        s.admit(chat(-2), limit, t0 + Duration::from_secs(2))
            .unwrap();
        assert!(s.next.lock().unwrap().len() < 10);
    }
}
