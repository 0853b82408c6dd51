//! `POST /websub`, Herold's WebSub hub, and the `Link` headers that
//! advertise it on every feed.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        header::{HeaderValue, LINK, RETRY_AFTER},
        StatusCode,
    },
    middleware::Next,
    web, HttpRequest, HttpResponse,
};
use std::num::NonZeroU32;

use governor::Quota;
use herold_websub::{form_pairs, Transport};

use super::{client_limit::ClientLimit, proxy::request_origin};
use crate::{
    config::Config,
    service::Herold,
    websub::{feed_link_header, Hub, WebsubError},
};

/// The per-client limit of `POST /websub`
/// (`websub.max_requests_per_client_per_minute`).
pub struct HubLimit(ClientLimit);

impl HubLimit {
    /// From `config.websub`; clients told apart as `[signup]` says.
    pub fn new(config: &Config) -> Self {
        let quota = NonZeroU32::new(config.websub.max_requests_per_client_per_minute)
            .map(Quota::per_minute);
        Self(ClientLimit::with_quota(quota, &config.signup))
    }
}

/// A subscribe or unsubscribe request (form-encoded). `400` with the reason
/// as text, `403` when a new subscription would exceed a cap, `429` (with
/// `Retry-After`) when the client sent too many requests, or `202 Accepted`
/// at once; the subscriber's intent is verified in the background, and only
/// then does anything change.
pub async fn hub(
    req: HttpRequest,
    body: web::Bytes,
    app: web::Data<Herold>,
    hub: Option<web::Data<Hub>>,
    limit: Option<web::Data<HubLimit>>,
) -> HttpResponse {
    let Some(hub) = hub.filter(|_| app.config().websub.enabled) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("the WebSub hub is disabled (websub.enabled)\n");
    };
    if let Some(Err(wait)) = limit.map(|l| l.0.check(&req)) {
        return HttpResponse::TooManyRequests()
            .insert_header((RETRY_AFTER, wait.as_secs().max(1).to_string()))
            .content_type("text/plain; charset=utf-8")
            .body("too many requests to the hub from this client; try again later\n");
    }
    // The scheme a trusted proxy forwards counts; anyone else's claim not.
    let https = request_origin(&req).scheme == "https";
    let transport = Transport::classify(https, req.peer_addr().map(|a| a.ip()));
    let form = form_pairs(&body);
    let (checker, for_check) = (hub.clone().into_inner(), app.clone().into_inner());
    let request = match web::block(move || checker.check(&for_check, &form, transport)).await {
        Ok(Ok(r)) => r,
        Ok(Err(WebsubError::Request(e))) => {
            return HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(format!("{e}\n"))
        }
        Ok(Err(WebsubError::Cap(cap))) => {
            return HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body(format!("{cap}\n"))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "websub request could not be checked");
            return HttpResponse::InternalServerError().finish();
        }
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    let Some(slot) = hub.reserve() else {
        return HttpResponse::ServiceUnavailable()
            .insert_header((RETRY_AFTER, "60"))
            .content_type("text/plain; charset=utf-8")
            .body("too many verifications under way; try again later\n");
    };
    actix_web::rt::spawn(
        hub.into_inner()
            .verify_in_background(app.into_inner(), request, slot),
    );
    HttpResponse::Accepted().finish()
}

/// Middleware: adds `Link: <hub>; rel="hub", <feed>; rel="self"` to
/// successful (and `304`) answers under `/feeds/`.
pub async fn feed_links(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let link = req.path().strip_prefix("/feeds/").and_then(|name| {
        let app = req.app_data::<web::Data<Herold>>()?;
        feed_link_header(app.config(), name)
    });
    let mut res = next.call(req).await?;
    let status = res.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
            res.headers_mut().append(LINK, value);
        }
    }
    Ok(res)
}
