//! Public HTML pages: the overview and one page per announcement (the link
//! target of feed entries). Rendered with askama; all text through the
//! message catalogues.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use super::public_cache::{PublicCache, Rendered};

use crate::{
    domain::{Announcement, Category},
    i18n::Tr,
    render,
    service::Herold,
};

/// An announcement prepared for display.
pub struct Item {
    pub title: String,
    pub url: String,
    pub date: String,
    pub category: String,
    pub urgent: bool,
    pub html: String,
    /// When the announced event takes place, in local time.
    pub event_when: Option<String>,
    pub event_where: Option<String>,
    pub image: Option<PageImage>,
}

/// An announcement's picture on a page.
pub struct PageImage {
    /// Site-relative URL.
    pub url: String,
    pub alt: String,
}

impl Item {
    fn new(app: &Herold, a: &Announcement, category: &str, t: &Tr) -> Self {
        let local = a.publish_at.with_timezone(&app.config().tz());
        Self {
            title: a.title.clone(),
            url: format!("/announcements/{}", a.id),
            date: local.format(&t.get("page.date_format")).to_string(),
            category: category.to_owned(),
            urgent: a.urgent,
            html: render::to_html(&a.body),
            event_when: a
                .event
                .as_ref()
                .map(|e| render::event_when(&e.time, app.config().tz(), t.locale())),
            event_where: a.event.as_ref().and_then(|e| e.location.clone()),
            image: a.image.as_ref().map(|i| PageImage {
                url: format!("/{}", crate::service::image_path(i)),
                alt: i.alt.clone(),
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
    items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "announcement.html")]
struct AnnouncementPage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
    item: Item,
    corrects: Option<Item>,
    corrected_by: Vec<Item>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
}

fn html(result: Result<String, askama::Error>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The catalogue of the site's language.
pub(super) fn page_tr(app: &Herold) -> Tr {
    tr(app)
}

fn tr(app: &Herold) -> Tr {
    Tr::new(&app.config().default_locale)
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<crate::domain::Category>,
    record: crate::domain::ProcessingRecord,
}

/// `GET /privacy[?lang=en]`: the privacy notice residents read (Art. 13
/// GDPR), generated from the same record of processing activities the
/// data-protection officer keeps — so it is as current as the
/// configuration.
pub async fn privacy(
    app: web::Data<Herold>,
    query: web::Query<super::signup::LangQuery>,
) -> HttpResponse {
    let app = app.into_inner();
    let requested = query.into_inner().lang;
    let result = web::block(move || -> Result<String, crate::storage::StorageError> {
        let lang = super::signup::page_lang(&app, requested.as_deref());
        let page = PrivacyPage {
            record: app.processing_record(&lang),
            t: Tr::new(&lang),
            lang,
            site: app.config().site_name.clone(),
            categories: app.db().list_categories()?,
        };
        Ok(page.render().unwrap_or_default())
    })
    .await;
    match result {
        Ok(Ok(body)) => html(Ok(body)),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

/// Pages may be kept by browsers, but asked again each time (a 304 when
/// unchanged), so a correction is seen at once.
const PAGE_CACHE_CONTROL: &str = "public, no-cache";

/// `/`: recent announcements and feed links, from the cache of public
/// documents.
pub async fn index(
    req: HttpRequest,
    app: web::Data<Herold>,
    cache: web::Data<PublicCache>,
) -> HttpResponse {
    let herold = app.into_inner();
    let h = herold.clone();
    let found = cache
        .into_inner()
        .get_or_render(&herold, req.path(), move || render_index(&h).map(Some))
        .await;
    match found {
        Ok(Some(doc)) => doc.respond(&req),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::error!(error = %e, "index failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn render_index(app: &Herold) -> Result<Rendered, crate::service::ServiceError> {
    let t = tr(app);
    let rows = app.db().feed_announcements(&crate::storage::FeedQuery {
        category_id: None,
        now: Utc::now(),
        limit: 30,
    })?;
    let items = rows
        .iter()
        .map(|(a, c)| Item::new(app, a, &c.name, &t))
        .collect();
    let page = IndexPage {
        lang: app.config().default_locale.clone(),
        site: app.config().site_name.clone(),
        categories: app.db().list_categories()?,
        t,
        items,
    };
    Ok(Rendered {
        status: StatusCode::OK,
        content_type: HTML,
        cache_control: PAGE_CACHE_CONTROL,
        last_modified: crate::service::last_modified(&rows, None),
        body: page.render().map_err(template_failed)?,
    })
}

/// `/announcements/{id}`: one published announcement, from the cache of
/// public documents; a page saying so for anything else.
pub async fn announcement(
    req: HttpRequest,
    app: web::Data<Herold>,
    cache: web::Data<PublicCache>,
    id: web::Path<String>,
) -> HttpResponse {
    let herold = app.into_inner();
    let found = match id.into_inner().parse::<i64>() {
        Ok(id) => {
            let h = herold.clone();
            cache
                .into_inner()
                .get_or_render(&herold, req.path(), move || render_announcement(&h, id))
                .await
        }
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(doc)) => doc.respond(&req),
        Ok(None) => not_found(herold).await,
        Err(e) => {
            tracing::error!(error = %e, "announcement page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn render_announcement(
    app: &Herold,
    id: i64,
) -> Result<Option<Rendered>, crate::service::ServiceError> {
    let Some(p) = app.public_announcement(id, Utc::now())? else {
        return Ok(None);
    };
    let t = tr(app);
    let item = Item::new(app, &p.announcement, &p.category.name, &t);
    let corrects = p
        .corrects
        .as_ref()
        .map(|a| Item::new(app, a, &p.category.name, &t));
    let corrected_by = p
        .corrected_by
        .iter()
        .map(|a| Item::new(app, a, &p.category.name, &t))
        .collect();
    let last_modified = p
        .corrected_by
        .iter()
        .map(|a| a.publish_at)
        .fold(p.announcement.publish_at, DateTime::max);
    let page = AnnouncementPage {
        lang: app.config().default_locale.clone(),
        site: app.config().site_name.clone(),
        categories: app.db().list_categories()?,
        t,
        item,
        corrects,
        corrected_by,
    };
    Ok(Some(Rendered {
        status: StatusCode::OK,
        content_type: HTML,
        cache_control: PAGE_CACHE_CONTROL,
        last_modified,
        body: page.render().map_err(template_failed)?,
    }))
}

/// The "not found" page (not kept: anyone can ask for any number).
async fn not_found(app: std::sync::Arc<Herold>) -> HttpResponse {
    let result = web::block(move || -> Result<String, crate::service::ServiceError> {
        let page = NotFoundPage {
            lang: app.config().default_locale.clone(),
            site: app.config().site_name.clone(),
            t: tr(&app),
            categories: app.db().list_categories()?,
        };
        page.render().map_err(template_failed)
    })
    .await;
    match result {
        Ok(Ok(body)) => HttpResponse::NotFound().content_type(HTML).body(body),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "not-found page failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

const HTML: &str = "text/html; charset=utf-8";

fn template_failed(e: askama::Error) -> crate::service::ServiceError {
    crate::service::ServiceError::Render(format!("template failed: {e}"))
}
