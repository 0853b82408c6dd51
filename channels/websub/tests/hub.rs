//! The hub against a fake subscriber (wiremock): verification of intent and
//! content distribution over real HTTP on loopback.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use herold_websub::{
    build_client, check_callback, distribute, parse_hub_request, signed_delivery, verify_intent,
    verify_signature, Bytes, ClientConfig, DistributeError, HubPolicy, HubRequest, LeaseLimits,
    Secret, Subscription, Transport, Verified, VerifyError,
};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOPIC: &str = "https://herold.example/feeds/baustellen.atom";
const HUB: &str = "https://herold.example/websub";
const TIMEOUT: Duration = Duration::from_secs(5);

/// A subscriber that agrees: echoes `hub.challenge` (plus `suffix`).
struct Echo {
    suffix: &'static str,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let challenge = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "hub.challenge")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        ResponseTemplate::new(200).set_body_string(format!("{challenge}{}", self.suffix))
    }
}

fn client() -> reqwest::Client {
    build_client(&ClientConfig {
        allow_private_networks: true,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn subscribe(callback: &str, lease: Duration, secret: Option<&[u8]>) -> HubRequest {
    HubRequest::Subscribe(Subscription {
        topic: Url::parse(TOPIC).unwrap(),
        callback: Url::parse(callback).unwrap(),
        lease,
        secret: secret.map(Secret::new),
    })
}

fn query(request: &Request, name: &str) -> Vec<String> {
    request
        .url
        .query_pairs()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[tokio::test]
async fn subscribe_verification_succeeds_when_challenge_is_echoed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cb"))
        .and(query_param("hub.mode", "subscribe"))
        .and(query_param("hub.topic", TOPIC))
        .and(query_param("hub.lease_seconds", "86400"))
        .respond_with(Echo { suffix: "" })
        .expect(1)
        .mount(&server)
        .await;

    let lease = Duration::from_secs(86_400);
    let req = subscribe(&format!("{}/cb?id=42", server.uri()), lease, None);
    let verified = verify_intent(&client(), &req, TIMEOUT).await;
    let Ok(Verified::Subscribed {
        lease: granted,
        verified_at,
    }) = verified
    else {
        panic!("expected a verified subscription, got {verified:?}");
    };
    assert_eq!(
        granted.expires_at - verified_at,
        chrono::TimeDelta::seconds(86_400)
    );

    let requests = server.received_requests().await.unwrap();
    let sent = &requests[0];
    assert_eq!(query(sent, "id"), ["42"], "existing query must be kept");
    let challenge = &query(sent, "hub.challenge")[0];
    assert_eq!(challenge.len(), 64);
    assert!(challenge.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(sent.url.query().unwrap().starts_with("id=42&hub.mode="));
}

#[tokio::test]
async fn unsubscribe_verification_sends_no_lease() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("hub.mode", "unsubscribe"))
        .respond_with(Echo { suffix: "" })
        .expect(1)
        .mount(&server)
        .await;

    let req = HubRequest::Unsubscribe {
        topic: Url::parse(TOPIC).unwrap(),
        callback: Url::parse(&format!("{}/cb", server.uri())).unwrap(),
    };
    let verified = verify_intent(&client(), &req, TIMEOUT).await;
    assert!(
        matches!(verified, Ok(Verified::Unsubscribed { .. })),
        "{verified:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(query(&requests[0], "hub.lease_seconds").is_empty());
}

async fn verify_against(response: ResponseTemplate, timeout: Duration) -> VerifyError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(response)
        .mount(&server)
        .await;
    let req = subscribe(
        &format!("{}/cb", server.uri()),
        Duration::from_secs(3600),
        None,
    );
    match verify_intent(&client(), &req, timeout).await {
        Ok(v) => panic!("verification should fail, got {v:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn verification_fails_on_wrong_echo() {
    let err = verify_against(
        ResponseTemplate::new(200).set_body_string("not-the-challenge"),
        TIMEOUT,
    )
    .await;
    assert_eq!(err, VerifyError::WrongChallenge);

    let err = verify_against(ResponseTemplate::new(200), TIMEOUT).await;
    assert_eq!(err, VerifyError::WrongChallenge);
}

#[tokio::test]
async fn verification_requires_the_exact_challenge() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Echo { suffix: "\n" })
        .mount(&server)
        .await;
    let req = subscribe(
        &format!("{}/cb", server.uri()),
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(
        verify_intent(&client(), &req, TIMEOUT).await,
        Err(VerifyError::WrongChallenge)
    );
}

#[tokio::test]
async fn verification_fails_on_404_as_refusal() {
    let err = verify_against(ResponseTemplate::new(404), TIMEOUT).await;
    assert_eq!(err, VerifyError::Refused);
}

#[tokio::test]
async fn verification_fails_on_500() {
    let err = verify_against(ResponseTemplate::new(500), TIMEOUT).await;
    assert_eq!(err, VerifyError::Status { status: 500 });
    assert!(err.is_transient());
}

#[tokio::test]
async fn verification_times_out() {
    let slow = ResponseTemplate::new(200)
        .set_body_string("x")
        .set_delay(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let err = verify_against(slow, Duration::from_millis(300)).await;
    assert_eq!(err, VerifyError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn verification_does_not_follow_redirects() {
    let server = MockServer::start().await;
    Mock::given(path("/cb"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/elsewhere"))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(Echo { suffix: "" })
        .mount(&server)
        .await;
    let req = subscribe(
        &format!("{}/cb", server.uri()),
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(
        verify_intent(&client(), &req, TIMEOUT).await,
        Err(VerifyError::Status { status: 302 })
    );
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.url.path() == "/cb"));

    // A client that follows redirects is caught after the fact.
    let following = reqwest::Client::new();
    assert_eq!(
        verify_intent(&following, &req, TIMEOUT).await,
        Err(VerifyError::Redirected)
    );
}

#[tokio::test]
async fn verification_reports_connection_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let req = subscribe(
        &format!("http://127.0.0.1:{port}/cb"),
        Duration::from_secs(3600),
        None,
    );
    let err = verify_intent(&client(), &req, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, VerifyError::Connection { .. }), "{err:?}");
}

#[tokio::test]
async fn default_client_refuses_names_that_resolve_to_private_addresses() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Echo { suffix: "" })
        .expect(0)
        .mount(&server)
        .await;
    let port = server.address().port();
    let req = subscribe(
        &format!("http://localhost:{port}/cb"),
        Duration::from_secs(3600),
        None,
    );
    let guarded = build_client(&ClientConfig::default()).unwrap();
    let err = verify_intent(&guarded, &req, TIMEOUT).await.unwrap_err();
    let VerifyError::Connection { reason } = &err else {
        panic!("expected a connection error, got {err:?}");
    };
    assert!(reason.contains("no public address"), "{reason}");
}

#[tokio::test]
async fn distribution_sends_headers_and_a_verifiable_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cb"))
        .and(query_param("id", "42"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;

    let body = Bytes::from_static(b"<?xml version=\"1.0\"?><feed>Neue Baustelle</feed>");
    let delivery = signed_delivery(
        &Url::parse(TOPIC).unwrap(),
        &Url::parse(HUB).unwrap(),
        "application/atom+xml",
        body.clone(),
        Some(b"s3cr3t"),
    );
    let callback = Url::parse(&format!("{}/cb?id=42", server.uri())).unwrap();
    distribute(&client(), &callback, &delivery, TIMEOUT)
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let got = &requests[0];
    let header = |name: &str| {
        got.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(got.body, body.to_vec());
    assert_eq!(header("content-type"), "application/atom+xml");
    assert_eq!(
        header("link"),
        format!("<{HUB}>; rel=\"hub\", <{TOPIC}>; rel=\"self\"")
    );
    let signature = header("x-hub-signature");
    assert!(signature.starts_with("sha256="), "{signature}");
    assert!(verify_signature(b"s3cr3t", &got.body, &signature));
    assert!(!verify_signature(b"other", &got.body, &signature));
}

#[tokio::test]
async fn unsigned_distribution_has_no_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let delivery = signed_delivery(
        &Url::parse(TOPIC).unwrap(),
        &Url::parse(HUB).unwrap(),
        "application/atom+xml",
        Bytes::from_static(b"<feed/>"),
        None,
    );
    let callback = Url::parse(&format!("{}/cb", server.uri())).unwrap();
    distribute(&client(), &callback, &delivery, TIMEOUT)
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("x-hub-signature").is_none());
}

async fn distribute_against(response: ResponseTemplate, timeout: Duration) -> DistributeError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    let delivery = signed_delivery(
        &Url::parse(TOPIC).unwrap(),
        &Url::parse(HUB).unwrap(),
        "application/atom+xml",
        Bytes::from_static(b"<feed/>"),
        None,
    );
    let callback = Url::parse(&format!("{}/cb", server.uri())).unwrap();
    match distribute(&client(), &callback, &delivery, timeout).await {
        Ok(()) => panic!("delivery should fail"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn distribution_410_means_gone() {
    let err = distribute_against(ResponseTemplate::new(410), TIMEOUT).await;
    assert_eq!(err, DistributeError::Gone);
}

#[tokio::test]
async fn distribution_503_with_retry_after_is_retryable() {
    let err = distribute_against(
        ResponseTemplate::new(503).insert_header("Retry-After", "7"),
        TIMEOUT,
    )
    .await;
    let DistributeError::Retryable { retry_after, .. } = &err else {
        panic!("expected retryable, got {err:?}");
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(7)));
    assert_eq!(err.suggested_delay(3), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn distribution_429_and_500_are_retryable_with_backoff() {
    for status in [429, 500] {
        let err = distribute_against(ResponseTemplate::new(status), TIMEOUT).await;
        assert!(
            matches!(
                err,
                DistributeError::Retryable {
                    retry_after: None,
                    ..
                }
            ),
            "{status}: {err:?}"
        );
        let delay = err.suggested_delay(1).unwrap();
        assert!(delay >= Duration::from_millis(7500) && delay <= Duration::from_secs(15));
    }
}

#[tokio::test]
async fn distribution_other_4xx_and_3xx_are_permanent() {
    for status in [400, 403, 404, 301] {
        let err = distribute_against(ResponseTemplate::new(status), TIMEOUT).await;
        assert_eq!(err, DistributeError::Permanent { status });
        assert_eq!(err.suggested_delay(1), None);
    }
}

#[tokio::test]
async fn distribution_timeout_is_retryable() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_secs(3));
    let err = distribute_against(slow, Duration::from_millis(300)).await;
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn invalid_content_type_is_the_hubs_fault() {
    let server = MockServer::start().await;
    let delivery = signed_delivery(
        &Url::parse(TOPIC).unwrap(),
        &Url::parse(HUB).unwrap(),
        "text/plain\r\nX-Injected: 1",
        Bytes::from_static(b"x"),
        None,
    );
    let callback = Url::parse(&format!("{}/cb", server.uri())).unwrap();
    let err = distribute(&client(), &callback, &delivery, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DistributeError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn unsigned(body: &'static [u8]) -> herold_websub::DeliveryRequest {
    signed_delivery(
        &Url::parse(TOPIC).unwrap(),
        &Url::parse(HUB).unwrap(),
        "application/atom+xml",
        Bytes::from_static(body),
        None,
    )
}

#[tokio::test]
async fn stored_callbacks_are_checked_again_before_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let port = server.address().port();
    // IP literals and localhost names: refused before any connection.
    for callback in [
        format!("http://127.0.0.1:{port}/cb"),
        format!("http://[::1]:{port}/cb"),
        format!("http://localhost:{port}/cb"),
        "http://10.0.0.1/cb".to_owned(),
    ] {
        let url = Url::parse(&callback).unwrap();
        assert_eq!(
            check_callback(&url),
            Err(DistributeError::NotPublic),
            "{callback}"
        );
    }
    assert_eq!(
        check_callback(&Url::parse("https://reader.example/cb").unwrap()),
        Ok(())
    );
    // A name that resolves to loopback when the delivery is made: the
    // guarded client's resolver drops the address, nothing is sent.
    let guarded = build_client(&ClientConfig::default()).unwrap();
    let by_name = Url::parse(&format!("http://localhost:{port}/cb")).unwrap();
    let err = distribute(&guarded, &by_name, &unsigned(b"<feed/>"), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(err, DistributeError::NotPublic);
    assert!(!err.to_string().contains("localhost"), "{err}");
}

#[tokio::test]
async fn connection_errors_do_not_name_the_callback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let callback = Url::parse(&format!(
        "http://127.0.0.1:{port}/private-path?token=t0p-s3cret"
    ))
    .unwrap();
    let err = distribute(&client(), &callback, &unsigned(b"<feed/>"), TIMEOUT)
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(err.is_retryable(), "{text}");
    for part in ["private-path", "t0p-s3cret", &port.to_string(), "127.0.0.1"] {
        assert!(!text.contains(part), "{part} in {text}");
    }
    let req = subscribe(callback.as_str(), Duration::from_secs(3600), None);
    let err = verify_intent(&client(), &req, TIMEOUT).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, VerifyError::Connection { .. }), "{text}");
    for part in ["private-path", "t0p-s3cret", &port.to_string()] {
        assert!(!text.contains(part), "{part} in {text}");
    }
}

/// The whole flow as the main crate runs it: form → verify → deliver.
#[tokio::test]
async fn end_to_end_subscription_and_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Echo { suffix: "" })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let callback = format!("{}/websub/callback-7f3a", server.uri());
    let form: Vec<(String, String)> = [
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", callback.as_str()),
        ("hub.lease_seconds", "600"),
        ("hub.secret", "a-long-random-secret"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let policy = HubPolicy {
        allow_private_callbacks: true,
        ..HubPolicy::default()
    };
    let topics = |t: &Url| t.as_str() == TOPIC;
    let req = parse_hub_request(&form, &policy, &topics, Transport::Loopback).unwrap();
    let HubRequest::Subscribe(sub) = &req else {
        panic!("expected subscribe");
    };
    assert_eq!(sub.lease, LeaseLimits::DEFAULT_MIN, "600 s is clamped up");

    let Verified::Subscribed { lease, .. } = verify_intent(&client(), &req, TIMEOUT).await.unwrap()
    else {
        panic!("expected subscribed");
    };
    assert!(!lease.is_expired(chrono::Utc::now()));

    let secret = sub.secret.as_ref().map(Secret::as_bytes);
    let delivery = signed_delivery(
        &sub.topic,
        &Url::parse(HUB).unwrap(),
        "application/atom+xml",
        Bytes::from_static(b"<feed/>"),
        secret,
    );
    distribute(&client(), &sub.callback, &delivery, TIMEOUT)
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let signature = post.headers["x-hub-signature"].to_str().unwrap();
    assert!(verify_signature(
        b"a-long-random-secret",
        &post.body,
        signature
    ));
}
