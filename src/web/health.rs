use actix_web::{web, HttpResponse};

use crate::service::Herold;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Readiness: the database answers.
pub async fn readyz(app: web::Data<Herold>) -> HttpResponse {
    let app = app.into_inner();
    match web::block(move || app.db().ping()).await {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable\n")
        }
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
