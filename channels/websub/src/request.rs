//! Subscription requests POSTed to the hub (WebSub 5.1).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::lease::LeaseLimits;
use crate::net::{decode_unreserved, is_loopback_ip, is_private_host};
use crate::signature::Secret;

/// `hub.secret` must be less than 200 bytes (WebSub 5.1).
pub const MAX_SECRET_LEN: usize = 199;

/// Longest accepted `hub.topic` or `hub.callback`, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// How many characters of a rejected value an error message repeats.
const ECHO_CHARS: usize = 80;

/// `hub.mode` of a request or verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Create or renew a subscription.
    Subscribe,
    /// End a subscription.
    Unsubscribe,
}

impl Mode {
    /// The protocol value: `subscribe` or `unsubscribe`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid subscribe request, with the lease the hub grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topic (one of Herold's feed URLs).
    pub topic: Url,
    /// Where to verify and deliver.
    pub callback: Url,
    /// The granted lease (already clamped by [`LeaseLimits`]).
    pub lease: Duration,
    /// The HMAC key for deliveries, if the subscriber gave one.
    pub secret: Option<Secret>,
}

/// A valid request to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubRequest {
    /// `hub.mode=subscribe` (also renews an existing subscription).
    Subscribe(Subscription),
    /// `hub.mode=unsubscribe`; lease and secret are ignored.
    Unsubscribe {
        /// The topic to leave.
        topic: Url,
        /// The subscription's callback.
        callback: Url,
    },
}

impl HubRequest {
    /// The request's mode.
    pub fn mode(&self) -> Mode {
        match self {
            HubRequest::Subscribe(_) => Mode::Subscribe,
            HubRequest::Unsubscribe { .. } => Mode::Unsubscribe,
        }
    }

    /// The topic URL.
    pub fn topic(&self) -> &Url {
        match self {
            HubRequest::Subscribe(s) => &s.topic,
            HubRequest::Unsubscribe { topic, .. } => topic,
        }
    }

    /// The callback URL.
    pub fn callback(&self) -> &Url {
        match self {
            HubRequest::Subscribe(s) => &s.callback,
            HubRequest::Unsubscribe { callback, .. } => callback,
        }
    }
}

/// How the subscription request reached the hub.
///
/// The spec says `hub.secret` should only be sent over HTTPS, since it travels in
/// the request body. The hub refuses secrets that arrived over plain HTTP from
/// anywhere but the local machine. (A plain-HTTP *callback* is fine: the secret is
/// never sent to it, and signatures protect exactly such callbacks.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The request came over HTTPS (directly or via a TLS-terminating proxy).
    Https,
    /// Plain HTTP from a loopback peer (development, tests).
    Loopback,
    /// Plain HTTP from elsewhere.
    PlainHttp,
}

impl Transport {
    /// Classifies a request: `https` is whether it arrived over TLS (at Herold or
    /// at a trusted TLS-terminating proxy), `peer` the client's address, if known.
    pub fn classify(https: bool, peer: Option<IpAddr>) -> Self {
        if https {
            Transport::Https
        } else if peer.is_some_and(is_loopback_ip) {
            Transport::Loopback
        } else {
            Transport::PlainHttp
        }
    }
}

/// Decides which topics the hub serves. Herold accepts only its own feed URLs.
pub trait TopicPolicy {
    /// Whether `topic` (normalised, see [`parse_hub_request`]) is served by this hub.
    fn accepts(&self, topic: &Url) -> bool;
}

impl<F: Fn(&Url) -> bool> TopicPolicy for F {
    fn accepts(&self, topic: &Url) -> bool {
        self(topic)
    }
}

/// The hub's static request policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubPolicy {
    /// Lease bounds and default.
    pub lease: LeaseLimits,
    /// Accept callbacks on loopback, private or otherwise non-public IP literals and
    /// `localhost` names. Off by default: the hub fetches callbacks for anyone who
    /// asks, and must not be a door into the municipality's internal network.
    pub allow_private_callbacks: bool,
}

/// Why a request to the hub was rejected. `Display` is a plain-text message for
/// the subscriber's developer, meant as the body of a `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubRequestError {
    /// A required parameter is absent or empty.
    #[error("{field} is required")]
    Missing {
        /// The parameter name, e.g. `hub.topic`.
        field: &'static str,
    },
    /// A parameter appears more than once.
    #[error("{field} must be given only once")]
    Duplicate {
        /// The parameter name.
        field: &'static str,
    },
    /// `hub.mode` is neither `subscribe` nor `unsubscribe`.
    #[error("hub.mode must be \"subscribe\" or \"unsubscribe\", got {value:?}")]
    InvalidMode {
        /// The rejected value (shortened).
        value: String,
    },
    /// `hub.mode=publish`: Herold publishes its own topics internally.
    #[error("hub.mode \"publish\" is not supported: this hub only distributes its own topics")]
    PublishNotSupported,
    /// The value is not an absolute URL.
    #[error("{field} must be an absolute http or https URL ({reason})")]
    InvalidUrl {
        /// `hub.topic` or `hub.callback`.
        field: &'static str,
        /// What the URL parser objected to.
        reason: String,
    },
    /// The URL's scheme is not `http` or `https`.
    #[error("{field} must be an http or https URL, got scheme {scheme:?}")]
    UnsupportedScheme {
        /// `hub.topic` or `hub.callback`.
        field: &'static str,
        /// The rejected scheme (shortened).
        scheme: String,
    },
    /// The URL is longer than [`MAX_URL_LEN`].
    #[error("{field} must be at most {max} bytes long")]
    UrlTooLong {
        /// `hub.topic` or `hub.callback`.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// `hub.callback` has a `#fragment`, which is never sent over HTTP.
    #[error("hub.callback must not contain a fragment (#...)")]
    CallbackFragment,
    /// `hub.callback` names a loopback, private or otherwise non-public address.
    #[error("hub.callback must point to a public address, not a loopback or private one")]
    PrivateCallback,
    /// `hub.topic` is not one of this hub's topics.
    #[error("hub.topic {topic:?} is not a topic of this hub; use the rel=\"self\" URL of a feed")]
    UnknownTopic {
        /// The rejected topic (shortened).
        topic: String,
    },
    /// `hub.lease_seconds` is not a positive decimal integer.
    #[error("hub.lease_seconds must be a positive decimal integer, got {value:?}")]
    InvalidLeaseSeconds {
        /// The rejected value (shortened).
        value: String,
    },
    /// `hub.secret` is [`MAX_SECRET_LEN`] + 1 bytes or longer.
    #[error("hub.secret must be less than 200 bytes, got {len}")]
    SecretTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// `hub.secret` was sent over plain HTTP.
    #[error("hub.secret must only be sent over HTTPS; send the request to the hub's https:// URL")]
    SecretOverPlainHttp,
}

/// Decodes an `application/x-www-form-urlencoded` body into name/value pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Parses and checks a subscribe or unsubscribe request.
///
/// Unknown parameters are ignored, as the spec requires. Known `hub.*` parameters
/// may appear once. Percent-encoded unreserved characters in topic and callback are
/// decoded before parsing, and the URL parser normalises scheme and host case, so
/// `topics` sees the canonical form. For `unsubscribe`, `hub.lease_seconds` and
/// `hub.secret` are ignored. Empty optional parameters count as absent.
pub fn parse_hub_request(
    form: &[(String, String)],
    policy: &HubPolicy,
    topics: &impl TopicPolicy,
    transport: Transport,
) -> Result<HubRequest, HubRequestError> {
    let mode = match required(form, "hub.mode")? {
        "subscribe" => Mode::Subscribe,
        "unsubscribe" => Mode::Unsubscribe,
        "publish" => return Err(HubRequestError::PublishNotSupported),
        other => {
            return Err(HubRequestError::InvalidMode {
                value: shorten(other),
            })
        }
    };

    let topic = parse_url("hub.topic", required(form, "hub.topic")?)?;
    if !topics.accepts(&topic) {
        return Err(HubRequestError::UnknownTopic {
            topic: shorten(topic.as_str()),
        });
    }

    let callback = parse_url("hub.callback", required(form, "hub.callback")?)?;
    if callback.fragment().is_some() {
        return Err(HubRequestError::CallbackFragment);
    }
    if !policy.allow_private_callbacks && is_private_host(&callback) {
        return Err(HubRequestError::PrivateCallback);
    }

    // Checked for duplicates even when ignored, so a request means one thing.
    let lease_seconds = optional(form, "hub.lease_seconds")?;
    let secret = optional(form, "hub.secret")?;
    if mode == Mode::Unsubscribe {
        return Ok(HubRequest::Unsubscribe { topic, callback });
    }

    let lease = policy
        .lease
        .grant(lease_seconds.map(parse_lease_seconds).transpose()?);
    let secret = secret.map(|s| check_secret(s, transport)).transpose()?;
    Ok(HubRequest::Subscribe(Subscription {
        topic,
        callback,
        lease,
        secret,
    }))
}

/// The single non-empty value of `field`, if given.
fn optional<'a>(
    form: &'a [(String, String)],
    field: &'static str,
) -> Result<Option<&'a str>, HubRequestError> {
    let mut values = form.iter().filter(|(k, _)| k == field).map(|(_, v)| v);
    let first = values.next();
    if values.next().is_some() {
        return Err(HubRequestError::Duplicate { field });
    }
    Ok(first.map(String::as_str).filter(|v| !v.is_empty()))
}

fn required<'a>(
    form: &'a [(String, String)],
    field: &'static str,
) -> Result<&'a str, HubRequestError> {
    optional(form, field)?.ok_or(HubRequestError::Missing { field })
}

fn parse_url(field: &'static str, value: &str) -> Result<Url, HubRequestError> {
    if value.len() > MAX_URL_LEN {
        return Err(HubRequestError::UrlTooLong {
            field,
            max: MAX_URL_LEN,
        });
    }
    let url = Url::parse(&decode_unreserved(value)).map_err(|e| HubRequestError::InvalidUrl {
        field,
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(HubRequestError::UnsupportedScheme {
            field,
            scheme: shorten(other),
        }),
    }
}

fn parse_lease_seconds(value: &str) -> Result<u64, HubRequestError> {
    let invalid = || HubRequestError::InvalidLeaseSeconds {
        value: shorten(value),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // All digits: only overflow can fail, and an absurdly long lease is clamped anyway.
    let secs = value.parse::<u64>().unwrap_or(u64::MAX);
    if secs == 0 {
        return Err(invalid());
    }
    Ok(secs)
}

fn check_secret(value: &str, transport: Transport) -> Result<Secret, HubRequestError> {
    if value.len() > MAX_SECRET_LEN {
        return Err(HubRequestError::SecretTooLong { len: value.len() });
    }
    if transport == Transport::PlainHttp {
        return Err(HubRequestError::SecretOverPlainHttp);
    }
    Ok(Secret::new(value.as_bytes()))
}

fn shorten(value: &str) -> String {
    let mut chars = value.chars();
    let mut out: String = chars.by_ref().take(ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "https://herold.example/feeds/baustellen.atom";
    const CALLBACK: &str = "https://reader.example/websub/abc123";

    fn known(topic: &Url) -> bool {
        topic.as_str() == TOPIC
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base() -> Vec<(String, String)> {
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", CALLBACK),
        ])
    }

    fn with(field: &str, value: &str) -> Vec<(String, String)> {
        let mut f: Vec<_> = base().into_iter().filter(|(k, _)| k != field).collect();
        f.push((field.to_string(), value.to_string()));
        f
    }

    fn without(field: &str) -> Vec<(String, String)> {
        base().into_iter().filter(|(k, _)| k != field).collect()
    }

    fn parse(f: &[(String, String)]) -> Result<HubRequest, HubRequestError> {
        parse_hub_request(f, &HubPolicy::default(), &known, Transport::Https)
    }

    fn subscription(f: &[(String, String)]) -> Subscription {
        match parse(f) {
            Ok(HubRequest::Subscribe(s)) => s,
            other => panic!("expected a subscription, got {other:?}"),
        }
    }

    #[test]
    fn valid_subscribe() {
        let s = subscription(&base());
        assert_eq!(s.topic.as_str(), TOPIC);
        assert_eq!(s.callback.as_str(), CALLBACK);
        assert_eq!(s.lease, LeaseLimits::DEFAULT_DEFAULT);
        assert_eq!(s.secret, None);
    }

    #[test]
    fn valid_unsubscribe_ignores_lease_and_secret() {
        let mut f = with("hub.mode", "unsubscribe");
        f.push(("hub.lease_seconds".into(), "nonsense".into()));
        f.push(("hub.secret".into(), "x".repeat(500)));
        let req = parse_hub_request(&f, &HubPolicy::default(), &known, Transport::PlainHttp);
        assert_eq!(
            req,
            Ok(HubRequest::Unsubscribe {
                topic: Url::parse(TOPIC).unwrap(),
                callback: Url::parse(CALLBACK).unwrap(),
            })
        );
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let mut f = base();
        f.push(("hub.verify".into(), "sync".into()));
        f.push(("utm_source".into(), "x".into()));
        assert!(parse(&f).is_ok());
    }

    #[test]
    fn mode_errors() {
        assert_eq!(
            parse(&without("hub.mode")),
            Err(HubRequestError::Missing { field: "hub.mode" })
        );
        assert_eq!(
            parse(&with("hub.mode", "Subscribe")),
            Err(HubRequestError::InvalidMode {
                value: "Subscribe".into()
            })
        );
        assert_eq!(
            parse(&with("hub.mode", "publish")),
            Err(HubRequestError::PublishNotSupported)
        );
        let mut dup = base();
        dup.push(("hub.mode".into(), "unsubscribe".into()));
        assert_eq!(
            parse(&dup),
            Err(HubRequestError::Duplicate { field: "hub.mode" })
        );
    }

    #[test]
    fn topic_errors() {
        assert_eq!(
            parse(&without("hub.topic")),
            Err(HubRequestError::Missing { field: "hub.topic" })
        );
        assert_eq!(
            parse(&with("hub.topic", "")),
            Err(HubRequestError::Missing { field: "hub.topic" })
        );
        assert!(matches!(
            parse(&with("hub.topic", "/feeds/baustellen.atom")),
            Err(HubRequestError::InvalidUrl {
                field: "hub.topic",
                ..
            })
        ));
        assert_eq!(
            parse(&with("hub.topic", "ftp://herold.example/feed")),
            Err(HubRequestError::UnsupportedScheme {
                field: "hub.topic",
                scheme: "ftp".into()
            })
        );
        assert_eq!(
            parse(&with(
                "hub.topic",
                "https://herold.example/feeds/other.atom"
            )),
            Err(HubRequestError::UnknownTopic {
                topic: "https://herold.example/feeds/other.atom".into()
            })
        );
        let long = format!("{TOPIC}?{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            parse(&with("hub.topic", &long)),
            Err(HubRequestError::UrlTooLong {
                field: "hub.topic",
                max: MAX_URL_LEN
            })
        );
    }

    #[test]
    fn topic_is_normalised_before_the_policy_sees_it() {
        let s = subscription(&with(
            "hub.topic",
            "HTTPS://Herold.Example/feeds/%62austellen%2Eatom",
        ));
        assert_eq!(s.topic.as_str(), TOPIC);
    }

    #[test]
    fn callback_errors() {
        assert_eq!(
            parse(&without("hub.callback")),
            Err(HubRequestError::Missing {
                field: "hub.callback"
            })
        );
        assert!(matches!(
            parse(&with("hub.callback", "reader.example/cb")),
            Err(HubRequestError::InvalidUrl {
                field: "hub.callback",
                ..
            })
        ));
        assert_eq!(
            parse(&with("hub.callback", "mailto:reader@example.org")),
            Err(HubRequestError::UnsupportedScheme {
                field: "hub.callback",
                scheme: "mailto".into()
            })
        );
        assert_eq!(
            parse(&with("hub.callback", "https://reader.example/cb#frag")),
            Err(HubRequestError::CallbackFragment)
        );
        assert_eq!(
            parse(&with("hub.callback", "http://192.168.0.10/cb")),
            Err(HubRequestError::PrivateCallback)
        );
        assert_eq!(
            parse(&with("hub.callback", "http://localhost:8080/cb")),
            Err(HubRequestError::PrivateCallback)
        );
        let mut dup = base();
        dup.push(("hub.callback".into(), CALLBACK.into()));
        assert_eq!(
            parse(&dup),
            Err(HubRequestError::Duplicate {
                field: "hub.callback"
            })
        );
    }

    #[test]
    fn private_callbacks_can_be_allowed() {
        let policy = HubPolicy {
            allow_private_callbacks: true,
            ..HubPolicy::default()
        };
        let f = with("hub.callback", "http://127.0.0.1:8080/cb?x=1");
        let req = parse_hub_request(&f, &policy, &known, Transport::Loopback).unwrap();
        assert_eq!(req.callback().as_str(), "http://127.0.0.1:8080/cb?x=1");
    }

    #[test]
    fn lease_seconds() {
        let lease = |v: &str| subscription(&with("hub.lease_seconds", v)).lease;
        assert_eq!(lease("86400"), Duration::from_secs(86_400));
        assert_eq!(lease("60"), LeaseLimits::DEFAULT_MIN);
        assert_eq!(lease("99999999999999999999999"), LeaseLimits::DEFAULT_MAX);
        assert_eq!(lease(""), LeaseLimits::DEFAULT_DEFAULT);
        for bad in ["0", "-5", "+5", "1.5", "10d", " 60"] {
            assert_eq!(
                parse(&with("hub.lease_seconds", bad)),
                Err(HubRequestError::InvalidLeaseSeconds { value: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secret() {
        let s = subscription(&with("hub.secret", &"s".repeat(MAX_SECRET_LEN)));
        assert_eq!(s.secret.map(|s| s.as_bytes().len()), Some(MAX_SECRET_LEN));
        // Multi-byte characters count in bytes: 100 × "ä" = 200 bytes.
        assert_eq!(
            parse(&with("hub.secret", &"ä".repeat(100))),
            Err(HubRequestError::SecretTooLong { len: 200 })
        );
        assert_eq!(subscription(&with("hub.secret", "")).secret, None);
    }

    #[test]
    fn secret_needs_a_secure_transport() {
        let f = with("hub.secret", "s3cr3t");
        let policy = HubPolicy::default();
        assert_eq!(
            parse_hub_request(&f, &policy, &known, Transport::PlainHttp),
            Err(HubRequestError::SecretOverPlainHttp)
        );
        assert!(parse_hub_request(&f, &policy, &known, Transport::Loopback).is_ok());
        // Without a secret, plain HTTP is fine.
        assert!(parse_hub_request(&base(), &policy, &known, Transport::PlainHttp).is_ok());
        // A plain-HTTP callback may use a secret: that is what signatures are for.
        let mut f = with("hub.callback", "http://reader.example/cb");
        f.push(("hub.secret".into(), "s3cr3t".into()));
        assert!(parse_hub_request(&f, &policy, &known, Transport::Https).is_ok());
    }

    #[test]
    fn transport_classification() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(Transport::classify(true, ip("10.0.0.1")), Transport::Https);
        assert_eq!(
            Transport::classify(false, ip("127.0.0.1")),
            Transport::Loopback
        );
        assert_eq!(Transport::classify(false, ip("::1")), Transport::Loopback);
        assert_eq!(
            Transport::classify(false, ip("10.0.0.1")),
            Transport::PlainHttp
        );
        assert_eq!(Transport::classify(false, None), Transport::PlainHttp);
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let err = parse(&with("hub.mode", &"x".repeat(1000))).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn form_body_decoding() {
        let pairs = form_pairs(
            b"hub.mode=subscribe&hub.topic=https%3A%2F%2Fherold.example%2Ffeeds%2Fbaustellen.atom&hub.callback=https%3A%2F%2Freader.example%2Fwebsub%2Fabc123",
        );
        assert!(parse(&pairs).is_ok());
    }
}
