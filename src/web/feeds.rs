use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::conditional;
use crate::service::{FeedName, Herold};

/// `/feeds/all.atom`, `/feeds/{category}.atom`, `/feeds/{category}.rss`,
/// `/feeds/{category}.ics` (and `all.rss`, `all.ics`).
pub async fn feed(
    req: HttpRequest,
    app: web::Data<Herold>,
    name: web::Path<String>,
) -> HttpResponse {
    let name = name.into_inner();
    let Some(FeedName { scope, format }) = FeedName::parse(&name) else {
        return HttpResponse::NotFound().content_type("text/plain").body("unknown feed; expected /feeds/all.atom, /feeds/all.rss, /feeds/all.ics or the same for a CATEGORY\n");
    };
    let app = app.into_inner();
    let doc = match web::block(move || app.feed(&scope, format, Utc::now())).await {
        Ok(Ok(Some(doc))) => doc,
        Ok(Ok(None)) => {
            return HttpResponse::NotFound()
                .content_type("text/plain")
                .body("unknown category\n")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "feed failed");
            return HttpResponse::InternalServerError().finish();
        }
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    conditional::respond(
        &req,
        &doc.etag,
        doc.last_modified,
        doc.content_type,
        doc.body,
    )
}
