//! Residents download what Herold holds about them (Art. 15 and 20 GDPR)
//! as a JSON file: from the manage page, or through the single-use link
//! the "Daten" command sends. As with every link, a GET only shows a page
//! with a button (messengers fetch links for previews); the download is a
//! POST.

use actix_web::{http::StatusCode, web, HttpResponse};
use chrono::Utc;

use super::signup::{blocking_page, notice, Action};
use crate::service::{Herold, SignupError, SubscriberExport};

/// `GET /data/{token}`: the page with the download button.
pub async fn page(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        if !app.data_link_valid(&token, Utc::now())? {
            return Ok((
                StatusCode::NOT_FOUND,
                notice(app, "data.title", "data.unknown", None)?,
            ));
        }
        let label = super::pages::page_tr(app).get("data.button");
        let action = Action {
            url: format!("/data/{token}"),
            label,
        };
        Ok((
            StatusCode::OK,
            notice(app, "data.title", "data.text", Some(action))?,
        ))
    })
    .await
}

/// `POST /data/{token}`: the download, once.
pub async fn by_link(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    download(app, move |app| app.export_by_link(&token, Utc::now())).await
}

/// `POST /manage/{token}/data`: the download from the manage page.
pub async fn by_manage_link(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    download(app, move |app| app.export_by_manage_token(&token)).await
}

async fn download<F>(app: web::Data<Herold>, f: F) -> HttpResponse
where
    F: FnOnce(&Herold) -> Result<SubscriberExport, SignupError> + Send + 'static,
{
    let app = app.into_inner();
    let result = web::block(move || {
        let export = f(&app);
        let refused = match &export {
            Err(SignupError::UnknownToken | SignupError::Ended) => {
                Some(notice(&app, "data.title", "data.unknown", None))
            }
            _ => None,
        };
        (export, refused)
    })
    .await;
    match result {
        Ok((Ok(export), _)) => match serde_json::to_vec_pretty(&export) {
            Ok(body) => HttpResponse::Ok()
                .content_type("application/json")
                .insert_header((
                    "Content-Disposition",
                    "attachment; filename=\"herold-daten.json\"",
                ))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Referrer-Policy", "no-referrer"))
                .body(body),
            Err(e) => {
                tracing::error!(error = %e, "export could not be serialised");
                HttpResponse::InternalServerError().finish()
            }
        },
        Ok((Err(_), Some(Ok(page)))) => HttpResponse::build(StatusCode::NOT_FOUND)
            .content_type("text/html; charset=utf-8")
            .body(page),
        Ok((Err(e), _)) => {
            tracing::error!(error = %e, "export failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
