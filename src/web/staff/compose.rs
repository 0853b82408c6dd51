//! Composing: the form (one multipart form with a button per action, so it
//! works without JavaScript), the preview of every channel from the
//! engine's renderer, publishing, four-eyes approval and discarding.

use actix_multipart::Multipart;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use herold_channel_api::Formatting;
use serde::Deserialize;

use super::{act, service_failure, with_form_session, with_session, Chrome, Reply};
use crate::{
    domain::{Draft, DraftFields, DraftState, Id, Permission, Problem},
    i18n::t,
    registry::Registry,
    render::preview::ChannelPreview,
    service::{DraftOutcome, Herold, ImageUpload},
    storage::{StaffSession, StorageError},
};

/// Largest text field of the form.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// One channel's preview as shown.
struct PreviewView {
    id: String,
    label: String,
    warnings: Vec<String>,
    /// The e-mail is shown in a sandboxed frame of its own.
    email_frame: bool,
    /// The message as the channel shows it (safe HTML from the renderer).
    html: String,
    count: String,
    image_alt: Option<String>,
    /// Outside the conversation window: the template's title, summary, link.
    template: Option<(String, String, String)>,
}

/// A problem as shown: the field's id and the message.
struct ProblemView {
    field: &'static str,
    message: String,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "staff/compose.html")]
struct ComposePage {
    c: Chrome,
    draft_id: Option<Id>,
    version: String,
    f: DraftFields,
    categories: Vec<Choice>,
    corrections: Vec<Choice>,
    has_image: bool,
    problems: Vec<ProblemView>,
    notice: Option<String>,
    awaiting: Option<String>,
    may_approve: bool,
    replaces: Option<Id>,
    page_preview: Option<(String, String)>,
    previews: Vec<PreviewView>,
    approval_needed: bool,
}

impl ComposePage {
    fn problem_for(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }
}

/// The compose form as received.
#[derive(Default)]
struct ComposeForm {
    csrf: String,
    action: String,
    draft: Option<Id>,
    fields: DraftFields,
    remove_image: bool,
    image: Option<(String, Vec<u8>)>,
    /// The picture was larger than allowed (not read to its end).
    image_too_large: bool,
}

fn message(locale: &str, p: &Problem) -> String {
    let args: Vec<(&str, &str)> = p.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t(locale, p.key, &args)
}

/// Reads the multipart form: text fields up to [`MAX_FIELD_BYTES`], the
/// picture up to `media.max_image_bytes`.
async fn read_form(mut payload: Multipart, max_image: usize) -> Result<ComposeForm, String> {
    let mut form = ComposeForm::default();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| e.to_string())?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let limit = if name == "image" {
            max_image
        } else {
            MAX_FIELD_BYTES
        };
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if bytes.len() + chunk.len() > limit {
                too_large = true;
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "image" {
            if too_large {
                form.image_too_large = true;
            } else if !bytes.is_empty() {
                form.image = Some((file_name.unwrap_or_else(|| "image".into()), bytes));
            }
            continue;
        }
        if too_large {
            return Err(format!(
                "field {name} is longer than {MAX_FIELD_BYTES} bytes"
            ));
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let f = &mut form.fields;
        match name.as_str() {
            "csrf" => form.csrf = text,
            "action" => form.action = text,
            "draft" => form.draft = text.trim().parse().ok(),
            "category" => f.category = text,
            "title" => f.title = text,
            "body" => f.body = text.replace("\r\n", "\n"),
            "urgent" => f.urgent = true,
            "schedule" => f.schedule = text,
            "event_start" => f.event_start = text,
            "event_end" => f.event_end = text,
            "event_location" => f.event_location = text,
            "corrects" => f.corrects_id = text.trim().parse().ok(),
            "image_alt" => f.image_alt = text,
            "remove_image" => form.remove_image = true,
            _ => {}
        }
    }
    Ok(form)
}

/// `GET /staff/compose`: an empty form.
pub async fn new_form(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
) -> HttpResponse {
    let registry = registry.into_inner();
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        page(app, &registry, session, None, Vec::new(), None)
    })
    .await
}

/// `GET /staff/drafts/{id}`: the draft with its problems and previews.
pub async fn show(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<Id>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let registry = registry.into_inner();
    let id = path.into_inner();
    let q = query.into_inner();
    let notice = match q.notice.as_deref() {
        Some("tested") if q.failed == 0 => Some(format!("tested:{}", q.n)),
        Some("tested") => Some(format!("test_failed:{}:{}", q.n, q.failed)),
        _ => q.notice,
    };
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let draft = match app.db().get_draft(id) {
            Err(StorageError::NotFound { .. }) => return Ok(super::not_found(app, session)),
            r => r?,
        };
        page(app, &registry, session, Some(&draft), Vec::new(), notice)
    })
    .await
}

/// Which notice a page shows after a redirect.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
    /// After a test send: messages sent and failed.
    #[serde(default)]
    n: usize,
    #[serde(default)]
    failed: usize,
}

/// `POST /staff/compose`: saves the draft, then previews, publishes or
/// asks for approval, as the button pressed says.
pub async fn save(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
    payload: Multipart,
) -> HttpResponse {
    let max_image = usize::try_from(app.config().media.max_image_bytes).unwrap_or(usize::MAX);
    let form = match read_form(payload, max_image).await {
        Ok(f) => f,
        Err(e) => {
            tracing::info!(error = %e, "compose form refused");
            return HttpResponse::BadRequest().body(format!("{e}\n"));
        }
    };
    let registry = registry.into_inner();
    let csrf = form.csrf.clone();
    with_form_session(app, &req, Permission::Publish, csrf, move |app, session| {
        let actor = session.user.username.clone();
        let image = match (form.image, form.remove_image) {
            (Some((name, bytes)), _) => ImageUpload::New { name, bytes },
            (None, true) => ImageUpload::Remove,
            (None, false) => ImageUpload::Keep,
        };
        let saved = match app.save_draft(form.draft, &actor, &form.fields, image) {
            Ok(s) => s,
            Err(e) => return service_failure(app, session, e),
        };
        let mut problems: Vec<Problem> = saved.image_problem.into_iter().collect();
        if form.image_too_large {
            problems.push(
                Problem::new("image", "compose.error.image_too_large")
                    .with("max", app.config().media.max_image_bytes / 1024),
            );
        }
        let draft = app.db().get_draft(saved.id)?;
        if form.action == "publish" && problems.is_empty() {
            return match app.publish_draft(draft.id, &actor, draft.updated_at) {
                Ok(DraftOutcome::Published(a)) => Ok(Reply::redirect(&format!(
                    "/staff/announcements/{}?notice=published",
                    a.id
                ))),
                Ok(DraftOutcome::AwaitingApproval) => Ok(Reply::redirect(&format!(
                    "/staff/drafts/{}?notice=submitted",
                    draft.id
                ))),
                Err(crate::service::ServiceError::Draft(p)) => {
                    page(app, &registry, session, Some(&draft), p, None)
                }
                Err(e) => service_failure(app, session, e),
            };
        }
        if problems.is_empty() {
            return Ok(Reply::redirect(&format!(
                "/staff/drafts/{}?notice=saved#preview",
                draft.id
            )));
        }
        page(app, &registry, session, Some(&draft), problems, None)
    })
    .await
}

/// The form of the approve and discard buttons.
#[derive(Deserialize)]
pub struct DraftAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
}

/// `POST /staff/drafts/{id}/approve`: a second editor releases the draft.
pub async fn approve(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<DraftAction>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    act(
        app,
        &req,
        Permission::Publish,
        form.csrf,
        move |app, user| {
            let seen = DateTime::<Utc>::from_timestamp_micros(form.version).unwrap_or_default();
            let a = app.approve_draft(id, &user.username, seen)?;
            Ok(format!("/staff/announcements/{}?notice=published", a.id))
        },
    )
    .await
}

/// `POST /staff/drafts/{id}/test`: the draft, rendered for each channel,
/// to the editor's own confirmed test recipients at once.
pub async fn test_send(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    runtime: web::Data<tokio::runtime::Handle>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<DraftAction>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    let registry = registry.into_inner();
    let runtime = runtime.into_inner();
    with_form_session(
        app,
        &req,
        Permission::Publish,
        form.csrf,
        move |app, session| {
            let draft = match app.db().get_draft(id) {
                Err(StorageError::NotFound { .. }) => return Ok(super::not_found(app, session)),
                r => r?,
            };
            let messages = match app.test_messages(&draft, &session.user, &registry) {
                Ok(m) => m,
                Err(crate::service::ServiceError::Draft(p)) => {
                    return page(app, &registry, session, Some(&draft), p, None)
                }
                Err(e) => return service_failure(app, session, e),
            };
            let total = messages.len();
            // On the process's runtime, where the adapters' connections live
            // (this is a blocking-pool thread, so waiting here is fine).
            let failed = runtime.block_on(async {
                let mut failed = 0usize;
                for m in messages {
                    let sent =
                        crate::engine::send_transactional(app, &m.channel, &m.to, &m.message).await;
                    if let Err(e) = sent {
                        tracing::warn!(channel = %m.channel.kind(), error = %e, "test send failed");
                        failed += 1;
                    }
                }
                failed
            });
            Ok(Reply::redirect(&format!(
                "/staff/drafts/{id}?notice=tested&n={}&failed={failed}#preview",
                total - failed
            )))
        },
    )
    .await
}

/// `POST /staff/drafts/{id}/discard`.
pub async fn discard(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<DraftAction>,
) -> HttpResponse {
    let id = path.into_inner();
    act(
        app,
        &req,
        Permission::Publish,
        form.into_inner().csrf,
        move |app, user| {
            app.discard_draft(id, &user.username)?;
            Ok("/staff/announcements?notice=discarded".to_owned())
        },
    )
    .await
}

/// `GET /staff/drafts/{id}/image`: the draft's picture, for its preview.
pub async fn image(app: web::Data<Herold>, req: HttpRequest, path: web::Path<Id>) -> HttpResponse {
    let id = path.into_inner();
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let draft = match app.db().get_draft(id) {
            Err(StorageError::NotFound { .. }) => return Ok(super::not_found(app, session)),
            r => r?,
        };
        let Some(image) = draft.image else {
            return Ok(super::not_found(app, session));
        };
        Ok(Reply::bytes(image.format.mime_type(), image.bytes))
    })
    .await
}

/// `GET /staff/drafts/{id}/email`: the e-mail as residents' mail programs
/// show it, for the preview's frame.
pub async fn email(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<Id>,
) -> HttpResponse {
    let id = path.into_inner();
    let registry = registry.into_inner();
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let draft = match app.db().get_draft(id) {
            Err(StorageError::NotFound { .. }) => return Ok(super::not_found(app, session)),
            r => r?,
        };
        let targets = app.preview_targets(&registry);
        let image_url = format!("/staff/drafts/{id}/image");
        let html = match app.preview_draft(&draft, &targets, &image_url) {
            Ok(Ok((_, previews))) => previews
                .into_iter()
                .find(|p| p.formatting == Formatting::Html)
                .and_then(|p| p.message.html),
            Ok(Err(_)) => None,
            Err(e) => return service_failure(app, session, e),
        };
        let Some(html) = html else {
            return Ok(super::not_found(app, session));
        };
        Ok(Reply::framed_html(html))
    })
    .await
}

/// The compose page for `draft` (or a new one) with `problems` from the
/// last save.
fn page(
    app: &Herold,
    registry: &Registry,
    session: &StaffSession,
    draft: Option<&Draft>,
    mut problems: Vec<Problem>,
    notice: Option<String>,
) -> Result<Reply, StorageError> {
    let c = Chrome::new(app, Some(session), &session.csrf_token);
    let locale = c.lang.clone();
    let mut previews = Vec::new();
    let mut page_preview = None;
    let mut approval_needed = false;
    if let Some(d) = draft {
        approval_needed = app.db().category_requires_approval(&d.fields.category)?;
        let targets = app.preview_targets(registry);
        let image_url = format!("/staff/drafts/{}/image", d.id);
        match app.preview_draft(d, &targets, &image_url) {
            Ok(Ok((a, list))) => {
                page_preview = Some((a.title.clone(), crate::render::to_html(&a.body)));
                previews = list
                    .into_iter()
                    .map(|p| preview_view(app, &locale, p))
                    .collect();
            }
            Ok(Err(p)) => {
                for p in p {
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
            Err(crate::service::ServiceError::Storage(e)) => return Err(e),
            Err(e) => tracing::error!(error = %e, "preview failed"),
        }
    }
    let categories = app
        .db()
        .list_categories()?
        .into_iter()
        .map(|cat| Choice {
            selected: draft.is_some_and(|d| d.fields.category == cat.slug.as_str()),
            value: cat.slug.to_string(),
            label: cat.name,
        })
        .collect();
    let now = Utc::now();
    let corrections = app
        .db()
        .list_announcements(50)?
        .into_iter()
        .filter(|(a, _)| a.status(now) == crate::domain::AnnouncementStatus::Published)
        .map(|(a, _)| Choice {
            selected: draft.and_then(|d| d.fields.corrects_id) == Some(a.id),
            value: a.id.to_string(),
            label: format!(
                "{} ({})",
                a.title,
                a.publish_at
                    .with_timezone(&app.config().tz())
                    .format("%d.%m.%Y")
            ),
        })
        .collect();
    let notice = notice.map(|n| {
        let parts: Vec<&str> = n.split(':').collect();
        match parts.as_slice() {
            ["saved"] => c.t.get("compose.notice.saved"),
            ["submitted"] => c.t.get("compose.notice.submitted"),
            ["tested", n] => t(&locale, "compose.notice.tested", &[("n", n)]),
            ["test_failed", n, f] => t(
                &locale,
                "compose.notice.test_failed",
                &[("n", n), ("failed", f)],
            ),
            _ => String::new(),
        }
    });
    let awaiting = draft
        .filter(|d| d.state == DraftState::AwaitingApproval)
        .map(|d| {
            t(
                &locale,
                "compose.awaiting",
                &[("who", d.submitted_by.as_deref().unwrap_or(&d.author))],
            )
        });
    let me = session.user.username.as_str();
    let may_approve = draft.is_some_and(|d| {
        d.state == DraftState::AwaitingApproval
            && d.author != me
            && d.submitted_by.as_deref() != Some(me)
    });
    let problems = problems
        .iter()
        .map(|p| ProblemView {
            field: p.field,
            message: message(&locale, p),
        })
        .collect();
    let page = ComposePage {
        draft_id: draft.map(|d| d.id),
        version: draft
            .map(|d| d.updated_at.timestamp_micros().to_string())
            .unwrap_or_default(),
        f: draft.map(|d| d.fields.clone()).unwrap_or_default(),
        has_image: draft.is_some_and(|d| d.image.is_some()),
        replaces: draft.and_then(|d| d.replaces_id),
        categories,
        corrections,
        problems,
        notice: notice.filter(|n| !n.is_empty()),
        awaiting,
        may_approve,
        page_preview,
        previews,
        approval_needed,
        c,
    };
    let status = if page.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(Reply::html(status, page.render().unwrap_or_default()))
}

/// How one channel's preview is shown.
fn preview_view(app: &Herold, locale: &str, p: ChannelPreview) -> PreviewView {
    let label = match p.id.strip_prefix("manual:") {
        Some(m) => {
            let name = app.manual_channel(m).map_or(m, |c| c.name.as_str());
            t(locale, "preview.manual", &[("id", name)])
        }
        None => t(locale, &format!("channel.{}", p.id), &[]),
    };
    let warnings = p
        .warnings
        .iter()
        .map(|w| {
            let args: Vec<(&str, &str)> = w.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t(locale, w.key, &args)
        })
        .collect();
    let html = match p.formatting {
        // The renderer escapes everything it did not write itself.
        Formatting::TelegramHtml => p.message.text.clone(),
        Formatting::MatrixHtml => p.message.html.clone().unwrap_or_default(),
        Formatting::Html => String::new(),
        Formatting::WhatsApp | Formatting::Plain => {
            crate::render::format::html_lines(&p.message.text)
        }
    };
    let count = match p.max_chars {
        Some(max) => t(
            locale,
            "preview.count_of",
            &[("n", &p.chars.to_string()), ("max", &max.to_string())],
        ),
        None => t(locale, "preview.count", &[("n", &p.chars.to_string())]),
    };
    PreviewView {
        label,
        warnings,
        email_frame: p.formatting == Formatting::Html,
        html,
        count,
        image_alt: p.message.media.first().and_then(|m| m.caption.clone()),
        template: p.template.map(|f| (f.title, f.summary, f.link)),
        id: p.id.replace(':', "-"),
    }
}
