//! Retry delays: exponential backoff with jitter, never shorter than what
//! the provider asked for.

use rand::Rng;
use std::time::Duration;

/// The delay before retry number `attempt` (1 = the first retry).
///
/// `base · 2^(attempt-1)`, capped at `max`, then "equal jitter": a random
/// value between half and all of it, so workers that failed together do
/// not retry together. A provider's `Retry-After` wins if it is longer.
pub fn retry_delay(
    attempt: u32,
    base: Duration,
    max: Duration,
    provider_hint: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    let jittered = half
        + Duration::from_micros(
            rng.gen_range(0..=u64::try_from(half.as_micros()).unwrap_or(u64::MAX)),
        );
    provider_hint.map_or(jittered, |h| h.max(jittered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_respects_hints() {
        let mut rng = rand::thread_rng();
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(600);
        for attempt in 1..=12 {
            let d = retry_delay(attempt, base, max, None, &mut rng);
            let full = (base * 2u32.pow(attempt - 1)).min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert_eq!(
            retry_delay(1, base, max, Some(Duration::from_secs(30)), &mut rng),
            Duration::from_secs(30)
        );
        assert!(retry_delay(40, base, max, None, &mut rng) <= max);
    }
}
