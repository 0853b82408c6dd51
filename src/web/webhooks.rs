//! `/webhooks/{channel}`: providers calling Herold. The configured adapter
//! checks each request before anything is parsed; what it reports is stored
//! (encrypted, once per provider id) and answered at once. The inbound
//! processor (`crate::inbound`) hands it to the core services later.

use actix_web::{web, HttpRequest, HttpResponse};
use herold_channel_api::{ChannelKind, InboundError, InboundRequest};

use crate::{
    registry::{Registry, Webhook},
    service::Herold,
};

/// The largest webhook body accepted; providers' status and message
/// callbacks are a few KiB (media are fetched separately).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a channel named in the path takes no webhook requests.
enum NoHook {
    /// No such channel (404).
    Unknown,
    /// Herold polls it instead (409): a webhook request would bypass the
    /// poller's cursor.
    Polled(ChannelKind),
    /// The channel has no webhook (404).
    None,
}

impl NoHook {
    fn answer(self) -> HttpResponse {
        match self {
            NoHook::Unknown => HttpResponse::NotFound().body("no such channel\n"),
            NoHook::Polled(kind) => HttpResponse::Conflict().body(format!(
                "{kind} updates are received by long polling here ({kind}.mode), so this webhook accepts nothing; set {kind}.mode = \"webhook\" to use it\n"
            )),
            NoHook::None => HttpResponse::NotFound().body("this channel has no webhook\n"),
        }
    }
}

/// The webhook of the channel named in the path, or why there is none.
fn hook(registry: &Registry, channel: &str) -> Result<(ChannelKind, Webhook), NoHook> {
    let kind = channel
        .parse::<ChannelKind>()
        .map_err(|_| NoHook::Unknown)?;
    if registry.poller(kind).is_some() {
        return Err(NoHook::Polled(kind));
    }
    let hook = registry.webhook(kind).cloned().ok_or(NoHook::None)?;
    Ok((kind, hook))
}

/// The request as the adapter API sees it (actix-web speaks http 0.2, the
/// adapter API http 1).
fn inbound(req: &HttpRequest, body: &[u8]) -> InboundRequest {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    InboundRequest::new(
        headers,
        Some(req.query_string().to_owned()).filter(|q| !q.is_empty()),
        body.to_vec(),
    )
}

/// `GET /webhooks/{channel}`: the provider's verification handshake, if the
/// channel has one.
pub async fn handshake(
    registry: web::Data<Registry>,
    channel: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let (kind, hook) = match hook(&registry, &channel) {
        Ok(h) => h,
        Err(why) => return why.answer(),
    };
    match hook.verifier.handshake(&inbound(&req, &[])) {
        Ok(Some(body)) => HttpResponse::Ok().content_type("text/plain").body(body),
        Ok(None) => HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", "POST"))
            .body("this channel has no verification handshake\n"),
        Err(e) => {
            tracing::warn!(channel = %kind, error = %e, "webhook handshake refused");
            HttpResponse::Forbidden().body(format!("{e}\n"))
        }
    }
}

/// `POST /webhooks/{channel}`: verify the signature over the raw body
/// before anything is parsed, then store what the provider reports and
/// answer `{"stored": n, "duplicates": m}`.
pub async fn webhook(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    channel: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (kind, hook) = match hook(&registry, &channel) {
        Ok(h) => h,
        Err(why) => return why.answer(),
    };
    let inbound = inbound(&req, &body);
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
    match web::block(move || app.accept_inbound(kind, &events)).await {
        Ok(Ok(stored)) => HttpResponse::Ok().json(serde_json::json!({
            "stored": stored.new,
            "duplicates": stored.duplicates,
        })),
        Ok(Err(e)) => {
            tracing::warn!(channel = %kind, error = %e, "webhook events not stored");
            // The provider retries on 5xx: nothing accepted is lost.
            HttpResponse::ServiceUnavailable().body("try again later\n")
        }
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
