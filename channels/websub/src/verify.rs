//! Verification of intent (WebSub 5.3): the hub asks the callback whether the
//! subscriber really wants this (un)subscription.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use url::Url;

use crate::lease::Lease;
use crate::request::{HubRequest, Mode};

/// Random bytes in a challenge (256 bits; the spec asks for unguessable).
pub const CHALLENGE_BYTES: usize = 32;
const _: () = assert!(CHALLENGE_BYTES * 8 >= 128);

/// A subscriber's reply body is read up to this many bytes; longer cannot match.
const MAX_REPLY_BYTES: usize = 1024;

/// A successful verification: apply it to the stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Insert or replace the subscription for (topic, callback) with this lease
    /// and the request's secret.
    Subscribed {
        /// Starts at `verified_at`, as the spec measures leases.
        lease: Lease,
        /// When the verification request was sent.
        verified_at: DateTime<Utc>,
    },
    /// Delete the subscription for (topic, callback).
    Unsubscribed {
        /// When the verification request was sent.
        verified_at: DateTime<Utc>,
    },
}

/// Why verification failed. The stored subscription state must stay unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The subscriber answered `404 Not Found`: it does not want this.
    #[error("the subscriber refused the request (404)")]
    Refused,
    /// Any other non-2xx status, including redirects (which the hub never follows).
    #[error("the callback answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// A 2xx answer whose body is not exactly the challenge.
    #[error("the callback did not echo the challenge")]
    WrongChallenge,
    /// No complete answer within the timeout.
    #[error("the callback did not answer in time")]
    Timeout,
    /// Connecting or reading failed (DNS, refused connection, TLS, reset, blocked address).
    #[error("could not reach the callback: {reason}")]
    Connection {
        /// A description of the failure.
        reason: String,
    },
    /// The HTTP client followed a redirect; build it with [`crate::build_client`].
    #[error("the callback redirected, which is not allowed")]
    Redirected,
}

impl VerifyError {
    /// Whether trying again later might succeed (timeouts, connection failures,
    /// 429 and 5xx). The hub may retry these; the subscriber may also just
    /// send its request again.
    pub fn is_transient(&self) -> bool {
        match self {
            VerifyError::Timeout | VerifyError::Connection { .. } => true,
            VerifyError::Status { status } => *status == 429 || *status >= 500,
            VerifyError::Refused | VerifyError::WrongChallenge | VerifyError::Redirected => false,
        }
    }
}

/// A fresh, URL-safe challenge: [`CHALLENGE_BYTES`] random bytes as lowercase hex.
pub fn generate_challenge() -> String {
    let mut bytes = [0u8; CHALLENGE_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Verifies `req` with the subscriber: `GET` on the callback with `hub.mode`,
/// `hub.topic`, `hub.challenge` and, for subscribe, `hub.lease_seconds` appended to
/// the callback's own query string.
///
/// Succeeds only on a 2xx whose body equals the challenge byte for byte.
/// Redirects are failures (the spec counts every 3xx as failure): pass a client
/// from [`crate::build_client`], which never follows them. `timeout` bounds the
/// whole exchange, including reading the body.
pub async fn verify_intent(
    client: &reqwest::Client,
    req: &HubRequest,
    timeout: Duration,
) -> Result<Verified, VerifyError> {
    let challenge = generate_challenge();
    let lease = match req {
        HubRequest::Subscribe(s) => Some(s.lease),
        HubRequest::Unsubscribe { .. } => None,
    };
    let url = verification_url(req.callback(), req.mode(), req.topic(), &challenge, lease);

    let verified_at = Utc::now();
    let mut resp = client
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(request_error)?;
    if resp.url() != &url {
        return Err(VerifyError::Redirected);
    }
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(VerifyError::Refused);
    }
    if !status.is_success() {
        return Err(VerifyError::Status {
            status: status.as_u16(),
        });
    }

    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(request_error)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_REPLY_BYTES {
            return Err(VerifyError::WrongChallenge);
        }
    }
    if body != challenge.as_bytes() {
        return Err(VerifyError::WrongChallenge);
    }

    Ok(match lease {
        Some(length) => Verified::Subscribed {
            lease: Lease::starting(verified_at, length),
            verified_at,
        },
        None => Verified::Unsubscribed { verified_at },
    })
}

/// The callback URL with the verification parameters appended (existing
/// parameters are kept, even ones with the same names).
fn verification_url(
    callback: &Url,
    mode: Mode,
    topic: &Url,
    challenge: &str,
    lease: Option<Duration>,
) -> Url {
    let mut url = callback.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("hub.mode", mode.as_str())
            .append_pair("hub.topic", topic.as_str())
            .append_pair("hub.challenge", challenge);
        if let Some(lease) = lease {
            query.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
        }
    }
    url
}

fn request_error(e: reqwest::Error) -> VerifyError {
    if e.is_timeout() {
        VerifyError::Timeout
    } else {
        VerifyError::Connection {
            reason: reqwest_error_chain(e),
        }
    }
}

/// [`error_chain`] of a reqwest error without the URL it names: the callback
/// (with its query) must not reach logs or stored errors.
pub(crate) fn reqwest_error_chain(e: reqwest::Error) -> String {
    error_chain(&e.without_url())
}

/// The error and its sources, joined: reqwest's top-level message alone is vague.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn challenges_are_long_random_and_url_safe() {
        let challenges: HashSet<String> = (0..1000).map(|_| generate_challenge()).collect();
        assert_eq!(challenges.len(), 1000);
        for c in &challenges {
            assert_eq!(c.len(), CHALLENGE_BYTES * 2);
            assert!(hex::decode(c).unwrap().len() * 8 >= 128);
            assert!(c
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        // Every hex digit shows up somewhere: not a constant or a counter.
        let digits: HashSet<char> = challenges.iter().flat_map(|c| c.chars()).collect();
        assert_eq!(digits.len(), 16);
    }

    #[test]
    fn verification_url_appends_to_existing_query() {
        let callback = Url::parse("https://reader.example/cb?id=7&hub.mode=mine").unwrap();
        let topic = Url::parse("https://herold.example/feeds/a.atom?lang=de").unwrap();
        let url = verification_url(
            &callback,
            Mode::Subscribe,
            &topic,
            "abc",
            Some(Duration::from_secs(3600)),
        );
        assert_eq!(
            url.as_str(),
            "https://reader.example/cb?id=7&hub.mode=mine&hub.mode=subscribe\
             &hub.topic=https%3A%2F%2Fherold.example%2Ffeeds%2Fa.atom%3Flang%3Dde\
             &hub.challenge=abc&hub.lease_seconds=3600"
        );
        let url = verification_url(
            &Url::parse("https://reader.example/cb").unwrap(),
            Mode::Unsubscribe,
            &topic,
            "abc",
            None,
        );
        assert_eq!(url.query_pairs().count(), 3);
        assert!(url
            .as_str()
            .starts_with("https://reader.example/cb?hub.mode=unsubscribe&"));
    }

    #[test]
    fn transient_errors() {
        assert!(VerifyError::Timeout.is_transient());
        assert!(VerifyError::Status { status: 503 }.is_transient());
        assert!(VerifyError::Status { status: 429 }.is_transient());
        assert!(!VerifyError::Status { status: 302 }.is_transient());
        assert!(!VerifyError::Refused.is_transient());
        assert!(!VerifyError::WrongChallenge.is_transient());
    }
}
