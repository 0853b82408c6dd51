//! Public HTML pages: the overview and one page per announcement (the link
//! target of feed entries). Rendered with askama; all text through the
//! message catalogues.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;

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

/// `/`: recent announcements and feed links.
pub async fn index(app: web::Data<Herold>) -> HttpResponse {
    let app = app.into_inner();
    let result = web::block(move || -> Result<String, crate::service::ServiceError> {
        let t = tr(&app);
        let rows = app.db().feed_announcements(&crate::storage::FeedQuery {
            category_id: None,
            now: Utc::now(),
            limit: 30,
        })?;
        let items = rows
            .iter()
            .map(|(a, c)| Item::new(&app, a, &c.name, &t))
            .collect();
        let page = IndexPage {
            lang: app.config().default_locale.clone(),
            site: app.config().site_name.clone(),
            categories: app.db().list_categories()?,
            t,
            items,
        };
        Ok(page
            .render()
            .unwrap_or_else(|e| format!("template error: {e}")))
    })
    .await;
    match result {
        Ok(Ok(body)) => html(Ok(body)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "index failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `/announcements/{id}`: one published announcement.
pub async fn announcement(app: web::Data<Herold>, id: web::Path<String>) -> HttpResponse {
    let app = app.into_inner();
    let id = id.into_inner().parse::<i64>().ok();
    let result = web::block(
        move || -> Result<(bool, String), crate::service::ServiceError> {
            let t = tr(&app);
            let categories = app.db().list_categories()?;
            let lang = app.config().default_locale.clone();
            let site = app.config().site_name.clone();
            let found = match id {
                Some(id) => app.public_announcement(id, Utc::now())?,
                None => None,
            };
            let Some(p) = found else {
                let page = NotFoundPage {
                    lang,
                    site,
                    t,
                    categories,
                };
                return Ok((false, page.render().unwrap_or_default()));
            };
            let item = Item::new(&app, &p.announcement, &p.category.name, &t);
            let corrects = p
                .corrects
                .as_ref()
                .map(|a| Item::new(&app, a, &p.category.name, &t));
            let corrected_by = p
                .corrected_by
                .iter()
                .map(|a| Item::new(&app, a, &p.category.name, &t))
                .collect();
            let page = AnnouncementPage {
                lang,
                site,
                t,
                categories,
                item,
                corrects,
                corrected_by,
            };
            Ok((
                true,
                page.render()
                    .unwrap_or_else(|e| format!("template error: {e}")),
            ))
        },
    )
    .await;
    match result {
        Ok(Ok((true, body))) => html(Ok(body)),
        Ok(Ok((false, body))) => HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "announcement page failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
