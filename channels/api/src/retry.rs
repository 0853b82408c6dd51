//! When to try again: exponential backoff with jitter, and the provider's
//! `Retry-After` header.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// Longest delay a `Retry-After` header can ask for: one hour. A provider
/// asking for more is retried after an hour anyway, so a typo or a hostile
/// answer cannot park a message for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// The delay before retry number `attempt` (1 = the first retry).
///
/// `base · 2^(attempt-1)`, capped at `max`, then "equal jitter": a random
/// value between half and all of it, so senders that failed together do
/// not retry together. A provider's hint (`Retry-After`) wins if it is
/// longer.
///
/// ```
/// use herold_channel_api::retry_delay;
/// use std::time::Duration;
///
/// let mut rng = rand::thread_rng();
/// let (base, max) = (Duration::from_secs(2), Duration::from_secs(600));
/// let d = retry_delay(3, base, max, None, &mut rng);
/// assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8));
/// let hinted = retry_delay(1, base, max, Some(Duration::from_secs(30)), &mut rng);
/// assert_eq!(hinted, Duration::from_secs(30));
/// ```
pub fn retry_delay(
    attempt: u32,
    base: Duration,
    max: Duration,
    provider_hint: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let full = backoff_ceiling(attempt, base, max);
    let half = full / 2;
    let jittered = half
        + Duration::from_micros(
            rng.gen_range(0..=u64::try_from(half.as_micros()).unwrap_or(u64::MAX)),
        );
    provider_hint.map_or(jittered, |h| h.max(jittered))
}

/// `base · 2^(attempt-1)`, capped at `max`: the longest delay before
/// retry number `attempt`.
fn backoff_ceiling(attempt: u32, base: Duration, max: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(max)
}

/// Parses an HTTP `Retry-After` header value (RFC 9110 §10.2.3), capped at
/// [`MAX_RETRY_AFTER`].
///
/// Accepts delta-seconds (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`,
/// also the obsolete RFC 850 and asctime forms), the latter relative to `now`.
/// Dates in the past yield [`Duration::ZERO`]; unparsable values yield `None`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use herold_channel_api::{retry_after_from_header, MAX_RETRY_AFTER};
/// use std::time::Duration;
///
/// let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
/// assert_eq!(retry_after_from_header("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     retry_after_from_header("Wed, 21 Oct 2015 07:28:00 GMT", now),
///     Some(Duration::from_secs(60))
/// );
/// assert_eq!(retry_after_from_header("86400", now), Some(MAX_RETRY_AFTER));
/// assert_eq!(retry_after_from_header("soon", now), None);
/// ```
pub fn retry_after_from_header(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let delay = if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and that is capped anyway.
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap()
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let (base, max) = (Duration::from_secs(15), Duration::from_secs(3600));
        let ceilings: Vec<u64> = (1..=10)
            .map(|n| backoff_ceiling(n, base, max).as_secs())
            .collect();
        assert_eq!(ceilings, [15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff_ceiling(0, base, max), base);
        assert_eq!(backoff_ceiling(u32::MAX, base, max), max);
    }

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

    #[test]
    fn retry_delay_is_jittered_within_bounds() {
        let mut rng = rand::thread_rng();
        let (base, max) = (Duration::from_secs(15), Duration::from_secs(3600));
        for attempt in [1, 3, 9, 50] {
            let ceiling = backoff_ceiling(attempt, base, max);
            let delays: Vec<Duration> = (0..200)
                .map(|_| retry_delay(attempt, base, max, None, &mut rng))
                .collect();
            for d in &delays {
                assert!(*d >= ceiling / 2 && *d <= ceiling, "{d:?} vs {ceiling:?}");
            }
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 100, "not jittered: {distinct:?}");
        }
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(
            retry_after_from_header(" 30 ", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after_from_header("7", now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after_from_header("0", now()), Some(Duration::ZERO));
        assert_eq!(retry_after_from_header("-5", now()), None);
        assert_eq!(retry_after_from_header("1.5", now()), None);
        assert_eq!(retry_after_from_header("", now()), None);
        assert_eq!(retry_after_from_header("soon", now()), None);
    }

    #[test]
    fn retry_after_is_capped() {
        assert_eq!(
            retry_after_from_header("3600", now()),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            retry_after_from_header("3601", now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_from_header("86400", now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_from_header("99999999999999999999999", now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_from_header("Thu, 22 Oct 2015 07:28:00 GMT", now()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_http_date() {
        assert_eq!(
            retry_after_from_header("Wed, 21 Oct 2015 07:30:00 GMT", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after_from_header("Wed, 21 Oct 2015 07:28:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        // Obsolete RFC 850 and asctime formats are accepted too.
        assert_eq!(
            retry_after_from_header("Wednesday, 21-Oct-15 07:29:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after_from_header("Wed Oct 21 07:29:00 2015", now()),
            Some(Duration::from_secs(60))
        );
        // A date in the past means no delay.
        assert_eq!(
            retry_after_from_header("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_from_header("tomorrow", now()), None);
    }
}
