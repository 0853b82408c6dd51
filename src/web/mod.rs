//! The web server (actix-web): health probes, feeds and public pages. Handlers are thin:
//! they parse the request, call [`crate::service`] on a blocking thread
//! (diesel is synchronous) and shape the response.

mod conditional;
mod feeds;
mod health;
mod pages;

use actix_web::{middleware, web, App, HttpResponse, HttpServer};

use crate::service::Herold;

/// Routes, for the server and for in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/", web::get().to(pages::index))
        .route("/announcements/{id}", web::get().to(pages::announcement))
        .route("/feeds/{name}", web::get().to(feeds::feed))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().body("not found\n")
        }));
}

/// Serves until SIGINT/SIGTERM.
pub async fn serve(app: Herold) -> std::io::Result<()> {
    let listen = app.config.listen;
    let data = web::Data::new(app);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
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
