use actix_web::{web, HttpRequest, HttpResponse};
use herold_channel_api::{ChannelKind, InboundError, InboundRequest};
use std::collections::HashMap;

use crate::{engine::Webhook, service::Herold};

/// The channels' webhooks, by kind.
pub type Webhooks = HashMap<ChannelKind, Webhook>;

/// `POST /webhooks/{channel}`: verify the signature over the raw body
/// before anything is parsed, then apply what the provider reports.
pub async fn webhook(
    app: web::Data<Herold>,
    hooks: web::Data<Webhooks>,
    channel: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Ok(kind) = channel.parse::<ChannelKind>() else {
        return HttpResponse::NotFound().body("no such channel\n");
    };
    let Some(hook) = hooks.get(&kind).cloned() else {
        return HttpResponse::NotFound().body("this channel has no webhook\n");
    };
    // actix-web speaks http 0.2; the adapter API speaks http 1.
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    let inbound = InboundRequest::new(
        headers,
        Some(req.query_string().to_owned()).filter(|q| !q.is_empty()),
        body.to_vec(),
    );
    if let Err(e) = hook.verifier.verify(&inbound) {
        tracing::warn!(channel = %kind, error = %e, "webhook refused");
        return HttpResponse::Unauthorized().body(format!("{e}\n"));
    }
    let events = match hook.parser.parse(&inbound) {
        Ok(ev) => ev,
        Err(InboundError::Unsupported(what)) => {
            tracing::debug!(channel = %kind, %what, "webhook ignored");
            return HttpResponse::Ok().json(serde_json::json!({ "ignored": what }));
        }
        Err(e) => return HttpResponse::BadRequest().body(format!("{e}\n")),
    };
    let app = app.into_inner();
    match web::block(move || app.apply_receipts(kind, &events)).await {
        Ok(Ok(summary)) => HttpResponse::Ok().json(summary),
        Ok(Err(e)) => {
            tracing::warn!(channel = %kind, error = %e, "webhook events not recorded");
            // The provider retries on 5xx: nothing accepted is lost.
            HttpResponse::ServiceUnavailable().body("try again later\n")
        }
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
