use actix_web::{web, HttpResponse};
use std::sync::Arc;

use crate::{metrics::Metrics, service::Herold};

/// Prometheus scrape endpoint (OpenMetrics text).
pub async fn metrics(app: web::Data<Herold>, metrics: web::Data<Arc<Metrics>>) -> HttpResponse {
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
