//! Conditional GET (RFC 9110 §13): ETag and Last-Modified validators, 304
//! when the client's copy is current. `If-None-Match` wins over
//! `If-Modified-Since`, as the RFC requires.

use actix_web::{
    body::MessageBody,
    http::header::{self, EntityTag, HttpDate, IfModifiedSince, IfNoneMatch},
    HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder,
};
use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime};

/// What a conditional response is validated and cached by.
pub struct Validators<'a> {
    /// Strong entity tag, with or without quotes.
    pub etag: &'a str,
    pub last_modified: DateTime<Utc>,
    /// The `Cache-Control` value.
    pub cache_control: &'a str,
}

/// Answers 200 with validators, or 304 if the request's validators match;
/// with any body, cache policy and extra headers (added to 200 and 304
/// alike).
pub fn respond_with(
    req: &HttpRequest,
    v: &Validators<'_>,
    content_type: &str,
    body: impl MessageBody + 'static,
    extra: impl FnOnce(&mut HttpResponseBuilder),
) -> HttpResponse {
    let (etag, last_modified) = (v.etag, v.last_modified);
    let tag = EntityTag::new_strong(etag.trim_matches('"').to_owned());
    let secs = u64::try_from(last_modified.timestamp()).unwrap_or(0);
    let modified = HttpDate::from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    let not_modified = match req.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(items)) => items.iter().any(|t| t.weak_eq(&tag)),
        None => match req.get_header::<IfModifiedSince>() {
            Some(IfModifiedSince(since)) => SystemTime::from(since) >= SystemTime::from(modified),
            None => false,
        },
    };
    let mut resp = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header(header::ETag(tag))
        .insert_header(header::LastModified(modified))
        .insert_header((header::CACHE_CONTROL, v.cache_control));
    extra(&mut resp);
    if not_modified {
        resp.finish()
    } else {
        resp.content_type(content_type).body(body)
    }
}
