//! `/media/{id}.{ext}`: the images of published announcements, immutable
//! once stored, so cached for a year and validated by their SHA-256.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::conditional::{self, Validators};
use crate::service::Herold;

/// Images never change under their id (the database refuses it).
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `GET /media/{id}` or `/media/{id}.{ext}`: 404 unless a published
/// announcement shows the image (and `ext` matches its format).
pub async fn image(
    req: HttpRequest,
    app: web::Data<Herold>,
    name: web::Path<String>,
) -> HttpResponse {
    let Some((id, ext)) = parse_name(&name) else {
        return not_found();
    };
    let app = app.into_inner();
    let found = web::block(move || app.public_image(id, ext.as_deref(), Utc::now())).await;
    let file = match found {
        Ok(Ok(Some(file))) => file,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, image = id, "image failed");
            return HttpResponse::InternalServerError().finish();
        }
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    conditional::respond_with(
        &req,
        &Validators {
            etag: &file.image.sha256,
            last_modified: file.created_at,
            cache_control: CACHE_CONTROL,
        },
        file.image.format.mime_type(),
        file.bytes,
        |r| {
            r.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        },
    )
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body("unknown image\n")
}

/// `12` or `12.jpg` → (12, extension).
fn parse_name(name: &str) -> Option<(i64, Option<String>)> {
    let (stem, ext) = match name.split_once('.') {
        Some((stem, ext)) => (stem, Some(ext.to_owned())),
        None => (name, None),
    };
    let id = stem.parse::<i64>().ok().filter(|id| *id > 0)?;
    Some((id, ext))
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn names() {
        assert_eq!(parse_name("12.jpg"), Some((12, Some("jpg".into()))));
        assert_eq!(parse_name("12"), Some((12, None)));
        assert_eq!(parse_name("x.jpg"), None);
        assert_eq!(parse_name("-1.png"), None);
        assert_eq!(parse_name("1.tar.gz"), Some((1, Some("tar.gz".into()))));
    }
}
