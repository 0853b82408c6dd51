//! The web server (actix-web): health probes, feeds and public pages. Handlers are thin:
//! they parse the request, call [`crate::service`] on a blocking thread
//! (diesel is synchronous) and shape the response.

mod client_limit;
mod conditional;
mod feeds;
mod health;
mod media;
mod metrics;
mod pages;
mod signup;
mod webhooks;
mod websub;

use actix_web::{middleware, web, App, HttpResponse, HttpServer};

use std::sync::Arc;

use crate::{metrics::Metrics, service::Herold};

/// A route for GET and HEAD; actix sends no body for HEAD.
fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// Routes, for the server and for in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        // Public documents also answer HEAD (feed readers and link checkers
        // use it): the same headers, no body.
        .route("/", get_or_head().to(pages::index))
        .route("/announcements/{id}", get_or_head().to(pages::announcement))
        .route("/feeds/{name}", get_or_head().to(feeds::feed))
        .route("/media/{name}", get_or_head().to(media::image))
        .route("/webhooks/{channel}", web::post().to(webhooks::webhook))
        .route("/subscribe", web::get().to(signup::form_page))
        .route("/subscribe", web::post().to(signup::subscribe))
        .route(
            "/subscribe/confirm/{token}",
            web::get().to(signup::confirm_page),
        )
        .route(
            "/subscribe/confirm/{token}",
            web::post().to(signup::confirm),
        )
        .route(
            "/unsubscribe/{token}",
            web::get().to(signup::unsubscribe_page),
        )
        .route("/unsubscribe/{token}", web::post().to(signup::unsubscribe))
        .route("/manage/{token}", web::get().to(signup::manage))
        .route("/manage/{token}", web::post().to(signup::save_categories))
        .route("/manage/{token}/erase", web::post().to(signup::erase))
        .route("/websub", web::post().to(websub::hub))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().body("not found\n")
        }));
}

/// A request path fit for logs: the token of sign-up, unsubscribe and
/// manage links is replaced by `…`.
pub fn redact_path(path: &str) -> String {
    for prefix in ["/subscribe/confirm/", "/unsubscribe/", "/manage/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{tail}");
        }
    }
    path.to_owned()
}

/// Serves until SIGINT/SIGTERM; `/metrics` shows what `metrics` records
/// (the in-process delivery engine's figures).
pub async fn serve(app: Herold, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listen = app.config().listen;
    let app_config = app.config().clone();
    let data = web::Data::new(app);
    let metrics = web::Data::new(metrics);
    let hooks = web::Data::new(crate::engine::webhooks(&app_config));
    let hub = web::Data::new(
        crate::websub::Hub::new(&app_config).map_err(|e| std::io::Error::other(e.to_string()))?,
    );
    // Confirmation mails go out through the same SMTP settings as newsletters.
    let mailer: signup::Mailer = match &app_config.email {
        Some(cfg) => Some(Arc::new(
            herold_channel_email::EmailChannel::new(cfg.clone())
                .map_err(|e| std::io::Error::other(format!("email: {e}")))?,
        )),
        None => None,
    };
    let mailer = web::Data::new(mailer);
    let client_limit = web::Data::new(client_limit::ClientLimit::new(&app_config.signup));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(mailer.clone())
            .app_data(client_limit.clone())
            .app_data(metrics.clone())
            .app_data(hooks.clone())
            .app_data(hub.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .wrap(middleware::from_fn(websub::feed_links))
            .wrap(middleware::Compress::default())
            // Path only, and without the secret tokens of sign-up links.
            .wrap(
                middleware::Logger::new("%m %{path}xi %s %b %Dms")
                    .custom_request_replace("path", |req| redact_path(req.path()))
                    .log_target("herold::http"),
            )
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

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(
            super::redact_path("/manage/abcDEF123/erase"),
            "/manage/…/erase"
        );
        assert_eq!(
            super::redact_path("/unsubscribe/abcDEF123"),
            "/unsubscribe/…"
        );
        assert_eq!(
            super::redact_path("/subscribe/confirm/xyz"),
            "/subscribe/confirm/…"
        );
        assert_eq!(super::redact_path("/feeds/all.atom"), "/feeds/all.atom");
    }
}
