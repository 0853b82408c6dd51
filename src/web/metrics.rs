use actix_web::{http::header, web, HttpRequest, HttpResponse};
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::{metrics::Metrics, service::Herold};

/// Whether `req` may read the metrics: with `metrics_token` configured, it
/// must carry it as a bearer token; without, it must come from this host.
fn allowed(app: &Herold, req: &HttpRequest) -> bool {
    match &app.config().metrics_token {
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                !token.expose().is_empty()
                    && bool::from(given.trim().as_bytes().ct_eq(token.expose().as_bytes()))
            }),
        None => req.peer_addr().is_some_and(|a| a.ip().is_loopback()),
    }
}

/// Prometheus scrape endpoint (OpenMetrics text); see [`allowed`].
pub async fn metrics(
    app: web::Data<Herold>,
    metrics: web::Data<Arc<Metrics>>,
    req: HttpRequest,
) -> HttpResponse {
    if !allowed(&app, &req) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .body("metrics_token required\n");
    }
    let app = app.into_inner();
    let depth = match web::block(move || app.db().queue_depth()).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "queue depth unavailable");
            Vec::new()
        }
        Err(_) => Vec::new(),
    };
    match metrics.encode(&depth) {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
