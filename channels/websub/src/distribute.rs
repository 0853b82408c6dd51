//! Content distribution (WebSub 7): POSTing a topic's new content to a subscriber.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use herold_channel_api::{retry_after_from_header, retry_delay};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE, LINK, RETRY_AFTER};
use url::Url;

use crate::client::is_non_public_host;
use crate::net::is_private_host;
use crate::signature::sign;
use crate::verify::reqwest_error_chain;

/// Most delivery attempts per update and subscription, the first one included.
/// With [`DistributeError::suggested_delay`] they span roughly 1.5 to 3 hours. The spec says a hub
/// terminates the subscription when a delivery exceeds its retry limits.
pub const MAX_ATTEMPTS: u32 = 10;

/// Delay before the first retry, before jitter.
pub const RETRY_BASE_DELAY: Duration = Duration::from_secs(15);

/// Longest delay between attempts; `Retry-After` is capped at
/// [`herold_channel_api::MAX_RETRY_AFTER`], also one hour.
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
        /// The subscriber's `Retry-After`, capped at
        /// [`herold_channel_api::MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// Any other non-2xx status (other 4xx, and 3xx since redirects are not
    /// followed): do not retry this delivery.
    #[error("the subscriber rejected the delivery (HTTP {status})")]
    Permanent {
        /// The HTTP status code.
        status: u16,
    },
    /// The callback's host is (or now resolves to) no public address: a
    /// loopback, private or otherwise non-public one. End the subscription.
    #[error("the callback's address is not public")]
    NotPublic,
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

    /// When to retry after `failed_attempts` failures (1 for the first
    /// retry): the subscriber's `Retry-After` if it sent one, else
    /// exponential backoff from [`RETRY_BASE_DELAY`] up to
    /// [`MAX_RETRY_DELAY`], jittered ([`herold_channel_api::retry_delay`]).
    /// `None` if not retryable.
    pub fn suggested_delay(&self, failed_attempts: u32) -> Option<Duration> {
        match self {
            DistributeError::Retryable { retry_after, .. } => {
                Some(retry_after.unwrap_or_else(|| {
                    retry_delay(
                        failed_attempts,
                        RETRY_BASE_DELAY,
                        MAX_RETRY_DELAY,
                        None,
                        &mut rand::thread_rng(),
                    )
                }))
            }
            _ => None,
        }
    }
}

/// Checks a stored callback again before a delivery, with a client that
/// refuses non-public addresses: IP literals and `localhost` names are
/// judged here, other host names when the client of [`crate::build_client`]
/// resolves them for the connection ([`distribute`] then answers
/// [`DistributeError::NotPublic`]). That client connects only to the public
/// addresses its own lookup returned, so a DNS answer that changes between
/// the check and the connection cannot lead elsewhere.
pub fn check_callback(callback: &Url) -> Result<(), DistributeError> {
    if is_private_host(callback) {
        Err(DistributeError::NotPublic)
    } else {
        Ok(())
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
            if is_non_public_host(&e) {
                DistributeError::NotPublic
            } else if e.is_builder() {
                DistributeError::InvalidRequest {
                    reason: reqwest_error_chain(e),
                }
            } else if e.is_timeout() {
                DistributeError::Retryable {
                    reason: "the callback did not answer in time".into(),
                    retry_after: None,
                }
            } else {
                DistributeError::Retryable {
                    reason: format!("could not reach the callback: {}", reqwest_error_chain(e)),
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
                .and_then(|v| retry_after_from_header(v, Utc::now())),
        }),
        _ => Err(DistributeError::Permanent { status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
