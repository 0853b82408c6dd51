//! What a request's headers may say about the request itself only when a
//! trusted reverse proxy sent it.
//!
//! actix's `connection_info()` believes `Forwarded` and `X-Forwarded-Proto`/
//! `-Host` from anyone, so a client could claim to have come over HTTPS.
//! [`request_origin`] believes them only from the peers in
//! `signup.trusted_proxies`; from any other peer the scheme is that of the
//! connection itself and the host that of the `Host` header.

use actix_web::{http::header, web, HttpRequest};

use crate::{config::TrustedProxy, service::Herold};

/// Scheme and host (with port, if any) a request was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, as in a `Host` header.
    pub host: String,
}

/// Whether the TCP peer of `req` is one of `trusted`.
pub fn from_trusted_proxy(req: &HttpRequest, trusted: &[TrustedProxy]) -> bool {
    req.peer_addr()
        .is_some_and(|peer| trusted.iter().any(|t| t.contains(peer.ip())))
}

/// [`request_origin_with`] the configured `signup.trusted_proxies` (none
/// without the application's state).
pub fn request_origin(req: &HttpRequest) -> RequestOrigin {
    match req.app_data::<web::Data<Herold>>() {
        Some(app) => request_origin_with(req, &app.config().signup.trusted_proxies),
        None => request_origin_with(req, &[]),
    }
}

/// Scheme and host of `req`: as the forwarding headers say when the peer is
/// one of `trusted`, else as the connection and its `Host` header say.
pub fn request_origin_with(req: &HttpRequest, trusted: &[TrustedProxy]) -> RequestOrigin {
    if from_trusted_proxy(req, trusted) {
        let info = req.connection_info();
        return RequestOrigin {
            scheme: info.scheme().to_owned(),
            host: info.host().to_owned(),
        };
    }
    let config = req.app_config();
    let scheme = if config.secure() { "https" } else { "http" };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| config.host().to_owned());
    RequestOrigin {
        scheme: scheme.to_owned(),
        host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn trusted() -> Vec<TrustedProxy> {
        vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/24".parse().unwrap()]
    }

    fn request(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::post()
            .uri("/websub")
            .peer_addr(format!("{peer}:4711").parse().unwrap())
            .insert_header(("host", "herold.internal:8080"));
        for (k, v) in headers {
            r = r.insert_header((*k, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn forged_forwarding_headers_from_untrusted_peers_are_ignored() {
        for headers in [
            vec![("x-forwarded-proto", "https")],
            vec![("forwarded", "proto=https;host=evil.example")],
            vec![
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.example"),
            ],
        ] {
            let origin = request_origin_with(&request("198.51.100.9", &headers), &trusted());
            assert_eq!(
                origin,
                RequestOrigin {
                    scheme: "http".into(),
                    host: "herold.internal:8080".into()
                },
                "{headers:?}"
            );
        }
    }

    #[test]
    fn forwarding_headers_from_trusted_proxies_are_honoured() {
        let origin = request_origin_with(
            &request("10.0.0.7", &[("x-forwarded-proto", "https")]),
            &trusted(),
        );
        assert_eq!(origin.scheme, "https");
        assert_eq!(origin.host, "herold.internal:8080");
        let origin = request_origin_with(
            &request(
                "127.0.0.1",
                &[("forwarded", "proto=https;host=info.musterstadt.de")],
            ),
            &trusted(),
        );
        assert_eq!(
            origin,
            RequestOrigin {
                scheme: "https".into(),
                host: "info.musterstadt.de".into()
            }
        );
        // Without headers a trusted peer's request is what it is.
        let origin = request_origin_with(&request("127.0.0.1", &[]), &trusted());
        assert_eq!(origin.scheme, "http");
    }

    #[test]
    fn without_configuration_no_peer_is_trusted() {
        let origin = request_origin(&request("127.0.0.1", &[("x-forwarded-proto", "https")]));
        assert_eq!(origin.scheme, "http");
    }
}
