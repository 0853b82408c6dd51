use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::public_cache::{PublicCache, Rendered};
use crate::service::{FeedName, Herold};

/// How long feeds may be cached without asking again.
const FEED_CACHE_CONTROL: &str = "public, max-age=60";

/// `/feeds/all.atom`, `/feeds/{category}.atom`, `/feeds/{category}.rss`,
/// `/feeds/{category}.ics` (and `all.rss`, `all.ics`), from the cache of
/// public documents.
pub async fn feed(
    req: HttpRequest,
    app: web::Data<Herold>,
    cache: web::Data<PublicCache>,
    name: web::Path<String>,
) -> HttpResponse {
    let name = name.into_inner();
    let Some(FeedName { scope, format }) = FeedName::parse(&name) else {
        return HttpResponse::NotFound().content_type("text/plain").body("unknown feed; expected /feeds/all.atom, /feeds/all.rss, /feeds/all.ics or the same for a CATEGORY\n");
    };
    let herold = app.into_inner();
    let h = herold.clone();
    let found = cache
        .into_inner()
        .get_or_render(&herold, req.path(), move || {
            Ok::<_, crate::service::ServiceError>(h.feed(&scope, format, Utc::now())?.map(|doc| {
                Rendered {
                    status: StatusCode::OK,
                    content_type: doc.content_type,
                    cache_control: FEED_CACHE_CONTROL,
                    last_modified: doc.last_modified,
                    body: doc.body,
                }
            }))
        })
        .await;
    match found {
        Ok(Some(doc)) => doc.respond(&req),
        Ok(None) => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("unknown category\n"),
        Err(e) => {
            tracing::error!(error = %e, "feed failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
