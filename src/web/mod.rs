//! The web server (actix-web): health probes, feeds and public pages. Handlers are thin:
//! they parse the request, call [`crate::service`] on a blocking thread
//! (diesel is synchronous) and shape the response.

pub(crate) mod client_limit;
mod conditional;
mod data;
mod demo;
mod feeds;
mod health;
mod media;
mod metrics;
mod pages;
mod proxy;
pub mod public_cache;
pub(crate) mod security;
mod signup;
mod staff;
mod webhooks;
mod websub;

use actix_web::{middleware, web, App, HttpResponse, HttpServer};

use std::sync::Arc;

use crate::{metrics::Metrics, registry::Registry, service::Herold};

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
        .service(
            web::resource("/webhooks/{channel}")
                // The raw body, limited before anything reads it.
                .app_data(web::PayloadConfig::new(webhooks::MAX_BODY_BYTES))
                .route(web::post().to(webhooks::webhook))
                .route(web::get().to(webhooks::handshake)),
        )
        .route("/privacy", get_or_head().to(pages::privacy))
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
        .route("/manage/{token}/data", web::post().to(data::by_manage_link))
        .route("/data/{token}", web::get().to(data::page))
        .route("/data/{token}", web::post().to(data::by_link))
        .route("/websub", web::post().to(websub::hub))
        .route("/demo", web::get().to(demo::index))
        .route("/demo/mail/{id}", web::get().to(demo::mail))
        .route("/demo/{channel}", web::get().to(demo::conversation))
        .configure(staff::configure)
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

/// The shared state every handler may ask for, from the composition root;
/// `runtime` is the process's runtime, where the adapters' connections live.
pub fn app_data(app: &crate::app::App, runtime: tokio::runtime::Handle) -> AppData {
    AppData {
        runtime: web::Data::new(runtime),
        herold: web::Data::new(app.herold().clone()),
        registry: web::Data::from(app.registry().clone()),
        metrics: web::Data::new(app.metrics().clone()),
        hub: web::Data::from(app.hub().clone()),
        client_limit: web::Data::new(client_limit::ClientLimit::new(
            &app.herold().config().signup,
        )),
        hub_limit: web::Data::new(websub::HubLimit::new(app.herold().config())),
        sandbox: app.sandbox().map(|s| web::Data::new(s.clone())),
        public_cache: web::Data::new(public_cache::PublicCache::new(
            std::time::Duration::from_millis(app.herold().config().public_refresh_ms),
            app.sandbox().is_none(),
        )),
    }
}

/// Handler state, built once and shared by every server thread.
#[derive(Clone)]
pub struct AppData {
    runtime: web::Data<tokio::runtime::Handle>,
    herold: web::Data<Herold>,
    registry: web::Data<Registry>,
    metrics: web::Data<Arc<Metrics>>,
    hub: web::Data<crate::websub::Hub>,
    client_limit: web::Data<client_limit::ClientLimit>,
    hub_limit: web::Data<websub::HubLimit>,
    /// `herold demo`: what the sandbox channels sent.
    sandbox: Option<web::Data<Arc<crate::demo::Sandbox>>>,
    /// Rendered feeds and public pages.
    public_cache: web::Data<public_cache::PublicCache>,
}

impl AppData {
    /// Registers the state with an actix `App`.
    pub fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.runtime.clone())
            .app_data(self.herold.clone())
            .app_data(self.registry.clone())
            .app_data(self.metrics.clone())
            .app_data(self.hub.clone())
            .app_data(self.client_limit.clone())
            .app_data(self.hub_limit.clone())
            .app_data(self.public_cache.clone());
        if let Some(s) = &self.sandbox {
            cfg.app_data(s.clone());
        }
    }

    /// Whether this is `herold demo`.
    pub fn is_demo(&self) -> bool {
        self.sandbox.is_some()
    }
}

/// Serves until SIGINT/SIGTERM, on the runtime of the caller (the process's
/// one tokio runtime); actix runs its worker threads beside it.
pub async fn serve(app: &crate::app::App) -> std::io::Result<()> {
    let listen = app.herold().config().listen;
    // actix serves requests on threads with runtimes of their own; adapters
    // are used on the process's runtime, which runs this function.
    let data = app_data(app, tokio::runtime::Handle::current());
    let server = HttpServer::new(move || {
        let data = data.clone();
        App::new()
            .configure(|cfg| data.register(cfg))
            .app_data(web::PayloadConfig::new(1 << 20))
            .wrap(middleware::from_fn(websub::feed_links))
            .wrap(middleware::from_fn(security::headers))
            .wrap(middleware::from_fn(security::body_deadline))
            .wrap(middleware::Condition::new(
                data.is_demo(),
                middleware::from_fn(demo::banner),
            ))
            .wrap(middleware::Compress::default())
            // Path only, and without the secret tokens of sign-up links.
            .wrap(
                middleware::Logger::new("%m %{path}xi %s %b %Dms")
                    .custom_request_replace("path", |req| redact_path(req.path()))
                    .log_target("herold::http"),
            )
            .configure(configure)
    })
    // Responses go out at once: without TCP_NODELAY a response written in
    // two parts waits for the client's delayed ACK (about 40 ms) on
    // keep-alive connections.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
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
