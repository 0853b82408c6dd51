//! The web server (actix-web): health probes, feeds and public pages. Handlers are thin:
//! they parse the request, call [`crate::service`] on a blocking thread
//! (diesel is synchronous) and shape the response.

mod conditional;
mod feeds;
mod health;
mod metrics;
mod pages;
mod webhooks;

use actix_web::{middleware, web, App, HttpResponse, HttpServer};

use std::sync::Arc;

use crate::{metrics::Metrics, service::Herold};

/// Routes, for the server and for in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/", web::get().to(pages::index))
        .route("/announcements/{id}", web::get().to(pages::announcement))
        .route("/feeds/{name}", web::get().to(feeds::feed))
        .route("/webhooks/{channel}", web::post().to(webhooks::webhook))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().body("not found\n")
        }));
}

/// Serves until SIGINT/SIGTERM; `/metrics` shows what `metrics` records
/// (the in-process delivery engine's figures).
pub async fn serve(app: Herold, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listen = app.config.listen;
    let app_config = app.config.clone();
    let data = web::Data::new(app);
    let metrics = web::Data::new(metrics);
    let hooks = web::Data::new(crate::engine::webhooks(&app_config));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(metrics.clone())
            .app_data(hooks.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .wrap(middleware::Compress::default())
            // Path only: query strings may one day carry tokens.
            .wrap(middleware::Logger::new("%m %U %s %b %Dms").log_target("herold::http"))
            .configure(configure)
    })
    .bind(listen)
    .map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {listen} (listen / HEROLD_LISTEN): {e}"),
        )
    })?;
    tracing::info!(%listen, "serving");
    server.run().await
}
