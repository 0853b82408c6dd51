//! Headers every answer carries, and the same-origin rule of forms that
//! change something for residents.
//!
//! Every page gets a Content-Security-Policy without scripts and with
//! `frame-ancestors 'none'` (no clickjacking), `X-Content-Type-Options:
//! nosniff` and a `Referrer-Policy`; pages whose address carries a secret
//! token (confirmation, unsubscribe, manage and download links) are never
//! stored by caches (`no-store`) and never leak it as a referrer
//! (`no-referrer`). Handlers that set their own values keep them.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    HttpRequest,
};

/// The policy of Herold's own pages: no scripts, styles inline, images
/// and forms from Herold only, never framed.
pub const CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Paths whose next segment is a secret token.
const TOKEN_PATHS: [&str; 5] = ["/confirm/", "/unsubscribe/", "/manage/", "/data/", "/staff"];

/// Middleware: the headers above, where a handler did not set them.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secret = TOKEN_PATHS.iter().any(|p| req.path().starts_with(p));
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    let mut default = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::CONTENT_SECURITY_POLICY, CSP);
    if secret {
        default(header::CACHE_CONTROL, "no-store");
        default(header::REFERRER_POLICY, "no-referrer");
    } else {
        default(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    }
    Ok(res)
}

/// How long a client may take to send a request body. actix-web limits
/// the time to the end of the request head (`client_request_timeout`), not
/// the body: without this, a client sending a byte now and then would hold
/// a connection and a handler for ever.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Middleware: a request body not complete within [`BODY_TIMEOUT`] of the
/// head ends in an error (the extractor's 400) and the connection is
/// closed.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    use futures_util::StreamExt;
    if matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) {
        return next.call(req).await;
    }
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let payload = req.take_payload();
    let limited = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(actix_web::error::PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body too slow",
                ))),
                None,
            )),
        }
    });
    // Fused: readers such as multipart poll again after the end, which an
    // unfolded stream does not allow.
    req.set_payload(actix_web::dev::Payload::from(
        Box::pin(limited.fuse()) as std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>>
    ));
    next.call(req).await
}

/// Whether a form post comes from Herold's own pages: a browser says
/// where it comes from (`Sec-Fetch-Site`, or else `Origin`); another site's
/// page posting to Herold is refused. Requests without either header
/// (programs, not browsers) cannot be forged by another site and pass.
pub fn same_origin(req: &HttpRequest, public_url: &url::Url) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match req.headers().get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => url::Url::parse(origin)
            .is_ok_and(|o| o.origin() == public_url.origin() || is_own_address(req, &o)),
        Some(Err(_)) => false,
    }
}

/// Whether `origin` is the address this request was sent to (Herold
/// reached directly, not through its public address). Forwarded scheme and
/// host count only from a trusted proxy ([`super::proxy`]).
fn is_own_address(req: &HttpRequest, origin: &url::Url) -> bool {
    let own = super::proxy::request_origin(req);
    origin.host_str().is_some_and(|h| {
        let host = match origin.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        };
        host == own.host && origin.scheme() == own.scheme
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn cross_site_posts_are_refused() {
        let public = url::Url::parse("https://info.musterstadt.de/").unwrap();
        let from = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post().uri("/subscribe");
            for (k, v) in headers {
                r = r.insert_header((*k, *v));
            }
            same_origin(&r.to_http_request(), &public)
        };
        assert!(from(&[]));
        assert!(from(&[("sec-fetch-site", "same-origin")]));
        assert!(!from(&[("sec-fetch-site", "cross-site")]));
        assert!(!from(&[("sec-fetch-site", "same-site")]));
        assert!(from(&[("origin", "https://info.musterstadt.de")]));
        assert!(!from(&[("origin", "https://evil.example")]));
        assert!(!from(&[("origin", "null")]));
    }

    #[test]
    fn own_address_ignores_forged_forwarding_headers() {
        // Herold reached directly at http://herold.internal:8080 by a peer
        // that is no trusted proxy: an https origin is not its own, however
        // the request claims to have been forwarded.
        let public = url::Url::parse("https://info.musterstadt.de/").unwrap();
        let req = |origin: &str, proto: Option<&str>| {
            let mut r = TestRequest::post()
                .uri("/subscribe")
                .peer_addr("198.51.100.9:4711".parse().unwrap())
                .insert_header(("host", "herold.internal:8080"))
                .insert_header(("origin", origin));
            if let Some(p) = proto {
                r = r.insert_header(("x-forwarded-proto", p));
            }
            r.to_http_request()
        };
        assert!(same_origin(
            &req("http://herold.internal:8080", None),
            &public
        ));
        assert!(!same_origin(
            &req("https://herold.internal:8080", Some("https")),
            &public
        ));
    }
}
