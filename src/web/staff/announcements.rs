//! What has been published and what is on its way: the list of drafts,
//! scheduled and published announcements, each announcement's progress
//! per channel (streamed as server-sent events; without JavaScript the
//! page reloads itself), pausing, resuming and cancelling its broadcasts,
//! changing or withdrawing a scheduled one, and the manual channels' copy
//! with its "posted" confirmation.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use futures_util::stream;
use herold_channel_api::ChannelKind;
use serde::Deserialize;
use std::time::Duration;

use super::{
    act, service_failure, with_form_session, with_session, Chrome, CsrfOnly, Reply, SESSION_COOKIE,
};
use crate::{
    domain::{AnnouncementStatus, DraftState, Id, Permission},
    i18n::t,
    registry::Registry,
    service::{ChannelProgress, Herold},
    storage::{Control, StorageError},
};

/// How often the progress stream reports.
const TICK: Duration = Duration::from_secs(1);
/// How long one progress stream runs; the browser reconnects after it.
const STREAM_FOR: Duration = Duration::from_secs(300);

struct Row {
    id: Id,
    title: String,
    category: String,
    when: String,
    status: String,
}

struct DraftRow {
    id: Id,
    title: String,
    author: String,
    state: String,
}

#[derive(Template)]
#[template(path = "staff/announcements.html")]
struct ListPage {
    c: Chrome,
    notice: Option<String>,
    drafts: Vec<DraftRow>,
    rows: Vec<Row>,
}

struct ChannelRow {
    p: ChannelProgress,
    label: String,
    state: String,
    eta: String,
    controls: bool,
}

struct ManualRow {
    id: String,
    label: String,
    copy: String,
    posted: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/progress.html")]
struct ProgressPage {
    c: Chrome,
    id: Id,
    title: String,
    status: String,
    when: String,
    notice: Option<String>,
    scheduled: bool,
    finished: bool,
    channels: Vec<ChannelRow>,
    manual: Vec<ManualRow>,
    any_running: bool,
    any_paused: bool,
}

/// Which notice a page shows after a redirect.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(c: &Chrome, notice: Option<String>) -> Option<String> {
    notice
        .filter(|n| {
            [
                "published",
                "discarded",
                "cancelled",
                "controlled",
                "posted",
            ]
            .contains(&n.as_str())
        })
        .map(|n| c.t.get(&format!("announcements.notice.{n}")))
}

/// `GET /staff/announcements`.
pub async fn list(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = query.into_inner().notice;
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let c = Chrome::new(app, Some(session), &session.csrf_token);
        let tz = app.config().tz();
        let now = Utc::now();
        let drafts = app
            .db()
            .list_drafts()?
            .into_iter()
            .map(|d| DraftRow {
                id: d.id,
                title: if d.title.trim().is_empty() {
                    c.t.get("announcements.untitled")
                } else {
                    d.title
                },
                author: d.author,
                state: match d.state {
                    DraftState::Editing if d.replaces_id.is_some() => {
                        c.t.get("announcements.draft.change")
                    }
                    DraftState::Editing => c.t.get("announcements.draft.editing"),
                    DraftState::AwaitingApproval => c.t.get("announcements.draft.awaiting"),
                },
            })
            .collect();
        let rows = app
            .db()
            .list_announcements(100)?
            .into_iter()
            .map(|(a, cat)| {
                let status = a.status(now);
                Row {
                    id: a.id,
                    title: a.title,
                    category: cat.name,
                    when: a
                        .publish_at
                        .with_timezone(&tz)
                        .format("%d.%m.%Y %H:%M")
                        .to_string(),
                    status: c
                        .t
                        .get(&format!("announcements.status.{}", status.as_str())),
                }
            })
            .collect();
        let page = ListPage {
            notice: notice_text(&c, notice),
            drafts,
            rows,
            c,
        };
        Ok(Reply::html(
            StatusCode::OK,
            page.render().unwrap_or_default(),
        ))
    })
    .await
}

/// `GET /staff/announcements/{id}`: its progress on every channel.
pub async fn show(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<Id>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let id = path.into_inner();
    let notice = query.into_inner().notice;
    let registry = registry.into_inner();
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let (a, _) = match app.db().get_announcement(id) {
            Err(StorageError::NotFound { .. }) => return Ok(super::not_found(app, session)),
            r => r?,
        };
        let c = Chrome::new(app, Some(session), &session.csrf_token);
        let locale = c.lang.clone();
        let progress = match app.progress(id, &registry) {
            Ok(p) => p,
            Err(e) => return service_failure(app, session, e),
        };
        let channels: Vec<ChannelRow> = progress
            .channels
            .into_iter()
            .map(|p| ChannelRow {
                label: t(&locale, &format!("channel.{}", p.channel.as_str()), &[]),
                state: t(&locale, &format!("progress.state.{}", p.state), &[]),
                eta: eta(&locale, p.eta_seconds),
                controls: p.state == "active" || p.state == "paused",
                p,
            })
            .collect();
        let posts = app.db().manual_posts_of(id)?;
        let tz = app.config().tz();
        let mut manual = Vec::new();
        for post in posts {
            let copy = match app.manual_copy(id, &post.channel) {
                Ok(copy) => copy,
                // A manual channel removed from the configuration.
                Err(crate::service::ServiceError::UnknownManualChannel { .. }) => continue,
                Err(e) => return service_failure(app, session, e),
            };
            manual.push(ManualRow {
                label: t(
                    &locale,
                    "preview.manual",
                    &[(
                        "id",
                        app.manual_channel(&post.channel)
                            .map_or(post.channel.as_str(), |m| m.name.as_str()),
                    )],
                ),
                posted: post.posted_at.map(|at| {
                    t(
                        &locale,
                        "progress.posted_by",
                        &[
                            ("who", post.posted_by.as_deref().unwrap_or("")),
                            (
                                "when",
                                &at.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string(),
                            ),
                        ],
                    )
                }),
                id: post.channel,
                copy,
            });
        }
        let status = a.status(Utc::now());
        let page = ProgressPage {
            id,
            title: a.title,
            status: c
                .t
                .get(&format!("announcements.status.{}", status.as_str())),
            when: a
                .publish_at
                .with_timezone(&tz)
                .format("%d.%m.%Y %H:%M")
                .to_string(),
            notice: notice_text(&c, notice),
            scheduled: status == AnnouncementStatus::Scheduled,
            finished: progress.finished,
            any_running: channels.iter().any(|r| r.p.state == "active"),
            any_paused: channels.iter().any(|r| r.p.state == "paused"),
            channels,
            manual,
            c,
        };
        Ok(Reply::html(
            StatusCode::OK,
            page.render().unwrap_or_default(),
        ))
    })
    .await
}

/// "about 3 min" from seconds.
fn eta(locale: &str, seconds: Option<u64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 60 => t(
            locale,
            "progress.eta_seconds",
            &[("n", &s.max(1).to_string())],
        ),
        Some(s) => t(
            locale,
            "progress.eta_minutes",
            &[("n", &s.div_ceil(60).to_string())],
        ),
    }
}

/// `GET /staff/announcements/{id}/events`: the progress as server-sent
/// events, one a second, until every broadcast is done or cancelled.
pub async fn events(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<Id>,
) -> HttpResponse {
    let id = path.into_inner();
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let allowed = {
        let app = app.clone().into_inner();
        web::block(move || -> Result<bool, StorageError> {
            let Some(token) = token else { return Ok(false) };
            Ok(app
                .staff_session(&token, Utc::now())?
                .is_some_and(|s| s.user.role.may(Permission::Publish)))
        })
        .await
    };
    if !matches!(allowed, Ok(Ok(true))) {
        return HttpResponse::Forbidden().finish();
    }
    let app = app.into_inner();
    let registry = registry.into_inner();
    let started = tokio::time::Instant::now();
    let body = stream::unfold(false, move |done| {
        let app = app.clone();
        let registry = registry.clone();
        async move {
            if done || started.elapsed() > STREAM_FOR {
                return None;
            }
            let progress = web::block(move || app.progress(id, &registry)).await;
            let (event, finished) = match progress {
                Ok(Ok(p)) => (
                    format!(
                        "data: {}\n\n",
                        serde_json::to_string(&p).unwrap_or_default()
                    ),
                    p.finished,
                ),
                _ => ("event: failed\ndata: {}\n\n".to_owned(), true),
            };
            if !finished {
                tokio::time::sleep(TICK).await;
            }
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(event)), finished))
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// The form of the broadcast controls.
#[derive(Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    channel: String,
}

/// `POST /staff/announcements/{id}/control`: pause, resume or cancel its
/// broadcasts on one channel or all.
pub async fn control(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<ControlForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    with_form_session(
        app,
        &req,
        Permission::Publish,
        form.csrf.clone(),
        move |app, session| {
            let action = match form.action.as_str() {
                "pause" => Control::Pause,
                "resume" => Control::Resume,
                "cancel" => Control::Cancel,
                _ => return Ok(super::bad_request(app, session)),
            };
            let channel = match form.channel.as_str() {
                "" => None,
                c => match c.parse::<ChannelKind>() {
                    Ok(k) => Some(k),
                    Err(_) => return Ok(super::bad_request(app, session)),
                },
            };
            match app.control_broadcasts(id, channel, action, &session.user.username) {
                Ok(_) => Ok(Reply::redirect(&format!(
                    "/staff/announcements/{id}?notice=controlled"
                ))),
                Err(e) => service_failure(app, session, e),
            }
        },
    )
    .await
}

/// `POST /staff/announcements/{id}/edit`: a draft to change a scheduled
/// announcement.
pub async fn edit(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = path.into_inner();
    act(
        app,
        &req,
        Permission::Publish,
        form.into_inner().csrf,
        move |app, user| {
            let draft = app.edit_scheduled(id, &user.username)?;
            Ok(format!("/staff/drafts/{draft}"))
        },
    )
    .await
}

/// `POST /staff/announcements/{id}/cancel`: withdraws a scheduled
/// announcement.
pub async fn cancel(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = path.into_inner();
    act(
        app,
        &req,
        Permission::Publish,
        form.into_inner().csrf,
        move |app, user| {
            app.cancel_announcement(id, &user.username)?;
            Ok(format!("/staff/announcements/{id}?notice=cancelled"))
        },
    )
    .await
}

/// `POST /staff/announcements/{id}/manual/{channel}`: staff posted the
/// copy on the manual channel.
pub async fn posted(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<(Id, String)>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let (id, channel) = path.into_inner();
    act(
        app,
        &req,
        Permission::Publish,
        form.into_inner().csrf,
        move |app, user| {
            app.confirm_manual_post(id, &channel, &user.username)?;
            Ok(format!("/staff/announcements/{id}?notice=posted"))
        },
    )
    .await
}

/// `GET /staff/assets/{name}.js`: the staff pages' two scripts — the
/// progress page's live updates and the composer's live preview.
pub async fn script(name: web::Path<String>) -> HttpResponse {
    let body = match name.as_str() {
        "progress" => include_str!("../../../templates/staff/progress.js"),
        "compose" => include_str!("../../../templates/staff/compose.js"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=3600"))
        .body(body)
}
