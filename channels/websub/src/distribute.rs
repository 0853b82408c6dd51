//! Content distribution (WebSub 7): POSTing a topic's new content to a subscriber.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE, LINK, RETRY_AFTER};
use url::Url;

use crate::signature::sign;
use crate::verify::error_chain;

/// Most delivery attempts per update and subscription, the first one included.
/// With [`retry_delay`] they span roughly 1.5 to 3 hours. The spec says a hub
/// terminates the subscription when a delivery exceeds its retry limits.
pub const MAX_ATTEMPTS: u32 = 10;

/// Delay before the first retry, before jitter.
pub const RETRY_BASE_DELAY: Duration = Duration::from_secs(15);

/// Longest delay between attempts, also the cap for `Retry-After`.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60 * 60);

const X_HUB_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");

/// One content distribution request for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRequest {
    /// `Content-Type`: the topic's own content type.
    pub content_type: String,
    /// `Link: <hub>; rel="hub", <topic>; rel="self"`.
    pub link: String,
    /// `X-Hub-Signature: sha256=<hex>`, when the subscription has a secret.
    pub signature: Option<String>,
    /// The full topic content (cheap to clone across subscriptions).
    pub body: Bytes,
}

impl DeliveryRequest {
    /// The headers to send, as name/value pairs.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.as_str()),
            ("Link", self.link.as_str()),
        ];
        if let Some(signature) = &self.signature {
            headers.push(("X-Hub-Signature", signature.as_str()));
        }
        headers
    }
}

/// Builds the delivery of `body` (the topic's full content) for a subscription,
/// signed with its secret if it has one.
pub fn signed_delivery(
    topic_url: &Url,
    hub_url: &Url,
    content_type: &str,
    body: Bytes,
    secret: Option<&[u8]>,
) -> DeliveryRequest {
    DeliveryRequest {
        content_type: content_type.to_owned(),
        // Serialised URLs never contain `<`, `>` or whitespace.
        link: format!("<{hub_url}>; rel=\"hub\", <{topic_url}>; rel=\"self\""),
        signature: secret.map(|secret| sign(secret, &body)),
        body,
    }
}

/// Why a delivery failed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistributeError {
    /// `410 Gone`: delete the subscription.
    #[error("the subscriber is gone (410)")]
    Gone,
    /// Try again later: `408`, `429`, `5xx`, timeout or connection failure.
    #[error("delivery failed, retry later: {reason}")]
    Retryable {
        /// What went wrong.
        reason: String,
        /// The subscriber's `Retry-After`, capped at [`MAX_RETRY_DELAY`].
        retry_after: Option<Duration>,
    },
    /// Any other non-2xx status (other 4xx, and 3xx since redirects are not
    /// followed): do not retry this delivery.
    #[error("the subscriber rejected the delivery (HTTP {status})")]
    Permanent {
        /// The HTTP status code.
        status: u16,
    },
    /// The HTTP client followed a redirect; build it with [`crate::build_client`].
    #[error("the callback redirected, which is not allowed")]
    Redirected,
    /// The request could not be built (e.g. an invalid content type): a bug on
    /// the hub's side, not the subscriber's.
    #[error("invalid delivery request: {reason}")]
    InvalidRequest {
        /// What is invalid.
        reason: String,
    },
}

impl DistributeError {
    /// Whether to schedule another attempt (if fewer than [`MAX_ATTEMPTS`] were made).
    pub fn is_retryable(&self) -> bool {
        matches!(self, DistributeError::Retryable { .. })
    }

    /// When to retry after `failed_attempts` failures: the subscriber's
    /// `Retry-After` if it sent one, else [`retry_delay`]. `None` if not retryable.
    pub fn suggested_delay(&self, failed_attempts: u32) -> Option<Duration> {
        match self {
            DistributeError::Retryable { retry_after, .. } => {
                Some(retry_after.unwrap_or_else(|| retry_delay(failed_attempts)))
            }
            _ => None,
        }
    }
}

/// POSTs `delivery` to `callback` (query string included, as the spec requires).
/// A 2xx status is success; the response body is ignored. `timeout` bounds the
/// whole exchange.
pub async fn distribute(
    client: &reqwest::Client,
    callback: &Url,
    delivery: &DeliveryRequest,
    timeout: Duration,
) -> Result<(), DistributeError> {
    let header = |name: &str, value: &str| {
        HeaderValue::from_str(value).map_err(|_| DistributeError::InvalidRequest {
            reason: format!("{name} is not a valid header value"),
        })
    };
    let mut request = client
        .post(callback.clone())
        .timeout(timeout)
        .header(
            CONTENT_TYPE,
            header("Content-Type", &delivery.content_type)?,
        )
        .header(LINK, header("Link", &delivery.link)?);
    if let Some(signature) = &delivery.signature {
        request = request.header(X_HUB_SIGNATURE, header("X-Hub-Signature", signature)?);
    }

    let resp = request
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_builder() {
                DistributeError::InvalidRequest {
                    reason: error_chain(&e),
                }
            } else if e.is_timeout() {
                DistributeError::Retryable {
                    reason: "the callback did not answer in time".into(),
                    retry_after: None,
                }
            } else {
                DistributeError::Retryable {
                    reason: format!("could not reach the callback: {}", error_chain(&e)),
                    retry_after: None,
                }
            }
        })?;
    if resp.url() != callback {
        return Err(DistributeError::Redirected);
    }

    let status = resp.status().as_u16();
    match status {
        200..=299 => Ok(()),
        410 => Err(DistributeError::Gone),
        408 | 429 | 500..=599 => Err(DistributeError::Retryable {
            reason: format!("the callback answered HTTP {status}"),
            retry_after: resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now())),
        }),
        _ => Err(DistributeError::Permanent { status }),
    }
}

/// Parses a `Retry-After` value (delay in seconds or an HTTP date), capped at
/// [`MAX_RETRY_DELAY`]. A date in the past means no delay.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and that is capped anyway.
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_DELAY))
}

/// The delay before the next attempt after `failed_attempts` failures (1 for the
/// first retry): exponential from [`RETRY_BASE_DELAY`], doubling per attempt,
/// capped at [`MAX_RETRY_DELAY`], with jitter that keeps it between half and all
/// of that value so many failed deliveries do not retry in lockstep.
pub fn retry_delay(failed_attempts: u32) -> Duration {
    let ceiling = backoff_ceiling(failed_attempts);
    ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

fn backoff_ceiling(failed_attempts: u32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(31);
    RETRY_BASE_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    use crate::signature::verify_signature;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn delivery_headers() {
        let d = signed_delivery(
            &url("https://herold.example/feeds/a.atom"),
            &url("https://herold.example/websub"),
            "application/atom+xml",
            Bytes::from_static(b"<feed/>"),
            Some(b"s3cr3t"),
        );
        assert_eq!(
            d.headers(),
            vec![
                ("Content-Type", "application/atom+xml"),
                (
                    "Link",
                    "<https://herold.example/websub>; rel=\"hub\", \
                     <https://herold.example/feeds/a.atom>; rel=\"self\""
                ),
                ("X-Hub-Signature", d.signature.as_deref().unwrap()),
            ]
        );
        let signature = d.signature.as_deref().unwrap();
        assert!(signature.starts_with("sha256="));
        assert_eq!(signature.len(), "sha256=".len() + 64);
        assert!(verify_signature(b"s3cr3t", b"<feed/>", signature));
    }

    #[test]
    fn unsigned_delivery_has_no_signature_header() {
        let d = signed_delivery(
            &url("https://herold.example/feeds/a.ics"),
            &url("https://herold.example/websub"),
            "text/calendar; charset=utf-8",
            Bytes::from_static(b"BEGIN:VCALENDAR"),
            None,
        );
        assert_eq!(d.signature, None);
        assert_eq!(d.headers().len(), 2);
    }

    #[test]
    fn retry_after_values() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_DELAY));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_DELAY)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let ceilings: Vec<u64> = (1..=MAX_ATTEMPTS)
            .map(|n| backoff_ceiling(n).as_secs())
            .collect();
        assert_eq!(ceilings, [15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff_ceiling(0), RETRY_BASE_DELAY);
        assert_eq!(backoff_ceiling(u32::MAX), MAX_RETRY_DELAY);
    }

    #[test]
    fn retry_delay_is_jittered_within_bounds() {
        for attempt in [1, 3, 9, 50] {
            let ceiling = backoff_ceiling(attempt);
            let delays: Vec<Duration> = (0..200).map(|_| retry_delay(attempt)).collect();
            for d in &delays {
                assert!(*d >= ceiling / 2 && *d <= ceiling, "{d:?} vs {ceiling:?}");
            }
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 100, "not jittered: {distinct:?}");
        }
    }

    #[test]
    fn suggested_delay_prefers_retry_after() {
        let with = DistributeError::Retryable {
            reason: "503".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(with.suggested_delay(5), Some(Duration::from_secs(7)));
        let without = DistributeError::Retryable {
            reason: "timeout".into(),
            retry_after: None,
        };
        let d = without.suggested_delay(2).unwrap();
        assert!(d >= Duration::from_secs(15) && d <= Duration::from_secs(30));
        assert_eq!(DistributeError::Gone.suggested_delay(1), None);
        assert!(!DistributeError::Permanent { status: 400 }.is_retryable());
    }
}
